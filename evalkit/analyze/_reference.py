"""Statistics no stage of evalkit calls, kept as references the tests check the public ones against: the
cluster-robust SE of the accuracy (what the problem bootstrap's SE approximates), the multi-seed summary of
one cell, and the closed-form seeds for an interval's half-width under a constant within-problem correlation
(what :func:`evalkit.analyze.expected_seeds` and :func:`evalkit.analyze.population_floor` answer without
that assumption). Private: not part of :mod:`evalkit.analyze`'s surface."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy import stats

from evalkit.analyze.bootstrap import VarianceComponents, as_units, problem_means, variance_components
from evalkit.analyze.intervals import Interval
from evalkit.analyze.power import _check
from evalkit.analyze.resample import resample


def clustered_se(correct: np.ndarray) -> float:
    """Standard error of evalkit's accuracy (the mean over problems of each problem's mean over its
    seeds), problems as clusters: SD of the problem means / sqrt(P). With equal seeds per problem this
    is exactly the cluster-robust (CR1) SE of the pooled mean; with unequal seeds it stays the SE of the
    mean that is reported (the pooled mean weights problems by their seed counts)."""
    pm = problem_means(correct)
    return float(np.std(pm, ddof=1) / np.sqrt(len(pm)))


@dataclass(frozen=True)
class MultiSeedAccuracy:
    """Everything about one cell's accuracy over problems x seeds."""

    mean: float
    seed_means: tuple[float, ...]
    seed_sd: float
    clustered_se: float
    percentile: Interval
    bca: Interval
    components: VarianceComponents | None  # None with one unit per problem (not estimable)
    n_problems: int
    n_seeds: int

    def __str__(self) -> str:
        return (f"accuracy {self.mean:.4f} over {self.n_problems} problems x {self.n_seeds} seeds; "
                f"seed SD {self.seed_sd:.4f}; clustered SE {self.clustered_se:.4f}; "
                f"95% problem bootstrap [{self.percentile.low:.4f}, {self.percentile.high:.4f}] "
                f"(BCa [{self.bca.low:.4f}, {self.bca.high:.4f}]); ICC "
                + (f"{self.components.icc:.3f}" if self.components else "not estimable (one seed)"))


def multi_seed_accuracy(correct: np.ndarray, *, confidence: float = 0.95, n_boot: int = 10_000,
                        seed: int = 0) -> MultiSeedAccuracy:
    """Mean, per-seed means and SD, clustered SE, variance components, and the problem bootstrap's
    percentile and BCa intervals (both from one distribution, which both Intervals carry)."""
    c3 = np.asarray(correct, dtype=float)
    if c3.ndim not in (2, 3):
        raise ValueError("expected correct[problem, seed(, sample)]")
    per_seed = c3 if c3.ndim == 2 else np.nanmean(c3, axis=2)
    seed_means = np.nanmean(per_seed, axis=0)
    c = as_units(c3)
    pm = np.nanmean(c, axis=1)
    theta = float(np.mean(pm))
    r = resample(pm, n_resamples=n_boot, rng=seed, confidence=confidence, method="bca")
    p_lo, p_hi = r.interval("percentile")
    det = {"n_boot": n_boot, "seed": seed}
    dist = r.distribution[:, 0]
    return MultiSeedAccuracy(
        mean=theta,
        seed_means=tuple(float(x) for x in seed_means),
        seed_sd=float(np.std(seed_means, ddof=1)) if len(seed_means) > 1 else float("nan"),
        clustered_se=clustered_se(c),
        percentile=Interval(theta, float(p_lo[0]), float(p_hi[0]), confidence, "problem bootstrap (percentile)",
                            c.shape[0], det, distribution=dist),
        bca=Interval(theta, float(r.low[0]), float(r.high[0]), confidence, "problem bootstrap (bca)", c.shape[0],
                     {**det, "acceleration": r.details["acceleration"][0]}, distribution=dist),
        components=variance_components(c) if np.any(np.sum(~np.isnan(c), axis=1) > 1) else None,
        n_problems=c.shape[0],
        n_seeds=per_seed.shape[1],
    )


def seeds_for_half_width(p: float, n_problems: int, half_width: float, *, icc: float = 0.0,
                         confidence: float = 0.95) -> float:
    """Seeds needed so the CI of mean accuracy has the given half-width (inf if unreachable: with
    correlated seeds the problems alone set a floor of z*sqrt(p(1-p) icc / n))."""
    _check(icc, n_problems, 1, 0.0)
    z = stats.norm.isf((1 - confidence) / 2)
    target = (half_width / z) ** 2
    floor = p * (1 - p) * icc / n_problems
    if target <= floor:
        return math.inf
    return cast("float", max(1.0, math.ceil(p * (1 - p) * (1 - icc) / n_problems / (target - floor))))
