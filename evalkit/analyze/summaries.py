"""Statistics from published summaries alone: multi-seed means and SDs, single runs and budget-forcing
ladders (reported numbers, no per-problem outcomes). Pure arithmetic on the summaries; each function
returns the figures a claim's verdict prints.

Two estimands recur (``docs/statistics.md``):

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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from evalkit.analyze.intervals import wilson_bounds
from evalkit.analyze.power import slope_power


def sd_interval(sd: float, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Chi-square interval for an SD of k per-seed accuracies (k - 1 df; exact for normal per-seed
    accuracies, which means over 30 problems are close to). The formula of
    :func:`evalkit.analyze.seed_sd_interval` without per-problem outcomes, from the SD alone."""
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
    share_between: (
        float  # Var(p_i) / (pbar (1 - pbar)): 0 = every problem a coin, 1 = every problem always right or wrong
    )
    se_fixed: float  # SE of the k-seed mean for these problems
    se_population: float  # ... for the population of problems


def seed_spread(mean: float, sd: float, n: int, k: int) -> SeedSpread:
    within = n * sd * sd  # mean over problems of p_i (1 - p_i)
    total = mean * (1 - mean)
    between = max(total - within, 0.0)
    return SeedSpread(math.sqrt(between), between / total if total > 0 else float("nan"), sd / math.sqrt(k),
                      math.sqrt((between + within / k) / n))


def population_interval(mean: float, sd: float, n: int, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for the population of problems around a k-seed mean: Wilson's score interval
    (:func:`evalkit.analyze.intervals.wilson_bounds`) on the effective sample size p(1 - p) / SE^2,
    shrunk by (z / t_{n-1})^2 for the n - 1 degrees of freedom (Korn-Graubard, as
    :func:`evalkit.analyze.accuracy_interval`, without its small-count Poisson bounds). The SE is
    :func:`seed_spread`'s at the lower end of the seed SD's chi-square interval: it falls as the SD
    rises, and the problems' spread recovered from one SD is noisy (coverage at the SD and at the lower
    end: ``benchmarks/design_results.md``, from benchmarks/claims_calibration.py). Returns ``(lo, hi)``."""
    se = seed_spread(mean, sd_interval(sd, k, confidence)[0], n, k).se_population
    z = float(stats.norm.isf((1 - confidence) / 2))
    t = float(stats.t.isf((1 - confidence) / 2, n - 1))
    n_eff = (mean * (1 - mean) / se ** 2 if se > 0 else float(n * k)) * (z / t) ** 2
    return wilson_bounds(mean, n_eff, z)


def single_run_range(mean: float, sd: float, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Where one more run at the same settings falls (t prediction interval from k seeds)."""
    t = stats.t.isf((1 - confidence) / 2, k - 1)
    h = t * sd * math.sqrt(1 + 1 / k)
    return mean - h, mean + h


def fixed_set_difference(mean: float, sd: float, n: int, k: int, other: float,
                         confidence: float = 0.95) -> tuple[float, float]:
    """Interval for a k-seed mean minus a number taken as fixed, for these problems: seed noise only
    (SE = SD / sqrt(k), t on k - 1 df)."""
    t = float(stats.t.isf((1 - confidence) / 2, k - 1))
    se = seed_spread(mean, sd, n, k).se_fixed
    return mean - other - t * se, mean - other + t * se


def mover_difference(p1: float, ci1: tuple[float, float], p2: float, ci2: tuple[float, float]) -> tuple[float, float]:
    """MOVER interval for p1 - p2 from two independent intervals (Newcombe's construction; unpaired)."""
    d = p1 - p2
    return d - math.hypot(p1 - ci1[0], ci2[1] - p2), d + math.hypot(ci1[1] - p1, p2 - ci2[0])


def best_paired_p(k1: int, k2: int) -> tuple[int, float]:
    """The most favourable paired case of two runs on the same problems with k1 and k2 correct: at
    least |k1 - k2| problems differ, and that many discordant problems all in one direction give the
    smallest exact McNemar p-value any pairing allows. Returns (discordant, p)."""
    m = abs(int(k1) - int(k2))
    return m, (float(stats.binomtest(m, m, 0.5).pvalue) if m else 1.0)


@dataclass(frozen=True)
class YardstickPosition:
    median: float
    maximum: float
    percentile: float  # share of the yardstick at or below the value


def yardstick_position(values: list[float] | np.ndarray, x: float) -> YardstickPosition:
    """Where ``x`` stands among other systems' values (e.g. seed SDs, in the same units)."""
    v = np.asarray(values, dtype=float)
    return YardstickPosition(float(np.median(v)), float(v.max()), float(np.mean(v <= x + 1e-9)))


@dataclass(frozen=True)
class Trend:
    slope: float  # accuracy per ignore (least squares over the steps)
    se: float  # of the slope, steps as independent samples of n problems
    z: float  # Cochran-Armitage
    p: float
    best_paired_p: float  # exact McNemar p in the most favourable pairing of the lowest and highest step
    discordant: int  # problems that must differ between those two steps
    counts: tuple[int, ...]


def ladder_trend(xs: Sequence[float], accs: Sequence[float], n: int) -> Trend:
    """Cochran-Armitage test for a linear trend of accuracy over the ladder (each step n problems),
    and the most favourable paired case between its lowest and highest step (:func:`best_paired_p`)."""
    x = np.asarray(xs, dtype=float)
    k = np.rint(np.asarray(accs) * n).astype(int)
    p = k / n
    pbar = float(k.sum() / (n * len(k)))
    sxx = float(((x - x.mean()) ** 2).sum())
    slope = float(((x - x.mean()) * (p - p.mean())).sum() / sxx)
    se = math.sqrt(pbar * (1 - pbar) / n / sxx) if 0 < pbar < 1 else float("nan")
    z = slope / se if se > 0 else 0.0
    m, best = best_paired_p(int(k.max()), int(k.min()))
    return Trend(slope, se, z, float(2 * stats.norm.sf(abs(z))), best, m, tuple(int(v) for v in k))


@dataclass(frozen=True)
class TrendPower:
    low: float  # interval for the slope (steps as independent samples)
    high: float
    mdd: float  # minimum detectable slope at power 0.8
    problems_needed: int  # unpaired, to detect the observed slope with power 0.8
    power: dict[float, float]  # power for the observed slope by the correlation of the steps' outcomes


def trend_power(
    tr: Trend, n: int, alpha: float = 0.05, correlations: tuple[float, ...] = (0.0, 0.5, 0.9)
) -> TrendPower:
    """Interval, minimum detectable slope and power of a ladder's trend test at n problems per step;
    paired steps (outcomes correlating ``rho``) shrink the slope's SE by sqrt(1 - rho)."""
    c = stats.norm.isf(alpha / 2)
    mdd = float(c + stats.norm.ppf(0.8)) * tr.se
    need = math.ceil(n * (mdd / tr.slope) ** 2) if tr.slope else 0
    pw = {rho: slope_power(tr.slope, tr.se * math.sqrt(1 - rho), alpha) for rho in correlations}
    return TrendPower(tr.slope - c * tr.se, tr.slope + c * tr.se, mdd, need, pw)
