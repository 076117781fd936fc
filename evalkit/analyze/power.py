"""Power analysis: problems x seeds designs (normal approximation with a design effect), two proportions,
a trend's slope, and the precision of a seed SD."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

from scipy import stats


def _var_mean(p: float, n_problems: int, n_seeds: int, icc: float) -> float:
    """Variance of mean accuracy over n problems x k seeds with within-problem correlation ``icc``:
    p(1-p)/(n k) * (1 + (k-1) icc)."""
    return p * (1 - p) / (n_problems * n_seeds) * (1 + (n_seeds - 1) * icc)


def _check(icc: float, n_problems: int, n_seeds: int, corr: float) -> None:
    if not 0.0 <= icc <= 1.0 or math.isnan(icc):
        raise ValueError(f"icc must be in [0, 1], got {icc}")
    if not -1.0 <= corr <= 1.0 or math.isnan(corr):
        raise ValueError(f"paired_correlation must be in [-1, 1], got {corr}")
    if n_problems < 1 or n_seeds < 1:
        raise ValueError(f"need n_problems >= 1 and n_seeds >= 1, got {n_problems} and {n_seeds}")


@dataclass(frozen=True)
class PowerResult:
    mdd: float  # minimum detectable difference (absolute accuracy)
    se_difference: float
    alpha: float
    power: float
    n_problems: int
    n_seeds: int
    icc: float
    paired_correlation: float

    def __str__(self) -> str:
        return (f"minimum detectable difference {self.mdd:.3f} at alpha={self.alpha}, power={self.power} "
                f"({self.n_problems} problems x {self.n_seeds} seeds, ICC {self.icc}, "
                f"pair correlation {self.paired_correlation})")


def minimum_detectable_difference(baseline: float, n_problems: int, n_seeds: int = 1, *, icc: float = 0.0,
                                  alpha: float = 0.05, power: float = 0.8,
                                  paired_correlation: float = 0.0) -> PowerResult:
    """Smallest true accuracy difference a two-sided test at ``alpha`` detects with ``power``.

    Two cells each evaluated on ``n_problems`` x ``n_seeds``; ``icc`` is the within-problem (across
    seeds) correlation; ``paired_correlation`` the correlation of the two cells' estimates when they
    share problems (0 for independent benchmarks, as two papers on different runs).
    """
    if not 0 < baseline < 1:
        raise ValueError("baseline accuracy must be in (0, 1)")
    _check(icc, n_problems, n_seeds, paired_correlation)
    v = _var_mean(baseline, n_problems, n_seeds, icc)
    se = math.sqrt(2 * v * (1 - paired_correlation))
    z = stats.norm.isf(alpha / 2) + stats.norm.ppf(power)
    return PowerResult(z * se, se, alpha, power, n_problems, n_seeds, icc, paired_correlation)


def n_for_difference(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Problems per arm for an unpaired two-proportion test at ``alpha`` to detect p1 - p2 with ``power``
    (normal approximation at the average rate)."""
    z = stats.norm.isf(alpha / 2) + stats.norm.ppf(power)
    pbar = (p1 + p2) / 2
    return cast("int", math.ceil(z * z * 2 * pbar * (1 - pbar) / (p1 - p2) ** 2))


def slope_power(slope: float, se: float, alpha: float = 0.05) -> float:
    """Power of a two-sided z test at ``alpha`` when the true slope is ``slope`` and its SE ``se``."""
    if not se > 0:
        return float("nan")
    z, c = abs(slope) / se, stats.norm.isf(alpha / 2)
    return float(stats.norm.sf(c - z) + stats.norm.cdf(-c - z))


def sd_relative_half_width(k: int) -> float:
    """Relative half-width of an SD estimated from k seeds, about 1 / sqrt(2 (k - 1)) (24% at k = 10)."""
    return 1 / math.sqrt(2 * (k - 1))
