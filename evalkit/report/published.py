"""Claims decided from published numbers alone: multi-seed means and SDs, single runs, and
budget-forcing ladders (:mod:`evalkit.report.reported`). Pure arithmetic on the reported summaries;
each function returns the figures a verdict prints.

Two estimands recur (README, statistics):

- **these problems** (the fixed benchmark): only seed noise counts; the SE of a k-seed mean is
  SD / sqrt(k), which shrinks with seeds;
- **the population of problems** the benchmark stands for: problem sampling counts too and does not
  shrink with seeds. From a seed SD over n problems one recovers the problems' spread: the per-seed
  accuracy is a mean of n independent Bernoulli(p_i), so SD^2 = sum p_i (1 - p_i) / n^2, hence
  mean p_i (1 - p_i) = n SD^2 and Var(p_i) = pbar (1 - pbar) - n SD^2; the SE of the k-seed mean for
  the population is sqrt((Var(p_i) + n SD^2 / k) / n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


def sd_interval(sd: float, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Chi-square interval for an SD of k per-seed accuracies (k - 1 df; exact for normal per-seed
    accuracies, which means over 30 problems are close to)."""
    a = 1 - confidence
    return (sd * math.sqrt((k - 1) / stats.chi2.isf(a / 2, k - 1)),
            sd * math.sqrt((k - 1) / stats.chi2.ppf(a / 2, k - 1)))


def max_seed_sd(n: int, p: float | None = None) -> float:
    """The largest seed SD of accuracy over n problems: every problem a coin with the mean accuracy
    (sqrt(p (1 - p) / n)); with p unknown, p = 1/2 (0.5 / sqrt(n): 9.1 points at n = 30)."""
    p = 0.5 if p is None else p
    return math.sqrt(p * (1 - p) / n)


@dataclass(frozen=True)
class SeedSpread:
    """What a seed SD over n problems says about the problems."""

    problem_sd: float  # SD of the problems' accuracies p_i (0 if the seed SD is at its maximum)
    share_between: float  # Var(p_i) / (pbar (1 - pbar)): 0 = every problem a coin, 1 = every problem always right or wrong
    se_fixed: float  # SE of the k-seed mean for these problems
    se_population: float  # ... for the population of problems


def seed_spread(mean: float, sd: float, n: int, k: int) -> SeedSpread:
    within = n * sd * sd  # mean over problems of p_i (1 - p_i)
    total = mean * (1 - mean)
    between = max(total - within, 0.0)
    return SeedSpread(math.sqrt(between), between / total if total > 0 else float("nan"), sd / math.sqrt(k),
                      math.sqrt((between + within / k) / n))


def population_interval(mean: float, sd: float, n: int, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for the population of problems around a k-seed mean: Wilson's score interval on the
    effective sample size p(1 - p) / SE^2, shrunk by (z / t_{n-1})^2 for the n - 1 degrees of freedom
    (Korn-Graubard, as :func:`evalkit.analyze.accuracy_interval`). The SE is :func:`seed_spread`'s at
    the lower end of the seed SD's chi-square interval: it falls as the SD rises, and the problems'
    spread recovered from one SD is noisy (at the SD itself, 30 AIME-like problems x 10 seeds covered
    0.92; at the lower end 0.95+: benchmarks/claims_calibration.py)."""
    se = seed_spread(mean, sd_interval(sd, k, confidence)[0], n, k).se_population
    z = float(stats.norm.isf((1 - confidence) / 2))
    t = float(stats.t.isf((1 - confidence) / 2, n - 1))
    n_eff = (mean * (1 - mean) / se ** 2 if se > 0 else float(n * k)) * (z / t) ** 2
    d = 1 + z * z / n_eff
    centre = (mean + z * z / (2 * n_eff)) / d
    h = z * math.sqrt(mean * (1 - mean) / n_eff + z * z / (4 * n_eff * n_eff)) / d
    return max(0.0, centre - h), min(1.0, centre + h)


def single_run_range(mean: float, sd: float, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Where one more run at the same settings falls (t prediction interval from k seeds)."""
    t = stats.t.isf((1 - confidence) / 2, k - 1)
    h = t * sd * math.sqrt(1 + 1 / k)
    return mean - h, mean + h


@dataclass(frozen=True)
class Trend:
    slope: float  # accuracy per ignore (least squares over the steps)
    se: float  # of the slope, steps as independent samples of n problems
    z: float  # Cochran-Armitage
    p: float
    best_paired_p: float  # exact McNemar p in the most favourable pairing of the lowest and highest step
    discordant: int  # problems that must differ between those two steps
    counts: tuple[int, ...]


def ladder_trend(xs: list[float], accs: list[float], n: int) -> Trend:
    """Cochran-Armitage test for a linear trend of accuracy over the ladder (each step n problems),
    and the most favourable paired case between its lowest and highest step (as claim C5 does)."""
    x = np.asarray(xs, dtype=float)
    k = np.rint(np.asarray(accs) * n).astype(int)
    p = k / n
    pbar = float(k.sum() / (n * len(k)))
    sxx = float(((x - x.mean()) ** 2).sum())
    slope = float(((x - x.mean()) * (p - p.mean())).sum() / sxx)
    se = math.sqrt(pbar * (1 - pbar) / n / sxx) if 0 < pbar < 1 else float("nan")
    z = slope / se if se > 0 else 0.0
    m = int(k.max() - k.min())
    best = float(stats.binomtest(m, m, 0.5).pvalue) if m else 1.0
    return Trend(slope, se, z, float(2 * stats.norm.sf(abs(z))), best, m, tuple(int(v) for v in k))


def slope_power(slope: float, se: float, alpha: float = 0.05) -> float:
    """Power of a two-sided z test at ``alpha`` when the true slope is ``slope`` and its SE ``se``."""
    if not se > 0:
        return float("nan")
    z, c = abs(slope) / se, stats.norm.isf(alpha / 2)
    return float(stats.norm.sf(c - z) + stats.norm.cdf(-c - z))
