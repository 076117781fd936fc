"""Binomial intervals and multi-seed summaries (pure functions; no I/O)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats

from evalkit.analyze.matrices import per_seed_accuracy, problem_accuracy
from evalkit.analyze.validate import confidence_level


@dataclass(frozen=True)
class Interval:
    """An estimate with a confidence interval, in the spirit of scipy.stats' result objects.
    ``distribution``: the bootstrap replicates of the estimate where a bootstrap produced them (reuse
    them instead of resampling again: they are paired with the other replicates of the same call)."""

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int
    details: dict[str, Any] = field(default_factory=dict)
    distribution: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return (f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}] "
                f"({self.method}, {self.confidence:.0%}, n={self.n})")

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data (without the bootstrap distribution)."""
        d = asdict(replace(self, distribution=None))
        del d["distribution"]
        return d


@dataclass(frozen=True)
class TestResult:
    statistic: float
    pvalue: float
    method: str
    n: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.method}: statistic {self.statistic:.4g}, p = {self.pvalue:.4g} (n={self.n})"


SMALL_COUNT = 3.0  # effective successes (or failures) up to which a score bound takes the exact Poisson bound


def wilson_bounds(p: float, n: float, z: float, *, small_counts: bool = False) -> tuple[float, float]:
    """Wilson's score bounds {q : |p - q| <= z sqrt(q (1 - q) / n)} for a rate ``p`` on ``n`` (possibly
    effective, non-integer) trials: evalkit's one Wilson formula.

    ``small_counts``: with ``p n <= 3`` effective successes (or failures), the lower (upper) bound is at
    most the exact Poisson bound at the same level, Gamma(x).ppf(alpha / 2) / n: Wilson's bound comes too
    close to 0 there and under-covers rates of a few per cent (Brown, Cai and DasGupta 2001, section 4.1.1,
    whose modified Wilson interval this is; ``benchmarks/design_results.md``). Returns ``(lo, hi)``; raises
    ``ValueError`` for ``n <= 0``."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    z2 = z * z
    d = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / d
    hw = z * math.sqrt(max(p * (1 - p), 0.0) / n + z2 / (4 * n * n)) / d
    lo = 0.0 if p <= 0.0 else max(0.0, centre - hw)  # exactly 0 (1) at the boundary, not a rounding above it
    hi = 1.0 if p >= 1.0 else min(1.0, centre + hw)
    if small_counts:
        half_alpha = float(stats.norm.sf(z))
        x, f = p * n, (1 - p) * n
        if 0 < x <= SMALL_COUNT:
            lo = min(lo, float(stats.gamma.ppf(half_alpha, x)) / n)
        if 0 < f <= SMALL_COUNT:
            hi = max(hi, 1 - float(stats.gamma.ppf(half_alpha, f)) / n)
    return lo, hi


BINOMIAL_METHODS = ("wilson", "clopper_pearson", "jeffreys", "agresti_coull")


def binomial_interval(k: int, n: int, confidence: float = 0.95, method: str = "wilson") -> Interval:
    """Interval for a proportion k/n.

    ``wilson`` and ``clopper_pearson`` delegate to :meth:`scipy.stats.binomtest(...).proportion_ci`;
    ``jeffreys`` is the equal-tailed Beta(k+1/2, n-k+1/2) posterior interval (no boundary modification,
    as statsmodels);
    ``agresti_coull`` the add-z²/2 interval, clipped to [0, 1] (as statsmodels does).
    """
    if float(k) != int(k) or float(n) != int(n):
        raise ValueError(f"k and n must be whole counts, got k={k}, n={n} (for an observed rate use wilson_rate)")
    k, n = int(k), int(n)
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n], got k={k}, n={n}")
    confidence = confidence_level(confidence)
    alpha = 1 - confidence
    if method in ("wilson", "clopper_pearson"):
        ci = stats.binomtest(int(k), int(n)).proportion_ci(
            confidence_level=confidence, method="exact" if method == "clopper_pearson" else "wilson")
        low, high = float(ci.low), float(ci.high)
    elif method == "jeffreys":
        low, high = (float(x) for x in stats.beta.ppf([alpha / 2, 1 - alpha / 2], k + 0.5, n - k + 0.5))
    elif method == "agresti_coull":
        z = stats.norm.isf(alpha / 2)
        nt = n + z * z
        pt = (k + z * z / 2) / nt
        hw = z * math.sqrt(pt * (1 - pt) / nt)
        low, high = max(0.0, pt - hw), min(1.0, pt + hw)
    else:
        raise ValueError(f"unknown method {method!r}; one of {BINOMIAL_METHODS}")
    return Interval(k / n, low, high, confidence, method, int(n), {"k": int(k)})


def wilson(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for k successes in n trials (``.low``, ``.high``)."""
    return binomial_interval(k, n, confidence, "wilson")


@dataclass(frozen=True)
class SeedSummary:
    mean: float  # over problems and seeds
    seed_means: tuple[float, ...]
    seed_sd: float  # sample SD of the per-seed accuracies (nan with one seed)
    n_problems: int
    n_seeds: int


def seed_summary(correct: np.ndarray) -> SeedSummary:
    """``correct[problem, seed]`` (bool or 0/1; NaN for missing) -> mean and across-seed SD. The mean is
    evalkit's one accuracy: over problems, each weighted equally, of its mean over its seeds."""
    c = np.asarray(correct, dtype=float)
    if c.ndim != 2:
        raise ValueError("expected a 2-d array correct[problem, seed]")
    seed_means = per_seed_accuracy(c)
    sd = float(np.std(seed_means, ddof=1)) if c.shape[1] > 1 else float("nan")
    mean = float(np.mean(problem_accuracy(c)))
    return SeedSummary(mean, tuple(float(x) for x in seed_means), sd, c.shape[0], c.shape[1])


def wilson_rate(p: float, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval from an observed rate (for reported accuracies that are averages over
    samples, so p*n need not be an integer). Equals :func:`wilson` when p*n is an integer."""
    confidence = confidence_level(confidence)
    if not 0 <= p <= 1 or n <= 0:
        raise ValueError(f"need 0 <= p <= 1 and n > 0, got p={p}, n={n}")
    lo, hi = wilson_bounds(p, n, float(stats.norm.isf((1 - confidence) / 2)))
    return Interval(p, lo, hi, confidence, "wilson", int(n), {"rate": p})


def newcombe_difference(p1: float, n1: int, p2: float, n2: int, confidence: float = 0.95) -> Interval:
    """Newcombe's hybrid score interval (method 10) for p1 - p2 from two independent samples."""
    a, b = wilson_rate(p1, n1, confidence), wilson_rate(p2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)
    high = d + math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)
    return Interval(d, low, high, confidence, "Newcombe hybrid score (independent samples)", int(n1 + n2),
                    {"n1": n1, "n2": n2})


def two_proportion_z(p1: float, n1: int, p2: float, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z test (two-sided): (z, p-value)."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (p1 - p2) / se
    return z, float(2 * stats.norm.sf(abs(z)))
