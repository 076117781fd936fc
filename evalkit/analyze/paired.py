"""Paired comparisons of two cells on the same problems x seeds, and multiplicity corrections."""

from __future__ import annotations

import itertools
from typing import cast

import numpy as np
from scipy import stats

from evalkit.analyze.clustered import accuracy_interval, paired_interval
from evalkit.analyze.intervals import Interval, TestResult, wilson_rate
from evalkit.analyze.validate import confidence_level, outcomes, paired_outcomes

SMALL_GROUP = 30  # problems: below this, a group's interval assumes fully correlated seeds


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-unit differences of two cells on the units both have (NaN elsewhere)."""
    a2, b2 = paired_outcomes(a, b)
    return cast("np.ndarray", a2 - b2)


def paired_difference(a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95) -> Interval:
    """Mean over problems of (a - b) on the same problems, using the units both cells have, with the
    paired score interval on the clustered effective n (:func:`paired_interval`; estimand: population
    of problems). Calibration: benchmarks/calibration.py and benchmarks/calibration_search.py.
    (Until evalkit 0.1 this was a two-level bootstrap, which counted seed noise twice; until 0.2 the
    paired t, which under-covered when cells share most outcomes: ``benchmarks/design_results.md``.)"""
    return paired_interval(a, b, confidence)


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Exact McNemar test for one sample per problem: binomial test on the discordant pairs. More than
    one seed per problem is refused: the pairs of one problem are not independent (the type-I error
    that costs: ``benchmarks/design_results.md``); use :func:`paired_t_test`. Outcomes must be 0/1
    (a fraction or NaN is refused, as everywhere in :mod:`evalkit.analyze`).

    Raises
    ------
    ValueError
        More than one sample per problem, vectors of unequal length, or outcomes that are not 0/1.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if (a.ndim == 2 and a.shape[1] > 1) or a.ndim > 2:
        raise ValueError(f"McNemar needs one sample per problem, got shape {a.shape}: the seeds of a problem are "
                         "not independent pairs; use paired_t_test (problem-level) instead")
    if a.size != b.size:
        raise ValueError("McNemar needs paired vectors of equal length")
    a2, b2 = paired_outcomes(a.reshape(-1, 1), b.reshape(-1, 1), binary=True)
    x, y = a2[:, 0].astype(bool), b2[:, 0].astype(bool)
    n01 = int(np.sum(x & ~y))
    n10 = int(np.sum(~x & y))
    n = n01 + n10
    p = 1.0 if n == 0 else float(stats.binomtest(n01, n, 0.5).pvalue)
    return TestResult(float(n01 - n10), p, "exact McNemar", len(x), {"a_only": n01, "b_only": n10})


def sign_flip_test(a: np.ndarray, b: np.ndarray, *, n_perm: int = 20_000, seed: int = 0,
                   exact_max_problems: int = 20) -> TestResult:
    """Problem-level sign-flip permutation test of mean(a - b) = 0 (two-sided), on the units both cells
    have.

    Under H0 each problem's mean difference is symmetric about 0; all 2^P flips are enumerated when
    P <= ``exact_max_problems``, else ``n_perm`` random flips (p-value with the +1 correction).
    """
    d = np.nanmean(_pair(a, b), axis=1)
    P = len(d)
    t = abs(float(d.mean()))
    if exact_max_problems >= P:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=P)))
        null = np.abs(signs @ d / P)
        p = float(np.mean(null >= t - 1e-12))
        method = "sign-flip permutation (exact)"
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((1.0, -1.0), size=(n_perm, P))
        null = np.abs(signs @ d / P)
        p = float((np.sum(null >= t - 1e-12) + 1) / (n_perm + 1))
        method = "sign-flip permutation (Monte Carlo)"
    return TestResult(float(d.mean()), p, method, P, {"n_perm": None if exact_max_problems >= P else n_perm})


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error). NaN p-values are refused, as
    :func:`benjamini_hochberg` refuses them (a NaN would silently count into m)."""
    p = np.asarray(pvalues, dtype=float)
    if np.any(np.isnan(p)):
        raise ValueError("p-values contain NaN")
    m = len(p)
    order = np.argsort(p)
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), via scipy."""
    return cast("np.ndarray", stats.false_discovery_control(np.asarray(pvalues, dtype=float), method="bh"))


def subset_difference(correct: np.ndarray, keep: np.ndarray, *, confidence: float = 0.95) -> Interval:
    """Accuracy on a subset of the problems (``keep``) minus accuracy on all of them.

    Estimand: mean over kept problems of each problem's accuracy, minus the mean over all problems,
    for the population of problems, given which problems the exclusion list names (a fixed design):
    ``(1 - K/P) * (mean_kept - mean_excluded)``, a difference of two independent means. Interval:
    Newcombe's MOVER combination of the two groups' problem-clustered score intervals
    (:func:`accuracy_interval`), scaled by ``1 - K/P``. A side with fewer than ``SMALL_GROUP`` problems
    takes the worst case of fully correlated seeds (Wilson on its number of problems): the spread of a
    few skewed problem means cannot be estimated (``benchmarks/design_results.md``). So with fewer than
    30 excluded problems the interval is conservative (benchmarks/calibration.py,
    benchmarks/calibration_search.py).

    Parameters
    ----------
    correct
        ``correct[problem, seed(, sample)]``: outcomes in [0, 1], NaN for a missing unit.
    keep
        One boolean per problem: the subset (the problems an exclude list does not name).
    confidence
        The level, in (0, 1).

    Returns
    -------
    Interval
        Subset accuracy minus full accuracy and its bounds (0 with zero width when the subset is every
        problem).

    Raises
    ------
    ValueError
        ``keep`` of the wrong shape, an empty subset, or outcomes outside [0, 1].
    """
    confidence = confidence_level(confidence)
    c = outcomes(correct, name="correct")
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (c.shape[0],):
        raise ValueError(f"keep must have one entry per problem ({c.shape[0]}), got shape {keep.shape}")
    if not keep.any():
        raise ValueError("the subset is empty")
    pm = np.nanmean(c, axis=1)
    P, K = len(pm), int(keep.sum())
    theta = float(pm[keep].mean() - pm.mean())
    if K == P:
        return Interval(0.0, 0.0, 0.0, confidence, "subset is every problem", P, {"kept": K})

    def group(rows: np.ndarray) -> Interval:
        if rows.shape[0] >= SMALL_GROUP:
            return accuracy_interval(rows, confidence)
        # fewer problems than that: their spread is too uncertain to estimate (6 skewed problem means
        # covered 0.87), so the worst case of fully correlated seeds: Wilson on the number of problems
        m = float(np.mean(np.nanmean(rows, axis=1)))
        return wilson_rate(min(max(m, 0.0), 1.0), rows.shape[0], confidence)

    a, b = group(c[keep]), group(c[~keep])
    ma, mb = float(pm[keep].mean()), float(pm[~keep].mean())
    f = 1 - K / P
    d = ma - mb
    lo = d - np.sqrt((ma - a.low) ** 2 + (b.high - mb) ** 2)
    hi = d + np.sqrt((a.high - ma) ** 2 + (mb - b.low) ** 2)
    return Interval(theta, float(f * lo), float(f * hi), confidence,
                    "MOVER (Newcombe) on kept vs excluded problems' clustered score intervals", P,
                    {"kept": K, "se": float(f * (hi - lo) / (2 * stats.norm.isf((1 - confidence) / 2))),
                     "estimand": "population of problems, given the exclusion list"})
