"""Two-level (problems x seeds) inference for accuracy: bootstrap, clustered SE, variance components.

Data are ``correct[problem, seed]`` or ``correct[problem, seed, sample]`` arrays of 0/1 (bool), with
NaN for missing cells. The estimand is the mean over problems of each problem's accuracy (equal to
the pooled mean when every problem has the same number of samples).

The two-level bootstrap resamples problems with replacement, then the samples within each drawn
problem with replacement. For 0/1 data the within-problem mean of a resample is exactly
Binomial(n_p, p̂_p) / n_p in distribution, so it is drawn that way: no (B x P x S) index array, which
is what makes 10,000 resamples of 500 x 64 take well under a second. Other data with few distinct
values use the multinomial analogue; continuous data fall back to index resampling in chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from evalkit.analyze.intervals import Interval


def as_units(correct: np.ndarray) -> np.ndarray:
    """(problem, seed[, sample]) -> (problem, unit) float array; NaN marks a missing unit."""
    c = np.asarray(correct, dtype=float)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim == 3:
        c = c.reshape(c.shape[0], -1)
    if c.ndim != 2:
        raise ValueError(f"expected correct[problem, seed(, sample)], got shape {np.shape(correct)}")
    if c.shape[0] < 2:
        raise ValueError("need at least two problems")
    counts = np.sum(~np.isnan(c), axis=1)
    if np.any(counts == 0):
        raise ValueError(f"problems without any observation: rows {np.flatnonzero(counts == 0).tolist()}")
    return c


def problem_means(correct: np.ndarray) -> np.ndarray:
    return np.nanmean(as_units(correct), axis=1)


def _levels(c: np.ndarray, max_levels: int = 8) -> np.ndarray | None:
    vals = np.unique(c[~np.isnan(c)])
    return vals if len(vals) <= max_levels else None


def _within_resample_means(c: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Resampled within-problem means for problem draws ``idx`` (B x P)."""
    n = np.sum(~np.isnan(c), axis=1)
    levels = _levels(c)
    if levels is not None and set(levels.tolist()) <= {0.0, 1.0}:
        k = np.nansum(c, axis=1)
        nn = n[idx]
        return rng.binomial(nn, k[idx] / nn) / nn
    if levels is not None:
        counts = np.stack([np.sum(c == v, axis=1) for v in levels], axis=1)  # (P, L)
        probs = counts / n[:, None]
        draws = rng.multinomial(n[idx], probs[idx])  # (B, P, L)
        return draws @ levels / n[idx]
    # continuous values: index resampling, vectorised; missing units are moved to the end of each row
    order = np.argsort(np.isnan(c), axis=1, kind="stable")
    compact = np.take_along_axis(c, order, axis=1)
    M = c.shape[1]
    nn = n[idx][..., None]  # (B, P, 1)
    draws = np.floor(rng.random(idx.shape + (M,)) * nn).astype(np.int64)
    vals = compact[idx[..., None], draws]
    used = np.arange(M) < nn
    return np.where(used, vals, 0.0).sum(axis=-1) / nn[..., 0]


def bootstrap_means(correct: np.ndarray, n_boot: int = 10_000, seed: int | np.random.Generator = 0,
                    two_level: bool = True, chunk: int = 2_000) -> np.ndarray:
    """``n_boot`` bootstrap replicates of the problem-weighted mean accuracy."""
    c = as_units(correct)
    rng = np.random.default_rng(seed)
    P = c.shape[0]
    pm = np.nanmean(c, axis=1)
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, P, size=(b, P))
        w = _within_resample_means(c, idx, rng) if two_level else pm[idx]
        out[start:start + b] = w.mean(axis=1)
    return out


def _bca(theta: float, boots: np.ndarray, jack: np.ndarray, alpha: float) -> tuple[float, float, dict]:
    prop = (np.sum(boots < theta) + 0.5 * np.sum(boots == theta)) / len(boots)
    prop = min(max(prop, 1 / (2 * len(boots))), 1 - 1 / (2 * len(boots)))
    z0 = stats.norm.ppf(prop)
    d = jack.mean() - jack
    denom = 6.0 * np.sum(d ** 2) ** 1.5
    a = float(np.sum(d ** 3) / denom) if denom > 0 else 0.0
    zs = stats.norm.ppf([alpha / 2, 1 - alpha / 2])
    adj = stats.norm.cdf(z0 + (z0 + zs) / (1 - a * (z0 + zs)))
    lo, hi = np.quantile(boots, adj)
    return float(lo), float(hi), {"z0": float(z0), "acceleration": a}


def jackknife_problem_means(correct: np.ndarray) -> np.ndarray:
    pm = problem_means(correct)
    P = len(pm)
    return (pm.sum() - pm) / (P - 1)


def two_level_bootstrap(correct: np.ndarray, *, confidence: float = 0.95, n_boot: int = 10_000,
                        method: str = "percentile", seed: int = 0) -> Interval:
    """Two-level bootstrap interval for mean accuracy over problems x seeds(x samples).

    ``method``: ``percentile`` or ``bca`` (bias-corrected and accelerated; acceleration from the
    leave-one-problem-out jackknife).
    """
    c = as_units(correct)
    theta = float(np.mean(np.nanmean(c, axis=1)))
    boots = bootstrap_means(c, n_boot, seed)
    alpha = 1 - confidence
    details: dict = {"n_boot": n_boot, "seed": seed, "n_units": int(np.sum(~np.isnan(c))),
                     "boot_se": float(np.std(boots, ddof=1))}
    if method == "percentile":
        lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    elif method == "bca":
        lo, hi, extra = _bca(theta, boots, jackknife_problem_means(c), alpha)
        details.update(extra)
    else:
        raise ValueError(f"method must be percentile or bca, got {method!r}")
    return Interval(theta, float(lo), float(hi), confidence, f"two-level bootstrap ({method})", c.shape[0],
                    details)


def clustered_se(correct: np.ndarray) -> float:
    """Standard error of evalkit's accuracy (the mean over problems of each problem's mean over its
    seeds), problems as clusters: SD of the problem means / sqrt(P). With equal seeds per problem this
    is exactly the cluster-robust (CR1) SE of the pooled mean; with unequal seeds it stays the SE of the
    mean that is reported (the pooled mean weights problems by their seed counts)."""
    pm = problem_means(correct)
    return float(np.std(pm, ddof=1) / np.sqrt(len(pm)))


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
    c3 = np.asarray(correct, dtype=float)
    if c3.ndim not in (2, 3):
        raise ValueError("expected correct[problem, seed(, sample)]")
    per_seed = c3 if c3.ndim == 2 else np.nanmean(c3, axis=2)
    seed_means = np.nanmean(per_seed, axis=0)
    c = as_units(c3)
    from evalkit.analyze.resample import mean_of, resample

    pm = np.nanmean(c, axis=1)
    theta = float(np.mean(pm))
    perc = resample(pm, mean_of(0), n_resamples=n_boot, rng=seed, confidence=confidence, method="percentile")
    bca = resample(pm, mean_of(0), n_resamples=n_boot, rng=seed, confidence=confidence, method="bca")
    det = {"n_boot": n_boot, "seed": seed}
    return MultiSeedAccuracy(
        mean=theta,
        seed_means=tuple(float(x) for x in seed_means),
        seed_sd=float(np.std(seed_means, ddof=1)) if len(seed_means) > 1 else float("nan"),
        clustered_se=clustered_se(c),
        percentile=Interval(theta, float(perc.low[0]), float(perc.high[0]), confidence, "problem bootstrap (percentile)",
                            c.shape[0], det),
        bca=Interval(theta, float(bca.low[0]), float(bca.high[0]), confidence, "problem bootstrap (bca)", c.shape[0],
                     {**det, "acceleration": bca.details["acceleration"][0]}),
        components=variance_components(c) if np.any(np.sum(~np.isnan(c), axis=1) > 1) else None,
        n_problems=c.shape[0],
        n_seeds=per_seed.shape[1],
    )


def loop_bootstrap_reference(correct: np.ndarray, n_boot: int, seed: int = 0,
                             statistic: Callable[[np.ndarray], float] = np.mean) -> np.ndarray:
    """The plain-loop two-level bootstrap (for benchmarks and cross-checks only)."""
    c = as_units(correct)
    rng = np.random.default_rng(seed)
    P = c.shape[0]
    rows = [r[~np.isnan(r)] for r in c]
    out = np.empty(n_boot)
    for b in range(n_boot):
        vals = []
        for p in rng.integers(0, P, P):
            r = rows[p]
            vals.append(statistic(r[rng.integers(0, len(r), len(r))]))
        out[b] = float(np.mean(vals))
    return out
