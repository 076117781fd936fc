"""Problems x seeds inference for accuracy: bootstrap intervals and variance components.

Data are ``correct[problem, seed]`` or ``correct[problem, seed, sample]`` arrays of 0/1 (bool), with
NaN for missing cells. The estimand is the mean over problems of each problem's accuracy (equal to
the pooled mean when every problem has the same number of samples).

Every bootstrap here is a statistic handed to the one engine, :func:`evalkit.analyze.resample`: the
problem bootstrap (``levels=1``) and the legacy two-level bootstrap
(``levels=2``; :func:`two_level_bootstrap`, :func:`bootstrap_means`), which resamples the samples
within each drawn problem too and so counts seed noise twice. For 0/1 data the engine draws a
two-level resample's mean from its exact distribution through sufficient statistics (the P-fold
convolution of the mixture of the problems' Binomial(n_p, k_p / n_p) / n_p) instead of a binomial per
drawn problem (its speed: ``benchmarks/design_results.md``, from ``benchmarks/bootstrap.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from evalkit.analyze.intervals import Interval
from evalkit.analyze.resample import resample
from evalkit.analyze.validate import units_matrix


def as_units(correct: np.ndarray) -> np.ndarray:
    """(problem, seed[, sample]) -> (problem, unit) float array; NaN marks a missing unit."""
    return units_matrix(correct, name="correct")


def problem_means(correct: np.ndarray) -> np.ndarray:
    return cast("np.ndarray", np.nanmean(as_units(correct), axis=1))


def bootstrap_means(correct: np.ndarray, n_boot: int = 10_000, seed: int | np.random.Generator = 0,
                    two_level: bool = True, chunk: int = 5_000) -> np.ndarray:
    """``n_boot`` bootstrap replicates of the problem-weighted mean accuracy: problems x seeds
    (``two_level``, evalkit 0.1's interval) or problems only; :func:`evalkit.analyze.resample` draws them."""
    c = as_units(correct)
    values = c if two_level else np.nanmean(c, axis=1)
    return resample(values, levels=2 if two_level else 1, n_resamples=n_boot, rng=seed, batch=chunk).distribution[:, 0]


def two_level_bootstrap(correct: np.ndarray, *, confidence: float = 0.95, n_boot: int = 10_000,
                        method: str = "percentile", seed: int = 0) -> Interval:
    """Two-level (problems x seeds) bootstrap interval for mean accuracy over problems x seeds(x samples):
    the legacy interval of evalkit 0.1, which counts seed noise twice (slightly conservative; the reports
    use the one-level problem bootstrap). ``method``: ``percentile`` or ``bca`` (bias-corrected and
    accelerated; acceleration from the leave-one-problem-out jackknife). The Interval carries the
    bootstrap distribution."""
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be percentile or bca, got {method!r}")
    c = as_units(correct)
    theta = float(np.mean(np.nanmean(c, axis=1)))
    r = resample(c, levels=2, n_resamples=n_boot, rng=seed, confidence=confidence, method=method)  # type: ignore[arg-type]  # method: checked against the Literal's values just above
    details: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "n_units": int(np.sum(~np.isnan(c))),
                               "boot_se": float(r.se[0])}
    if method == "bca":
        details.update(z0=r.details["z0"][0], acceleration=r.details["acceleration"][0])
    return Interval(theta, float(r.low[0]), float(r.high[0]), confidence, f"two-level bootstrap ({method})", c.shape[0],
                    details, distribution=r.distribution[:, 0])


@dataclass(frozen=True)
class VarianceComponents:
    between: float  # variance of true per-problem accuracy
    within: float  # variance among seeds/samples of one problem
    icc: float  # between / (between + within): the within-problem correlation
    n_problems: int
    units_per_problem: float  # n0, the (harmonic-like) average group size of one-way ANOVA


def variance_components(correct: np.ndarray) -> VarianceComponents:
    """One-way random-effects ANOVA (method of moments) with problems as groups. Refused with one unit
    per problem (within-problem variance is not estimable, so neither is the ICC); ``icc`` is NaN when
    the data have no variance at all (all correct or all wrong)."""
    c = as_units(correct)
    mask = ~np.isnan(c)
    n = mask.sum(axis=1).astype(float)
    if np.all(n <= 1):
        raise ValueError("variance components need two or more seeds on some problem (one seed per problem: the "
                         "within-problem variance, and so the ICC, is not estimable)")
    N, P = n.sum(), len(n)
    means = np.nanmean(c, axis=1)
    grand = np.nansum(c) / N
    ssb = np.sum(n * (means - grand) ** 2)
    ssw = np.nansum((c - means[:, None]) ** 2)
    msb = ssb / (P - 1)
    msw = ssw / (N - P) if N > P else 0.0
    n0 = (N - np.sum(n ** 2) / N) / (P - 1)
    between = max(0.0, (msb - msw) / n0) if n0 > 0 else 0.0
    total = between + msw
    return VarianceComponents(float(between), float(msw), float(between / total) if total > 0 else float("nan"),
                              P, float(n0))
