"""Sequential vs parallel at matched compute: arrays from a results frame, a table and a figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.analyze import MatchedComparison, matched_compute
from evalkit.records import cap_label
from evalkit.report.plotting import clipped, figure, legend_below, save
from evalkit.report.tables import vote_matrices_of, vote_sizes
from evalkit.store import Col, Samples

TOKENS = "tokens"  # compute as generated tokens (the other choices are FLOPs columns)
X_CHOICES = (Col.FLOPS_PREFIX_CACHED, Col.FLOPS_NAIVE, Col.FLOPS_KV_READ, TOKENS)


def default_x(df: pd.DataFrame | Samples) -> str:
    """The compute measure of a comparison: FLOPs under prefix caching where every row has them,
    generated tokens otherwise."""
    return Col.FLOPS_PREFIX_CACHED if Samples.of(df).flops_prefix_cached.notna().all() else TOKENS


def _seq_arrays(seq: Samples, x: str, pidx: dict, sidx: dict, out: dict) -> None:
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
        return k * rows.new_tokens().mean()
    prompt = rows.flops_prompt.iloc[0]
    own = (rows.flops_naive - rows.flops_prompt).mean()
    if x == Col.FLOPS_NAIVE:
        return k * (prompt + own)
    shared = (rows.flops_prefix_cached - (rows.flops_naive - rows.flops_prompt)).iloc[0] * n
    kv = (rows.flops_kv_read - rows.flops_prefix_cached).mean() if x == Col.FLOPS_KV_READ else 0.0
    return shared + k * (own + kv)


def family_arrays(df: pd.DataFrame | Samples, x: str = Col.FLOPS_PREFIX_CACHED) -> dict:
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
) -> tuple[MatchedComparison, dict]:
    arrs = family_arrays(df, x)
    if not arrs["seq_acc"] or not arrs["par_acc"]:
        raise ValueError("need at least one complete sequential cell and one complete parallel cell")
    return matched_compute(arrs["seq_acc"], arrs["seq_x"], arrs["par_acc"], arrs["par_x"], n_boot=n_boot), arrs


def render_markdown(m: MatchedComparison, x: str, setting: str = "") -> str:
    """The comparison's section; ``setting`` names the cells' setting when a results directory holds several."""
    lines = [f"## Sequential (budget forcing) vs parallel (majority vote) at matched {x}"
             + (f" ({setting})" if setting else ""), "",
             f"{m.n_problems} problems x {m.n_seeds} seeds; curves piecewise linear in log-compute; intervals: "
             f"{m.area.method}, {m.area.details['n_boot']} resamples, 95%, for the population of problems.", "",
             f"| {x} | sequential | parallel | difference | 95% CI |", "|---|---|---|---|---|"]
    for g, s, p, d in zip(m.grid, m.sequential, m.parallel, m.difference, strict=True):
        lines.append(f"| {g:.4g} | {100 * s:.1f}% | {100 * p:.1f}% | {100 * d.estimate:+.1f} | "
                     f"[{100 * d.low:+.1f}, {100 * d.high:+.1f}] |")
    lines += ["", f"Signed area between the curves (sequential - parallel): {m.area.estimate:+.4f} accuracy x decades "
              f"[{m.area.low:+.4f}, {m.area.high:+.4f}]; mean difference over the overlap "
              f"{100 * m.mean_difference.estimate:+.1f} points [{100 * m.mean_difference.low:+.1f}, "
              f"{100 * m.mean_difference.high:+.1f}].", ""]
    return "\n".join(lines)


def plot(m: MatchedComparison, arrs: dict, x: str, out_base: Path, title: str = "") -> list[Path]:
    """PDF + PNG: both curves with pointwise problem-bootstrap (t) bands (clipped to [0, 100] % for
    drawing) and the cells as points."""
    fig, ax = figure(6.4, 4.2)
    for pts, curve, band, label, color in (
        (m.seq_points, m.sequential, m.seq_band, "sequential (budget forcing)", "C0"),
        (m.par_points, m.parallel, m.par_band, "parallel (majority vote)", "C1"),
    ):
        ax.fill_between(m.grid, 100 * clipped(band[0]), 100 * clipped(band[1]), color=color, alpha=0.2, linewidth=0)
        ax.plot(m.grid, 100 * curve, color=color, label=label, linewidth=2)
        order = np.argsort(pts[:, 0])  # the whole family, beyond the compared overlap
        ax.plot(pts[order, 0], 100 * pts[order, 1], color=color, linewidth=0.8, linestyle="--")
        ax.scatter(pts[:, 0], 100 * pts[:, 1], color=color, s=18, zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel({TOKENS: "generated tokens per problem"}.get(x, f"{x.replace('flops_', 'FLOPs, ')} per problem"))
    ax.set_ylabel("accuracy (%)")
    ax.set_title((title + "\n" if title else "") +
                 f"{m.n_problems} problems x {m.n_seeds} seeds; bands (compared overlap): 95% paired problem "
                 "bootstrap (t); dashed: whole family", fontsize=8)
    legend_below(fig, ax, fontsize=8)
    return save(fig, out_base)
