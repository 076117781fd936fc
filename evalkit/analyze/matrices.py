"""Descriptive arithmetic on outcome matrices: the means every report, figure, claim and stop rule reads, and
the vote matrices of a parallel cell. Pure numpy, no interval and no test here (those take these matrices).

An outcome matrix is ``outcomes[problem, seed]``: a problem's mean correctness at a seed (over its samples),
NaN where the unit is missing. Every mean below weights problems equally, as evalkit's accuracy does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.analyze.passk import best_of_k, maj_at_k_problems, pass_at_k


def _matrix(outcomes: np.ndarray) -> np.ndarray:
    c = np.asarray(outcomes, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"expected outcomes[problem, seed], got shape {np.shape(outcomes)}")
    return c


def per_seed_accuracy(outcomes: np.ndarray) -> np.ndarray:
    """Accuracy at each seed: the mean over the problems the seed has (NaN for a seed with none).

    Parameters
    ----------
    outcomes : array ``[problem, seed]``, NaN for a missing unit.

    Returns
    -------
    array ``[seed]``.
    """
    return _nanmean_or_nan(_matrix(outcomes), axis=0)


def problem_accuracy(outcomes: np.ndarray) -> np.ndarray:
    """Accuracy of each problem: the mean over the seeds it has (NaN for a problem with none).

    Parameters
    ----------
    outcomes : array ``[problem, seed]``, NaN for a missing unit.

    Returns
    -------
    array ``[problem]``.
    """
    return _nanmean_or_nan(_matrix(outcomes), axis=1)


def mean_accuracy(outcomes: np.ndarray) -> float:
    """evalkit's accuracy: the mean over problems, each weighted equally, of its mean over its seeds.

    Parameters
    ----------
    outcomes : array ``[problem, seed]``, NaN for a missing unit; every problem has a unit.

    Returns
    -------
    float
    """
    pm = problem_accuracy(outcomes)
    if np.isnan(pm).any():
        raise ValueError(f"outcomes: {int(np.isnan(pm).sum())} problems have no observation")
    return float(np.mean(pm))


def complete_seeds(outcomes: np.ndarray) -> np.ndarray:
    """The columns (seeds) every problem has: ``outcomes[:, seeds without a missing unit]``."""
    c = _matrix(outcomes)
    return c[:, ~np.isnan(c).any(axis=0)]


def _nanmean_or_nan(c: np.ndarray, axis: int) -> np.ndarray:
    """``np.nanmean`` (the same sum and count, so the same floats) without its warning on an all-NaN
    slice, which is NaN as there."""
    n = np.sum(~np.isnan(c), axis=axis)
    total = np.nansum(c, axis=axis)
    out = np.full(n.shape, np.nan)
    np.divide(total, n, out=out, where=n > 0)
    return out


@dataclass(frozen=True)
class VoteMatrices:
    """The votes of a parallel cell as ``[problem, seed]`` arrays per k: maj@k, pass@k and best-of-k of each
    (problem, seed)'s samples. NaN where the unit is missing or has fewer than k samples; best-of-k also
    where a sample of the unit has no score (and everywhere without scores)."""

    problems: tuple[Any, ...]  # the rows, in order
    seeds: tuple[Any, ...]  # the columns, in order
    samples: np.ndarray  # [problem, seed]: samples of the unit (0: missing)
    maj: dict[int, np.ndarray]
    pass_k: dict[int, np.ndarray]
    best: dict[int, np.ndarray]


def vote_of(answer_class: Sequence[float | None], correct: Sequence[bool]) -> tuple[list[int | None], int | None]:
    """One vote's samples as :func:`maj_at_k_problems` takes them: each sample's answer class (None: no
    answer; NaN counts as none) and the class of the correct answer (the smallest class of a correct
    sample; None when no sample is correct)."""
    labels = [None if x is None or x != x else int(x) for x in answer_class]
    good = [lab for lab, ok in zip(labels, correct, strict=True) if ok and lab is not None]
    return labels, min(good) if good else None


def vote_matrices(problem: Sequence[Any], seed: Sequence[Any], answer_class: Sequence[float | None],
                  correct: Sequence[bool], ks: Sequence[int], *, scores: Sequence[float] | None = None,
                  problems: Sequence[Any] | None = None, seeds: Sequence[Any] | None = None) -> VoteMatrices:
    """maj@k (:func:`maj_at_k_problems`), pass@k (:func:`pass_at_k`) and best-of-k (:func:`best_of_k`) of every
    (problem, seed) of a parallel cell, from its samples' columns.

    Parameters
    ----------
    problem, seed, answer_class, correct : one entry per sample (``answer_class`` NaN or None: no answer).
    ks : the vote sizes.
    scores : a verifier's score per sample (NaN: none), for best-of-k.
    problems, seeds : the rows and columns (default: the sorted distinct values); samples of others are left out.

    Returns
    -------
    VoteMatrices
    """
    rows = list(problems) if problems is not None else sorted(set(np.asarray(problem).tolist()))
    cols = list(seeds) if seeds is not None else sorted(set(np.asarray(seed).tolist()))
    pidx, sidx = {p: i for i, p in enumerate(rows)}, {s: j for j, s in enumerate(cols)}
    units: dict[tuple[int, int], list[int]] = {}
    for r, (p, s) in enumerate(zip(np.asarray(problem).tolist(), np.asarray(seed).tolist(), strict=True)):
        if p in pidx and s in sidx:
            units.setdefault((pidx[p], sidx[s]), []).append(r)
    cls, ok = list(answer_class), [bool(x) for x in correct]
    sc = None if scores is None else np.asarray(scores, dtype=float)
    shape = (len(rows), len(cols))
    n = np.zeros(shape, dtype=int)
    votes = {}
    for (i, j), idx in units.items():
        n[i, j] = len(idx)
        votes[i, j] = vote_of([cls[r] for r in idx], [ok[r] for r in idx])
    maj, pk, best = {}, {}, {}
    for k in ks:
        maj[k], pk[k], best[k] = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        big = [u for u in units if n[u] >= k]
        if big:
            at = tuple(np.array(big).T)
            maj[k][at] = maj_at_k_problems([votes[u][0] for u in big], [votes[u][1] for u in big], k)
        for u in big:
            pk[k][u] = pass_at_k(int(n[u]), sum(ok[r] for r in units[u]), k)
            if sc is not None and not np.isnan(sc[units[u]]).any():
                best[k][u] = best_of_k(sc[units[u]], [ok[r] for r in units[u]], k)
    return VoteMatrices(tuple(rows), tuple(cols), n, maj, pk, best)
