"""Intervals for accuracy over problems x seeds whose coverage is shown by simulation
(``benchmarks/calibration.py``; README, "How far to trust each column").

Estimand (unless a function says otherwise): the mean, over the population of problems the benchmark
is drawn from, of a problem's accuracy (its probability of a correct answer under the sampling
settings). Problems are weighted equally; a problem's accuracy is estimated by its mean over however
many seeds (samples) it has, so unequal seeds per problem change the precision, never the estimand.
This is what "model A beats model B on AIME" is about. The other estimand, the mean over *this* fixed
problem set (what seed variance is about), is :func:`fixed_set_interval`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from evalkit.analyze.bootstrap import as_units
from evalkit.analyze.intervals import Interval, TestResult


def per_problem(correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(problem means, units per problem) of ``correct[problem, seed(, sample)]`` with NaN for missing."""
    c = as_units(correct)
    return np.nanmean(c, axis=1), np.sum(~np.isnan(c), axis=1)


def _wilson(p: float, n: float, z: float) -> tuple[float, float]:
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    hw = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - hw), min(1.0, centre + hw)


def effective_n(problem_means: np.ndarray, units: np.ndarray) -> float:
    """Kish / Korn-Graubard effective sample size of the problem-weighted mean: p(1-p) / Var(mean),
    with Var from the problems' spread (cluster-robust), at most the number of units; P when the
    spread says nothing (accuracy 0 or 1: seeds may be fully correlated)."""
    P = len(problem_means)
    p = float(problem_means.mean())
    v = float(problem_means.var(ddof=1)) / P
    total = float(units.sum())
    if p <= 0.0 or p >= 1.0:
        return float(P)
    if v <= 0.0:
        return total
    return float(min(total, max(1.0, p * (1 - p) / v)))


def accuracy_interval(correct: np.ndarray, confidence: float = 0.95) -> Interval:
    """Problem-clustered score interval for mean accuracy (estimand: population of problems).

    Wilson's score interval with the effective sample size of :func:`effective_n`, shrunk by
    (z / t_{P-1})^2 for the P - 1 degrees of freedom of the variance estimate (Korn and Graubard, 1998).
    With one sample per problem the samples are independent and it is Wilson's interval on P.
    Never of zero width, also at 0 or P correct."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    pm, n = per_problem(correct)
    P = len(pm)
    p = float(pm.mean())
    z = float(stats.norm.isf((1 - confidence) / 2))
    if np.all(n == 1):
        n_eff, method = float(P), "Wilson (one sample per problem)"
    else:
        t = float(stats.t.isf((1 - confidence) / 2, P - 1))
        n_eff, method = effective_n(pm, n) * (z / t) ** 2, "problem-clustered Wilson (Korn-Graubard effective n)"
    lo, hi = _wilson(p, n_eff, z)
    return Interval(p, lo, hi, confidence, method, P,
                    {"n_eff": n_eff, "units": int(n.sum()), "estimand": "population of problems"})


def paired_interval(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean over problems of (accuracy of a - accuracy of b), both on the same problems and seeds,
    with the paired t interval on the per-problem differences (P - 1 degrees of freedom; estimand:
    population of problems). Where every difference is 0 the interval is [0, 0]: no pair disagrees."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired cells need the same problems x seeds; shapes {a.shape} and {b.shape}")
    if np.any(np.isnan(a) != np.isnan(b)):
        raise ValueError("paired cells must miss the same (problem, seed) units")
    d, _ = per_problem(a - b)
    P = len(d)
    m = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(P)
    t = float(stats.t.isf((1 - confidence) / 2, P - 1))
    return Interval(m, m - t * se, m + t * se, confidence, "paired t on per-problem differences", P,
                    {"se": se, "df": P - 1, "estimand": "population of problems"})


def paired_t_test(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Two-sided paired t test of mean(a - b) = 0 over per-problem differences (P - 1 df): the test
    that matches :func:`paired_interval` (rejects exactly when the interval excludes 0). Its level
    holds at 30 problems x 1-10 seeds in every simulated design (benchmarks/calibration.py), where the
    sign-flip test is conservative with few seeds (discrete differences)."""
    iv = paired_interval(a, b)
    se = iv.details["se"]
    if se == 0:
        return TestResult(iv.estimate, 1.0 if iv.estimate == 0 else 0.0, "paired t (no variation)", iv.n, {"se": 0.0})
    t = iv.estimate / se
    p = float(2 * stats.t.sf(abs(t), iv.n - 1))
    return TestResult(float(t), p, "paired t over problems", iv.n, {"difference": iv.estimate, "se": se, "df": iv.n - 1})


def fixed_set_interval(correct: np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean accuracy of *these* problems (estimand: the fixed problem set; only seed noise counts):
    the per-problem within-seed variances pooled, Var = sum_i s_i^2 / n_i / P^2, with a t quantile
    on Satterthwaite's degrees of freedom. Needs two or more seeds on some problem."""
    c = np.asarray(correct, dtype=float)
    pm, n = per_problem(c)
    c2 = c.reshape(c.shape[0], -1)
    if not np.any(n >= 2):
        raise ValueError("the fixed-set interval needs two or more seeds per problem (seed noise is not estimable)")
    P = len(pm)
    s2 = np.where(n >= 2, np.nanvar(c2, axis=1, ddof=1) if c2.shape[1] > 1 else 0.0, 0.0)
    terms = np.where(n >= 2, s2 / n, 0.0)
    var = float(terms.sum()) / P ** 2
    df_den = np.sum(np.where(n >= 2, terms ** 2 / np.maximum(n - 1, 1), 0.0))
    df = float(terms.sum() ** 2 / df_den) if df_den > 0 else float(np.sum(n - 1))
    q = float(stats.t.isf((1 - confidence) / 2, max(df, 1.0)))
    m = float(pm.mean())
    se = math.sqrt(var)
    return Interval(m, max(0.0, m - q * se), min(1.0, m + q * se), confidence,
                    "fixed problem set: pooled within-problem variance (t, Satterthwaite df)", P,
                    {"se": se, "df": df, "estimand": "this problem set (seed noise only)"})


def seed_sd_interval(seed_accuracies: np.ndarray, confidence: float = 0.95) -> Interval:
    """SD of k per-seed accuracies with the chi-square interval on k - 1 degrees of freedom
    (exact for normal per-seed accuracies; per-seed accuracies over 30+ problems are close to it)."""
    x = np.asarray(seed_accuracies, dtype=float)
    x = x[np.isfinite(x)]
    k = len(x)
    if k < 2:
        raise ValueError("a seed SD needs two or more seeds")
    sd = float(np.std(x, ddof=1))
    alpha = 1 - confidence
    lo = sd * math.sqrt((k - 1) / stats.chi2.isf(alpha / 2, k - 1))
    hi = sd * math.sqrt((k - 1) / stats.chi2.ppf(alpha / 2, k - 1))
    return Interval(sd, lo, hi, confidence, "chi-square interval for an SD", k, {"df": k - 1})
