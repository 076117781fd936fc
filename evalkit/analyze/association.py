"""Association of an outcome with a covariate within clusters (problems): does a longer realised trace
go with correctness, problem by problem? (Pure numpy; the bootstrap is :func:`evalkit.analyze.resample`.)"""

from __future__ import annotations

import numpy as np

from evalkit.analyze.intervals import Interval
from evalkit.analyze.resample import resample


def within_cluster_slope(x: np.ndarray, y: np.ndarray, clusters: np.ndarray, confidence: float = 0.95, *,
                         n_resamples: int = 4000, rng: int = 0) -> Interval:
    """Pooled within-cluster least-squares slope of ``y`` on ``x``: both centred on their cluster's mean,
    slope = sum_c sum (x - x_c)(y - y_c) / sum (x - x_c)^2. Interval: clusters resampled (the ratio of
    the per-cluster cross and square sums; ``t`` interval), so it is about the population of clusters."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keys, code = np.unique(np.asarray(clusters), return_inverse=True)
    counts = np.bincount(code)
    xc = x - (np.bincount(code, weights=x) / counts)[code]
    yc = y - (np.bincount(code, weights=y) / counts)[code]
    members = [np.flatnonzero(code == g) for g in range(len(keys))]
    cross = np.array([float(np.sum(xc[i] * yc[i])) for i in members])
    square = np.array([float(np.sum(xc[i] ** 2)) for i in members])
    var = float(np.sum(xc ** 2))
    slope = float(cross.sum() / var) if var else float("nan")
    r = resample(np.c_[cross, square], lambda m: m[:, 0] / m[:, 1], n_resamples=n_resamples, rng=rng,
                 confidence=confidence, method="t")
    return Interval(slope, float(r.low[0]), float(r.high[0]), confidence,
                    "pooled within-cluster least-squares slope; clusters resampled (t)", len(keys),
                    {"samples": len(x)})
