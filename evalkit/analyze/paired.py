"""Paired comparisons of two cells on the same problems x seeds, and multiplicity corrections."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

from evalkit.analyze.bootstrap import as_units
from evalkit.analyze.clustered import paired_interval
from evalkit.analyze.intervals import Interval, TestResult


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired cells need the same problems x seeds; shapes {a.shape} and {b.shape}")
    return as_units(a - b)


def paired_difference(a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95) -> Interval:
    """Mean over problems of (a - b) on the same problems x seeds, with the paired t interval on the
    per-problem differences (estimand: population of problems). Calibration: benchmarks/calibration.py.
    (Until evalkit 0.1 this was a two-level bootstrap, which counted seed noise twice: type-I error
    0.008 at nominal 0.05 on 30 problems x 10 seeds.)"""
    return paired_interval(a, b, confidence)


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Exact McNemar test for one sample per problem: binomial test on the discordant pairs. More than
    one seed per problem is refused: the pairs of one problem are not independent (type-I error 0.26
    at nominal 0.05 when per-problem effects vary); use :func:`sign_flip_test`."""
    a, b = np.asarray(a), np.asarray(b)
    if (a.ndim == 2 and a.shape[1] > 1) or a.ndim > 2:
        raise ValueError(f"McNemar needs one sample per problem, got shape {a.shape}: the seeds of a problem are "
                         "not independent pairs; use sign_flip_test (problem-level) instead")
    a, b = a.astype(bool).ravel(), b.astype(bool).ravel()
    if a.shape != b.shape:
        raise ValueError("McNemar needs paired vectors of equal length")
    n01 = int(np.sum(a & ~b))
    n10 = int(np.sum(~a & b))
    n = n01 + n10
    p = 1.0 if n == 0 else float(stats.binomtest(n01, n, 0.5).pvalue)
    return TestResult(float(n01 - n10), p, "exact McNemar", len(a), {"a_only": n01, "b_only": n10})


def sign_flip_test(a: np.ndarray, b: np.ndarray, *, n_perm: int = 20_000, seed: int = 0,
                   exact_max_problems: int = 20) -> TestResult:
    """Problem-level sign-flip permutation test of mean(a - b) = 0 (two-sided).

    Under H0 each problem's mean difference is symmetric about 0; all 2^P flips are enumerated when
    P <= ``exact_max_problems``, else ``n_perm`` random flips (p-value with the +1 correction).
    """
    d = np.nanmean(_pair(a, b), axis=1)
    P = len(d)
    t = abs(float(d.mean()))
    if P <= exact_max_problems:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=P)))
        null = np.abs(signs @ d / P)
        p = float(np.mean(null >= t - 1e-12))
        method = "sign-flip permutation (exact)"
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((1.0, -1.0), size=(n_perm, P))
        null = np.abs(signs @ d / P)
        p = float((np.sum(null >= t - 1e-12) + 1) / (n_perm + 1))
        method = "sign-flip permutation (Monte Carlo)"
    return TestResult(float(d.mean()), p, method, P, {"n_perm": None if P <= exact_max_problems else n_perm})


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error). NaN p-values are refused, as
    :func:`benjamini_hochberg` refuses them (a NaN would silently count into m)."""
    p = np.asarray(pvalues, dtype=float)
    if np.any(np.isnan(p)):
        raise ValueError("p-values contain NaN")
    m = len(p)
    order = np.argsort(p)
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), via scipy."""
    return stats.false_discovery_control(np.asarray(pvalues, dtype=float), method="bh")


def subset_difference(correct: np.ndarray, keep: np.ndarray, *, confidence: float = 0.95, n_boot: int = 10_000,
                      seed: int = 0) -> Interval:
    """Accuracy on a subset of the problems (``keep``) minus accuracy on all of them.

    Estimand: mean over kept problems of each problem's accuracy, minus the mean over all problems
    (equivalently ``(1 - K/P) * (mean_kept - mean_dropped)``), for the population of problems. The two
    accuracies share the kept problems, so they are compared on the same resample: the problem
    bootstrap of :func:`evalkit.analyze.resample` draws P problems, and the statistic is the ratio
    estimator (kept mean over the drawn kept problems) minus the mean over all drawn problems;
    interval: estimate +- t x bootstrap SE (``method="t"``). Replicates that draw no kept problem are
    undefined and left out (``details``)."""
    from evalkit.analyze.resample import resample

    c = as_units(correct)
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (c.shape[0],):
        raise ValueError(f"keep must have one entry per problem ({c.shape[0]}), got shape {keep.shape}")
    if not keep.any():
        raise ValueError("the subset is empty")
    pm = np.nanmean(c, axis=1)

    def stat(w: np.ndarray, rows: np.ndarray) -> np.ndarray:
        k = rows[:, 1]
        return (w @ (rows[:, 0] * k)) / (w @ k) - (w @ rows[:, 0]) / w.sum(axis=1)

    r = resample(np.c_[pm, keep.astype(float)], stat, n_resamples=n_boot, rng=seed, confidence=confidence, method="t")
    return Interval(float(r.estimate[0]), float(r.low[0]), float(r.high[0]), confidence,
                    "problem bootstrap of subset - full (t)", c.shape[0],
                    {"n_boot": n_boot, "seed": seed, "kept": int(keep.sum()), "dropped_replicates": r.details["undefined"],
                     "boot_se": float(r.se[0]), "estimand": "population of problems"})
