"""Scaling curves and s1's scaling metrics with paired two-level bootstrap intervals.

A curve is a family of cells evaluated on the same problems x seeds: accuracy ``correct[c][p, s]``
against compute ``x[c][p, s]`` (thinking tokens, or FLOPs). s1 (Muennighoff et al., 2025, sec. 3.2)
defines, over the set A of budgets:

- Control: the fraction of runs whose compute stays within its budget, (1/|A|) sum I(a_min <= a <= a_max);
- Scaling: the mean slope of the piecewise-linear curve over all pairs, (1/C(|A|,2)) sum_{a<b} (f(b)-f(a))/(b-a);
- Performance: max_a f(a).

The intervals resample problems, then seeds within them, once for all cells (the cells share
problems and seeds), so the points of one resample stay paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evalkit.analyze.intervals import Interval


@dataclass(frozen=True)
class CurvePoint:
    x: Interval  # mean compute
    accuracy: Interval


@dataclass(frozen=True)
class ScalingResult:
    points: tuple[CurvePoint, ...]
    control: Interval
    scaling: Interval  # accuracy per unit of x
    performance: Interval
    n_problems: int
    n_seeds: int


def _metrics(acc: np.ndarray, xs: np.ndarray) -> tuple[float, float]:
    """Scaling (mean pairwise slope, over cells ordered by x) and performance (max accuracy)."""
    order = np.argsort(xs)
    a, x = acc[order], xs[order]
    slopes = []
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            if x[j] > x[i]:
                slopes.append((a[j] - a[i]) / (x[j] - x[i]))
    return (float(np.mean(slopes)) if slopes else float("nan")), float(np.max(a))


def scaling_curve(
    correct: Sequence[np.ndarray],
    compute: Sequence[np.ndarray],
    *,
    budgets: Sequence[tuple[float, float]] | None = None,
    confidence: float = 0.95,
    n_boot: int = 2_000,
    seed: int = 0,
) -> ScalingResult:
    """``correct[c]`` and ``compute[c]`` are (problem, seed) arrays of cell c; ``budgets[c]`` is
    (a_min, a_max) of cell c for Control (default: no bound, Control = 1)."""
    C = len(correct)
    if C == 0 or len(compute) != C:
        raise ValueError("need one compute array per cell")
    acc = np.stack([np.asarray(c, dtype=float) for c in correct])  # (C, P, S)
    x = np.stack([np.asarray(v, dtype=float) for v in compute])
    if acc.shape != x.shape or acc.ndim != 3:
        raise ValueError(f"cells must share problems x seeds; shapes {acc.shape} and {x.shape}")
    _, P, S = acc.shape
    bounds = np.array(budgets if budgets is not None else [(-np.inf, np.inf)] * C, dtype=float)
    within = (x >= bounds[:, 0, None, None]) & (x <= bounds[:, 1, None, None])
    point_acc = acc.mean(axis=(1, 2))
    point_x = x.mean(axis=(1, 2))
    scal, perf = _metrics(point_acc, point_x)
    ctrl = float(within.mean())

    rng = np.random.default_rng(seed)
    b_acc = np.empty((n_boot, C))
    b_x = np.empty((n_boot, C))
    b_ctrl = np.empty(n_boot)
    for b in range(n_boot):
        pi = rng.integers(0, P, P)
        si = rng.integers(0, S, (P, S))
        rows = pi[:, None]
        b_acc[b] = acc[:, rows, si].mean(axis=(1, 2))
        b_x[b] = x[:, rows, si].mean(axis=(1, 2))
        b_ctrl[b] = within[:, rows, si].mean()
    b_metrics = np.array([_metrics(b_acc[b], b_x[b]) for b in range(n_boot)])
    alpha = 1 - confidence
    q = [alpha / 2, 1 - alpha / 2]

    def iv(est: float, boots: np.ndarray, method: str) -> Interval:
        boots = boots[~np.isnan(boots)]
        lo, hi = np.quantile(boots, q) if len(boots) else (np.nan, np.nan)
        return Interval(est, float(lo), float(hi), confidence, method, P, {"n_boot": n_boot, "n_seeds": S})

    m = "paired two-level bootstrap (percentile)"
    points = tuple(CurvePoint(iv(float(point_x[c]), b_x[:, c], m), iv(float(point_acc[c]), b_acc[:, c], m))
                   for c in range(C))
    return ScalingResult(points, iv(ctrl, b_ctrl, m), iv(scal, b_metrics[:, 0], m),
                         iv(perf, b_metrics[:, 1], m), P, S)
