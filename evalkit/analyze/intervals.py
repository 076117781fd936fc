"""Binomial intervals and multi-seed summaries (pure functions; no I/O)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """An estimate with a confidence interval, in the spirit of scipy.stats' result objects."""

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}] "
                f"({self.method}, {self.confidence:.0%}, n={self.n})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def binomial_interval(k: int, n: int, confidence: float = 0.95, method: str = "wilson") -> Interval:
    """Interval for a proportion k/n. ``method``: wilson (default), exact (Clopper-Pearson), wilsoncc.

    Delegates to :meth:`scipy.stats.binomtest(...).proportion_ci`.
    """
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n], got k={k}, n={n}")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method=method)
    return Interval(k / n, float(ci.low), float(ci.high), confidence, method, n, {"k": int(k)})


def wilson(k: int, n: int, confidence: float = 0.95) -> Interval:
    return binomial_interval(k, n, confidence, "wilson")


@dataclass(frozen=True)
class SeedSummary:
    mean: float  # over problems and seeds
    seed_means: tuple[float, ...]
    seed_sd: float  # sample SD of the per-seed accuracies (nan with one seed)
    n_problems: int
    n_seeds: int


def seed_summary(correct: np.ndarray) -> SeedSummary:
    """``correct[problem, seed]`` (bool or 0/1; NaN for missing) -> mean and across-seed SD."""
    c = np.asarray(correct, dtype=float)
    if c.ndim != 2:
        raise ValueError("expected a 2-d array correct[problem, seed]")
    seed_means = np.nanmean(c, axis=0)
    sd = float(np.std(seed_means, ddof=1)) if c.shape[1] > 1 else float("nan")
    return SeedSummary(float(np.nanmean(c)), tuple(float(x) for x in seed_means), sd, c.shape[0], c.shape[1])
