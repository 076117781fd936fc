"""One resampling engine for every bootstrap evalkit prints (after scipy.stats.bootstrap: the result
keeps its distribution).

The unit of resampling is the problem: a statistic is a function of per-problem values (each
problem's mean over its seeds, for one or several cells), and a resample draws problems with
replacement. Seeds are not resampled a second time inside drawn problems: a problem's mean over its
seeds already carries the within-problem (seed) noise, and resampling seeds again counts it twice
(the two-level bootstrap widened intervals x1.06-1.34 and made the paired test conservative: issue
#17). Within-problem variance stays available as a decomposition (:func:`variance_components`).

Sufficient statistics: a statistic of the multiset of per-problem value rows depends on a resample
only through how often each *distinct* row was drawn, so rows are grouped (``np.unique``) and a
resample is one multinomial draw of counts over the G groups (G <= P; for 0/1 outcomes over S seeds,
G <= S + 1 per cell). Same distribution as drawing problem indices, at B x G instead of B x P cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (counts (B, G), rows (G, k)) -> (B,) or (B, m)
IntervalMethod = Literal["percentile", "bca", "t"]


@dataclass(frozen=True)
class Resampled:
    """Bootstrap result: the observed statistic, its interval, SE and the whole distribution."""

    estimate: np.ndarray  # (m,) observed statistic
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    distribution: np.ndarray  # (B, m) replicates (NaN where a replicate is undefined)
    confidence: float
    method: str
    n: int  # problems
    details: dict[str, Any] = field(default_factory=dict)


def mean_of(col: int = 0) -> Statistic:
    """The mean over problems of column ``col``."""
    def stat(w: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return w @ rows[:, col] / w.sum(axis=1)
    return stat


def _quantiles(dist: np.ndarray, lo_q: np.ndarray, hi_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = dist.shape[1]
    lo, hi = np.full(m, np.nan), np.full(m, np.nan)
    for j in range(m):
        d = dist[:, j]
        d = d[np.isfinite(d)]
        if len(d):
            lo[j], hi[j] = np.quantile(d, [lo_q[j], hi_q[j]])
    return lo, hi


def resample(values: np.ndarray, statistic: Statistic, *, n_resamples: int = 10_000,
             rng: int | np.random.Generator = 0, batch: int = 5_000, confidence: float = 0.95,
             method: IntervalMethod = "percentile") -> Resampled:
    """Resample problems (rows of ``values``, shape (P, k)) with replacement and evaluate
    ``statistic(counts, rows)`` on every resample (see the module docstring); ``counts`` has one row
    per resample and one column per distinct row of ``values``. ``method``: percentile, or BCa with
    the acceleration from the leave-one-problem-out jackknife, or ``t``: estimate +- t_{P-1} x the
    bootstrap SE x sqrt(P / (P - 1)), which for a mean over problems is exactly the cluster t interval
    (the bootstrap variance of a mean is (P - 1) / P of the usual s^2 / P) and for a smooth statistic
    of problem means (a ratio, an interpolated curve, a difference of curves) its delta-method analogue.
    Percentile intervals of a mean over 30 problems cover about 0.93 (benchmarks/calibration.py); ``t``
    is what evalkit's reports use."""
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    P = v.shape[0]
    if P < 2:
        raise ValueError("need at least two problems to resample")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if method not in ("percentile", "bca", "t"):
        raise ValueError(f"method must be percentile, bca or t, got {method!r}")
    filled = np.where(np.isnan(v), np.inf, v)  # np.unique groups NaN rows apart otherwise
    rows, inverse, sizes = np.unique(filled, axis=0, return_inverse=True, return_counts=True)
    rows = np.where(np.isinf(rows), np.nan, rows)
    gen = np.random.default_rng(rng)

    def evaluate(w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.asarray(statistic(w, rows), dtype=float)
        return out[:, None] if out.ndim == 1 else out

    theta = evaluate(sizes[None, :].astype(float))[0]
    parts = []
    for start in range(0, n_resamples, batch):
        b = min(batch, n_resamples - start)
        parts.append(evaluate(gen.multinomial(P, sizes / P, size=b).astype(float)))
    dist = np.concatenate(parts, axis=0)
    alpha = 1 - confidence
    m = dist.shape[1]
    details: dict[str, Any] = {"n_resamples": n_resamples, "groups": int(len(rows)),
                               "undefined": int(np.sum(~np.isfinite(dist).all(axis=1)))}
    se = np.array([np.std(dist[:, j][np.isfinite(dist[:, j])], ddof=1) if np.isfinite(dist[:, j]).sum() > 1
                   else np.nan for j in range(m)])
    if method == "percentile":
        lo, hi = _quantiles(dist, np.full(m, alpha / 2), np.full(m, 1 - alpha / 2))
    elif method == "t":
        q = float(stats.t.isf(alpha / 2, P - 1)) * math.sqrt(P / (P - 1))
        lo, hi = theta - q * se, theta + q * se
    else:
        # jackknife: drop one problem of group g (identical for every problem of that group)
        jw = np.repeat(sizes[None, :].astype(float), len(rows), axis=0) - np.eye(len(rows))
        jack = evaluate(jw)  # (G, m)
        lo, hi = np.full(m, np.nan), np.full(m, np.nan)
        z_lo, z_hi = stats.norm.ppf([alpha / 2, 1 - alpha / 2])
        accel = np.zeros(m)
        z0s = np.zeros(m)
        for j in range(m):
            d = dist[:, j][np.isfinite(dist[:, j])]
            if not len(d):
                continue
            prop = (np.sum(d < theta[j]) + 0.5 * np.sum(d == theta[j])) / len(d)
            prop = min(max(prop, 1 / (2 * len(d))), 1 - 1 / (2 * len(d)))
            z0 = stats.norm.ppf(prop)
            jm = np.sum(sizes * jack[:, j]) / P
            dev = jm - jack[:, j]
            den = 6.0 * np.sum(sizes * dev ** 2) ** 1.5
            a = float(np.sum(sizes * dev ** 3) / den) if den > 0 else 0.0
            q = stats.norm.cdf(z0 + (z0 + np.array([z_lo, z_hi])) / (1 - a * (z0 + np.array([z_lo, z_hi]))))
            lo[j], hi[j] = np.quantile(d, q)
            accel[j], z0s[j] = a, z0
        details.update(acceleration=accel.tolist(), z0=z0s.tolist())
    return Resampled(theta, lo, hi, se, dist, confidence, f"problem bootstrap ({method})", P, details)
