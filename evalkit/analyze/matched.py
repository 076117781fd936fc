"""Sequential vs parallel test-time scaling at matched compute (pure functions on arrays).

Each family is a list of cells (sequential: caps / ignores; parallel: k of n votes) evaluated on the
same problems x seeds: accuracy ``acc[c][p, s]`` and compute ``x[c][p, s]`` (tokens, FLOPs or seconds).
Both accuracy-vs-compute curves are piecewise linear in log-compute through the cells' means; they
are compared on a common log-spaced grid inside the overlap of their compute ranges. The difference
(sequential - parallel) at each grid point, and the signed area between the curves (in accuracy x
decades of compute; divided by the overlap's width it is the mean difference), get intervals from one
problem bootstrap for both families (:func:`evalkit.analyze.resample`, estimate +- t_{P-1} x bootstrap
SE; estimand: the population of problems), so every comparison is paired. Seeds are not resampled a
second time within problems (that counted seed noise twice and made the comparison conservative).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from evalkit.analyze.intervals import Interval
from evalkit.analyze.resample import Resampled, Statistic, resample


@dataclass(frozen=True)
class MatchedComparison:
    grid: np.ndarray  # compute values of the grid (log-spaced, inside the overlap)
    sequential: np.ndarray  # interpolated accuracy of each family on the grid
    parallel: np.ndarray
    seq_band: tuple[np.ndarray, np.ndarray]  # pointwise bootstrap bands of each curve
    par_band: tuple[np.ndarray, np.ndarray]
    difference: tuple[Interval, ...]  # sequential - parallel at each grid point
    area: Interval  # signed area (accuracy x decades of compute)
    mean_difference: Interval  # area / width of the overlap in decades
    seq_points: np.ndarray  # (C, 2): mean compute, accuracy per cell
    par_points: np.ndarray
    n_problems: int
    n_seeds: int
    # the one paired bootstrap behind every band and interval: columns sequential curve (g), parallel
    # curve (g), difference (g), area; reuse its distribution instead of resampling
    bootstrap: Resampled | None = field(default=None, repr=False, compare=False)


def _stack(arrs: Sequence[np.ndarray], what: str) -> np.ndarray:
    a = np.stack([np.asarray(x, dtype=float) for x in arrs])
    if a.ndim != 3:
        raise ValueError(f"{what}: each cell must be a (problem, seed) array")
    return a


def _curve(xs: np.ndarray, ys: np.ndarray, log_grid: np.ndarray) -> np.ndarray:
    order = np.argsort(xs)
    return cast("np.ndarray", np.interp(log_grid, np.log10(xs[order]), ys[order]))


def _curves_statistic(C1: int, C2: int, log_grid: np.ndarray) -> Statistic:
    """Column means (sequential accuracy, compute; parallel accuracy, compute) -> both interpolated
    curves on the grid, their difference and its signed area: (B, 3 g + 1)."""
    g = len(log_grid)

    def stat(m: np.ndarray) -> np.ndarray:
        out = np.empty((len(m), 3 * g + 1))
        for b in range(len(m)):
            sc = _curve(m[b, C1:2 * C1], m[b, :C1], log_grid)
            pc = _curve(m[b, 2 * C1 + C2:], m[b, 2 * C1:2 * C1 + C2], log_grid)
            out[b, :g], out[b, g:2 * g] = sc, pc
            out[b, 2 * g:3 * g] = sc - pc
            out[b, -1] = np.trapezoid(sc - pc, log_grid)
        return out
    return stat


def matched_compute(
    seq_acc: Sequence[np.ndarray],
    seq_x: Sequence[np.ndarray],
    par_acc: Sequence[np.ndarray],
    par_x: Sequence[np.ndarray],
    *,
    grid_points: int = 12,
    confidence: float = 0.95,
    n_boot: int = 2_000,
    seed: int = 0,
) -> MatchedComparison:
    sa, sx, pa, px = (_stack(seq_acc, "sequential accuracy"), _stack(seq_x, "sequential compute"),
                      _stack(par_acc, "parallel accuracy"), _stack(par_x, "parallel compute"))
    shapes = {sa.shape[1:], sx.shape[1:], pa.shape[1:], px.shape[1:]}
    if len(shapes) != 1:
        raise ValueError(f"both families must cover the same problems x seeds; got shapes {sorted(shapes)}")
    if np.any(sx <= 0) or np.any(px <= 0):
        raise ValueError("compute must be positive (it is compared on a log scale)")
    _, P, S = sa.shape
    s_pts = np.stack([sx.mean(axis=(1, 2)), sa.mean(axis=(1, 2))], axis=1)
    p_pts = np.stack([px.mean(axis=(1, 2)), pa.mean(axis=(1, 2))], axis=1)
    lo = max(s_pts[:, 0].min(), p_pts[:, 0].min())
    hi = min(s_pts[:, 0].max(), p_pts[:, 0].max())
    if not lo < hi:
        raise ValueError(
            f"the families' compute ranges do not overlap: sequential [{s_pts[:, 0].min():.4g}, "
            f"{s_pts[:, 0].max():.4g}], parallel [{p_pts[:, 0].min():.4g}, {p_pts[:, 0].max():.4g}]")
    log_grid = np.linspace(np.log10(lo), np.log10(hi), grid_points)
    width = log_grid[-1] - log_grid[0]
    seq_curve = _curve(s_pts[:, 0], s_pts[:, 1], log_grid)
    par_curve = _curve(p_pts[:, 0], p_pts[:, 1], log_grid)
    diff = seq_curve - par_curve
    area = float(np.trapezoid(diff, log_grid))

    C1, C2 = sa.shape[0], pa.shape[0]
    per = np.concatenate([sa.mean(axis=2), sx.mean(axis=2), pa.mean(axis=2), px.mean(axis=2)]).T  # (P, 2 C1 + 2 C2)

    r = resample(per, _curves_statistic(C1, C2, log_grid), n_resamples=n_boot, rng=seed, confidence=confidence,
                 method="t")
    g = grid_points
    method = "problem bootstrap (t)"
    det = {"n_boot": n_boot, "n_seeds": S, "estimand": "population of problems"}
    diffs = tuple(
        Interval(float(diff[i]), float(r.low[2 * g + i]), float(r.high[2 * g + i]), confidence, method, P,
                 {**det, "compute": float(10 ** log_grid[i])}, r.distribution[:, 2 * g + i])
        for i in range(g)
    )
    a_lo, a_hi = float(r.low[-1]), float(r.high[-1])
    return MatchedComparison(
        grid=10 ** log_grid,
        sequential=seq_curve,
        parallel=par_curve,
        seq_band=(r.low[:g], r.high[:g]),
        par_band=(r.low[g:2 * g], r.high[g:2 * g]),
        difference=diffs,
        area=Interval(area, float(a_lo), float(a_hi), confidence, method, P, det, r.distribution[:, -1]),
        mean_difference=Interval(area / width, float(a_lo / width), float(a_hi / width), confidence, method, P,
                                 {**det, "decades": float(width)}, r.distribution[:, -1] / width),
        seq_points=s_pts,
        par_points=p_pts,
        n_problems=P,
        n_seeds=S,
        bootstrap=r,
    )
