"""Sequential and parallel families of a sweep as (problem, seed) arrays of accuracy and compute: what
the matched-compute claim and the report's comparison pass to :func:`evalkit.analyze.matched_compute`."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from evalkit.analyze import MatchedComparison, VoteMatrices, matched_compute, vote_matrices
from evalkit.records import cap_label
from evalkit.store import Col, Samples


def vote_sizes(n: int) -> list[int]:
    """The k of maj@k reported for n samples: powers of two below n, and n."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n]


def vote_matrices_of(g: Samples, ks: list[int], problems: list[Any] | None = None,
                     seeds: list[Any] | None = None) -> VoteMatrices:
    """:func:`evalkit.analyze.vote_matrices` of one parallel cell's rows (best-of-k where every row of a
    (problem, seed) has a verifier score)."""
    scores = g.verifier_score.to_numpy(dtype=float, na_value=np.nan) if g.has(Col.VERIFIER_SCORE) else None
    classes = g.answer_class.to_numpy(dtype=float, na_value=np.nan)
    return vote_matrices(g.problem_id.to_numpy(), g.seed.to_numpy(), classes, g.correct.to_numpy(), ks,
                         scores=scores, problems=problems, seeds=seeds)


TOKENS = "tokens"  # compute as generated tokens (the other choices are FLOPs columns)
X_CHOICES = (Col.FLOPS_PREFIX_CACHED, Col.FLOPS_NAIVE, Col.FLOPS_KV_READ, TOKENS)


def default_x(df: pd.DataFrame | Samples) -> str:
    """The compute measure of a comparison: FLOPs under prefix caching where every row has them,
    generated tokens otherwise."""
    return Col.FLOPS_PREFIX_CACHED if Samples.of(df).flops_prefix_cached.notna().all() else TOKENS


def _seq_arrays(seq: Samples, x: str, pidx: dict[Any, int], sidx: dict[Any, int], out: dict[str, Any]) -> None:
    """Accuracy and compute of every complete sequential cell, appended to ``out``."""
    shape = (len(pidx), len(sidx))
    for _cid, g in seq.by_cell():
        g = g.where(g.problem_id.isin(pidx) & g.seed.isin(sidx))
        acc, xs = np.full(shape, np.nan), np.full(shape, np.nan)
        for r in g.frame.itertuples():
            i, j = pidx[r.problem_id], sidx[r.seed]
            acc[i, j] = float(r.correct)
            xs[i, j] = float(r.thinking_tokens + r.forced_tokens + r.answer_tokens) if x == TOKENS else getattr(r, x)
        if np.isnan(acc).any():
            continue  # incomplete cell
        first = g.cell
        out["seq_acc"].append(acc)
        out["seq_x"].append(xs)
        out["seq_labels"].append(f"cap {cap_label(first.cap)}, ignore {first.n_ignore}")


def _vote_compute(rows: Samples, x: str, k: int, n: int) -> float:
    """Compute of a k-vote of one (problem, seed): k samples' own tokens plus, under prefix caching,
    the prompt once."""
    if x == TOKENS:
        return cast("float", k * rows.new_tokens().mean())
    prompt = rows.flops_prompt.iloc[0]
    own = (rows.flops_naive - rows.flops_prompt).mean()
    if x == Col.FLOPS_NAIVE:
        return cast("float", k * (prompt + own))
    shared = (rows.flops_prefix_cached - (rows.flops_naive - rows.flops_prompt)).iloc[0] * n
    kv = (rows.flops_kv_read - rows.flops_prefix_cached).mean() if x == Col.FLOPS_KV_READ else 0.0
    return cast("float", shared + k * (own + kv))


def family_arrays(df: pd.DataFrame | Samples, x: str = Col.FLOPS_PREFIX_CACHED) -> dict[str, Any]:
    """(problem, seed) arrays of accuracy and compute for every sequential cell and every k of each
    parallel cell. Compute of a k-vote: k samples' own tokens plus, under prefix caching, the prompt
    once per problem (as for a sequential cell)."""
    if x not in X_CHOICES:
        raise ValueError(f"x must be one of {X_CHOICES}")
    samples = Samples.of(df)
    if x != TOKENS and samples.column(x).isna().any():
        raise ValueError(f"{x} is missing for some rows (no FLOPs model for the sweep's model); use x=tokens")
    seq = samples.of_method("sequential")
    par = samples.of_method("parallel")
    problems = sorted(set(seq.problem_id) & set(par.problem_id))
    seeds = sorted(set(seq.seed) & set(par.seed))
    if not problems or not seeds:
        raise ValueError("the sweep needs a sequential and a parallel family on the same problems and seeds")
    pidx = {p: i for i, p in enumerate(problems)}
    sidx = {s: i for i, s in enumerate(seeds)}
    shape = (len(problems), len(seeds))
    out = {"seq_acc": [], "seq_x": [], "seq_labels": [], "par_acc": [], "par_x": [], "par_labels": [],
           "problems": problems, "seeds": seeds}
    _seq_arrays(seq, x, pidx, sidx, out)
    for _cid, g in par.by_cell():
        n = g.cell.n_samples
        ks = vote_sizes(n)
        votes = vote_matrices_of(g, ks, problems, seeds)
        if not (votes.samples > 0).all():
            continue
        units = {key: rows for key, rows in g.by(Col.PROBLEM_ID, Col.SEED) if key[0] in pidx and key[1] in sidx}
        for k in ks:
            acc = votes.maj[k]
            if np.isnan(acc).any():
                raise ValueError(f"maj@{k} of {n}: some (problem, seed) has fewer than {k} samples")
            xs = np.full(shape, np.nan)
            for (pid, s), rows in units.items():
                xs[pidx[pid], sidx[s]] = _vote_compute(rows, x, k, n)
            out["par_acc"].append(acc)
            out["par_x"].append(xs)
            out["par_labels"].append(f"maj@{k} of {n}")
    return out


def compare(
    df: pd.DataFrame | Samples, x: str = Col.FLOPS_PREFIX_CACHED, n_boot: int = 2_000
) -> tuple[MatchedComparison, dict[str, Any]]:
    arrs = family_arrays(df, x)
    if not arrs["seq_acc"] or not arrs["par_acc"]:
        raise ValueError("need at least one complete sequential cell and one complete parallel cell")
    return matched_compute(arrs["seq_acc"], arrs["seq_x"], arrs["par_acc"], arrs["par_x"], n_boot=n_boot), arrs
