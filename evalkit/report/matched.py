"""Sequential vs parallel at matched compute: a table and a figure (the arrays: :mod:`evalkit.claims.compute`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evalkit.analyze import MatchedComparison
from evalkit.claims.compute import TOKENS, X_CHOICES, compare, default_x, family_arrays
from evalkit.report.plotting import clipped, figure, legend_below, save

# the arrays are built by evalkit.claims.compute (the matched-compute claim uses them too); here they are rendered
__all__ = ["TOKENS", "X_CHOICES", "compare", "default_x", "family_arrays", "plot", "render_markdown"]


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
