"""Scaling curves and s1's scaling metrics with paired two-level bootstrap intervals.

A curve is a family of cells evaluated on the same problems x seeds: accuracy ``correct[c][p, s]``
against compute ``x[c][p, s]`` (thinking tokens, or FLOPs). s1 (Muennighoff et al., 2025, sec. 3.2)
defines, over the set A of budgets:

- Control: the fraction of runs whose compute stays within its budget, (1/|A|) sum I(a_min <= a <= a_max);
- Scaling: the mean slope of the piecewise-linear curve over all pairs, (1/C(|A|,2)) sum_{a<b} (f(b)-f(a))/(b-a);
- Performance: max_a f(a).

A point's accuracy gets the problem-clustered score interval (:func:`accuracy_interval`); the metrics
and compute come from one problem bootstrap for all cells (:func:`evalkit.analyze.resample`,
``method="t"``: estimate +- t_{P-1} x bootstrap SE; estimand: the population of problems): the cells
share problems and seeds, so the points of one resample stay paired. Seeds are not resampled again
within problems (that counted seed noise twice). A cell with no data makes its point, and every metric
that needs it, NaN in estimate and interval alike (``details["missing"]``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from evalkit.analyze.clustered import accuracy_interval
from evalkit.analyze.intervals import Interval
from evalkit.analyze.resample import Resampled, resample


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
    # the one paired bootstrap behind every interval: columns x (C), accuracy (C), control, scaling,
    # performance; reuse its distribution instead of resampling
    bootstrap: Resampled | None = field(default=None, repr=False, compare=False)


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


def _metrics_batch(a: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """:func:`_metrics` for every row of (B, C) accuracies and computes at once: (B, 2)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = xs[:, None, :] - xs[:, :, None]  # [b, i, j] = x_j - x_i
        da = a[:, None, :] - a[:, :, None]
        ok = dx > 0
        slopes = np.where(ok, da / np.where(ok, dx, 1.0), 0.0)
        n = ok.sum(axis=(1, 2))
        scal = np.where(n > 0, slopes.sum(axis=(1, 2)) / np.maximum(n, 1), np.nan)
        perf = np.max(a, axis=1)
    bad = ~np.all(np.isfinite(a), axis=1) | ~np.all(np.isfinite(xs), axis=1)
    scal[bad], perf[bad] = np.nan, np.nan
    return np.stack([scal, perf], axis=1)


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
    (a_min, a_max) of cell c for Control (default: no bound, Control = 1).

    Calibration: the points hold wherever :func:`accuracy_interval` does; the bootstrap intervals of
    Scaling and Performance need 30 problems or more (below, they under-cover:
    ``benchmarks/design_results.md``). Neither is printed by the report, figures or claims."""
    C = len(correct)
    if C == 0 or len(compute) != C:
        raise ValueError("need one compute array per cell")
    acc = np.stack([np.asarray(c, dtype=float) for c in correct])  # (C, P, S)
    x = np.stack([np.asarray(v, dtype=float) for v in compute])
    if acc.shape != x.shape or acc.ndim != 3:
        raise ValueError(f"cells must share problems x seeds; shapes {acc.shape} and {x.shape}")
    _, P, S = acc.shape
    bounds = np.array(budgets if budgets is not None else [(-np.inf, np.inf)] * C, dtype=float)
    within = np.where(np.isnan(x), np.nan, (x >= bounds[:, 0, None, None]) & (x <= bounds[:, 1, None, None]))
    with warnings.catch_warnings():  # an all-NaN (missing) cell is allowed: it stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        per = np.concatenate([np.nanmean(acc, axis=2), np.nanmean(x, axis=2), np.nanmean(within, axis=2)]).T  # (P, 3C)
    missing = [c for c in range(C) if np.all(np.isnan(acc[c]))]

    def stat(means: np.ndarray) -> np.ndarray:  # (B, 3C) cell means -> x, accuracy, control, metrics
        a, xs, wi = means[:, :C], means[:, C:2 * C], means[:, 2 * C:]
        mets = _metrics_batch(a, xs)
        return np.concatenate([xs, a, wi.mean(axis=1, keepdims=True), mets], axis=1)

    r = resample(per, stat, n_resamples=n_boot, rng=seed, confidence=confidence, method="t")
    det = {"n_boot": n_boot, "n_seeds": S, "missing": missing, "estimand": "population of problems"}
    m = "problem bootstrap (t)"

    def iv(j: int) -> Interval:
        est = float(r.estimate[j])
        if not np.isfinite(est):
            return Interval(float("nan"), float("nan"), float("nan"), confidence, m, P, det, r.distribution[:, j])
        return Interval(est, float(r.low[j]), float(r.high[j]), confidence, m, P, det, r.distribution[:, j])

    def point_accuracy(c: int) -> Interval:
        # a point's accuracy alone: the problem-clustered score interval (a t interval on skewed problem
        # means covered 0.92 for AIME-like data); the bootstrap keeps the points paired for the metrics
        # (its replicates of the point's accuracy ride along as the Interval's distribution)
        if c in missing:
            return iv(C + c)
        a = accuracy_interval(acc[c], confidence)
        return Interval(a.estimate, a.low, a.high, confidence, a.method, P, {**det, **a.details},
                        r.distribution[:, C + c])

    points = tuple(CurvePoint(iv(c), point_accuracy(c)) for c in range(C))
    return ScalingResult(points, iv(2 * C), iv(2 * C + 1), iv(2 * C + 2), P, S, r)
