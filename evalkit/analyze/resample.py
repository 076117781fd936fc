"""One resampling engine for every bootstrap evalkit computes (after scipy.stats.bootstrap: the result
keeps its distribution, its standard error and its interval).

Unit and levels. The unit of resampling is the problem. ``levels=1`` (what every report uses) draws
problems with replacement and keeps each drawn problem's values (its means over its seeds): a
problem's mean already carries the within-problem (seed) noise. ``levels=2`` (the problems x seeds
bootstrap, kept for decompositions and as evalkit 0.1's legacy interval) also resamples the seeds
within each drawn problem, which counts seed noise a second time (intervals too wide, a paired test
conservative: issue #17; see :func:`evalkit.analyze.bootstrap.variance_components`).

Statistic. Every statistic evalkit bootstraps (a mean, a ratio of means, s1's scaling metrics of cell
means, interpolated matched-compute curves of cell means) is a function of the (B, k) matrix of
resampled *column means over problems*, so that is the one thing a statistic receives. ``paired``
(default) resamples the k columns together (one draw of problems, and of seeds, serves every column:
cells on the same problems x seeds); ``paired=False`` gives every column its own draws.

Sufficient statistics (the same distribution as drawing indices, exactly, at a fraction of the cost):

- ``levels=1``: column means depend on a resample only through how often each *distinct* row was
  drawn, so rows are grouped (``np.unique``) and a resample is one Multinomial(P, sizes / P) over the
  G <= P groups (for 0/1 outcomes over S seeds, G <= S + 1 per cell).
- ``levels=2``: problems are grouped by the multiset of their seed rows. A group g drawn m_g times
  contributes the sum of m_g independent resampled means, i.e. Multinomial(m_g n_g, pattern
  frequencies of g) @ patterns / n_g (n_g seeds per problem). For one column with two values (0/1),
  the P drawn problems' resampled means are P independent draws from the mixture q over problems of
  Binomial(n_p, k_p / n_p) / n_p, so a resample's mean is drawn from its exact distribution, the
  P-fold convolution of q (by FFT, on the lattice j / lcm(n_p)), or, with ragged seed counts whose
  lattice is too fine, as one Multinomial(P, q) over the values x / n_p (its speed:
  ``benchmarks/design_results.md``, from ``benchmarks/bootstrap.py``).

Intervals (one helper for all): ``percentile``; ``bca`` with the acceleration from the
leave-one-problem-out jackknife; ``t``: estimate +- t_{P-1} x bootstrap SE x sqrt(P / (P - 1)), which
for a mean over problems at ``levels=1`` is exactly the cluster t interval (the bootstrap variance of
a mean is (P - 1) / P of s^2 / P) and for a smooth statistic of problem means its delta-method
analogue. ``t`` is what evalkit's reports use (percentile intervals of a mean over few problems
under-cover: ``benchmarks/design_results.md``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
from scipy import fft as sfft
from scipy import stats

Statistic = Callable[[np.ndarray], np.ndarray]  # (B, k) resampled column means -> (B,) or (B, m)
Sampler = Callable[[np.random.Generator, int], np.ndarray]  # (generator, b) -> (b, columns) means
IntervalMethod = Literal["percentile", "bca", "t"]
METHODS = ("percentile", "bca", "t")
_CELLS_PER_BATCH = 1 << 22  # two-level draws: at most this many random counts in memory at once
_LATTICE_POINTS = 1 << 21  # two-level 0/1 draws: largest support of a resample's sum drawn exactly by FFT


@dataclass(frozen=True)
class Resampled:
    """Bootstrap result: the observed statistic, its interval, SE and the whole distribution."""

    estimate: np.ndarray  # (m,) observed statistic
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    distribution: np.ndarray  # (B, m) replicates (NaN where a replicate is undefined)
    confidence: float
    method: str
    n: int  # problems
    details: dict[str, Any] = field(default_factory=dict)
    # leave-one-problem-out statistic per group of identical problems, and the problems per group
    # (computed with method="bca"; what :meth:`interval` needs for BCa)
    jackknife: np.ndarray | None = field(default=None, repr=False)
    jackknife_weights: np.ndarray | None = field(default=None, repr=False)

    def interval(self, method: IntervalMethod, confidence: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Another interval from the same distribution (no resampling): (low, high)."""
        lo, hi, _ = _interval(self.distribution, self.estimate, method, confidence or self.confidence, self.n,
                              self.jackknife, self.jackknife_weights)
        return lo, hi


def _quantiles(dist: np.ndarray, lo_q: np.ndarray, hi_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = dist.shape[1]
    lo, hi = np.full(m, np.nan), np.full(m, np.nan)
    for j in range(m):
        d = dist[:, j]
        d = d[np.isfinite(d)]
        if len(d):
            lo[j], hi[j] = np.quantile(d, [lo_q[j], hi_q[j]])
    return lo, hi


def _bca_levels(dist: np.ndarray, theta: np.ndarray, alpha: float, jack: np.ndarray,
                weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """BCa's adjusted quantile levels per column; acceleration from the (grouped) jackknife."""
    m, P = dist.shape[1], weights.sum()
    lo_q, hi_q = np.full(m, np.nan), np.full(m, np.nan)
    z = stats.norm.ppf([alpha / 2, 1 - alpha / 2])
    accel, z0s = np.zeros(m), np.zeros(m)
    for j in range(m):
        d = dist[:, j][np.isfinite(dist[:, j])]
        if not len(d):
            continue
        prop = (np.sum(d < theta[j]) + 0.5 * np.sum(d == theta[j])) / len(d)
        prop = min(max(prop, 1 / (2 * len(d))), 1 - 1 / (2 * len(d)))
        z0 = stats.norm.ppf(prop)
        dev = np.sum(weights * jack[:, j]) / P - jack[:, j]
        den = 6.0 * np.sum(weights * dev ** 2) ** 1.5
        a = float(np.sum(weights * dev ** 3) / den) if den > 0 else 0.0
        lo_q[j], hi_q[j] = stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
        accel[j], z0s[j] = a, z0
    return lo_q, hi_q, {"acceleration": accel.tolist(), "z0": z0s.tolist()}


def _interval(dist: np.ndarray, theta: np.ndarray, method: str, confidence: float, n: int,
              jack: np.ndarray | None = None, weights: np.ndarray | None = None,
              ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The one interval helper: (low, high, extra details) of a (B, m) bootstrap distribution.
    ``jack`` / ``weights``: leave-one-problem-out statistic per group of problems and its size (BCa)."""
    if method not in METHODS:
        raise ValueError(f"method must be percentile, bca or t, got {method!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = 1 - confidence
    m = dist.shape[1]
    if method == "percentile":
        return (*_quantiles(dist, np.full(m, alpha / 2), np.full(m, 1 - alpha / 2)), {})
    if method == "t":
        q = float(stats.t.isf(alpha / 2, n - 1)) * math.sqrt(n / (n - 1))
        se = _se(dist)
        return theta - q * se, theta + q * se, {}
    if jack is None or weights is None:
        raise ValueError("BCa needs the jackknife: resample with method='bca'")
    lo_q, hi_q, extra = _bca_levels(dist, theta, alpha, jack, weights)
    return (*_quantiles(dist, lo_q, hi_q), extra)


def _se(dist: np.ndarray) -> np.ndarray:
    return np.array([np.std(dist[:, j][np.isfinite(dist[:, j])], ddof=1) if np.isfinite(dist[:, j]).sum() > 1
                     else np.nan for j in range(dist.shape[1])])


def _group_rows(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a (P, k) array (NaN rows grouped too) and how many problems share each."""
    filled = np.where(np.isnan(v), np.inf, v)  # np.unique groups NaN rows apart otherwise
    rows, sizes = np.unique(filled, axis=0, return_counts=True)
    return np.where(np.isinf(rows), np.nan, rows), sizes


def _weighted_means(w: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return cast("np.ndarray", w @ rows / w.sum(axis=1, keepdims=True))


def _one_level(rows: np.ndarray, sizes: np.ndarray) -> tuple[Sampler, int]:
    """Problems drawn with replacement through their grouped rows: one multinomial per resample."""
    P = int(sizes.sum())

    def draw(gen: np.random.Generator, b: int) -> np.ndarray:
        return _weighted_means(gen.multinomial(P, sizes / P, size=b).astype(float), rows)
    return draw, len(rows)


def _binary_two_level(x: np.ndarray) -> tuple[Sampler, int]:
    """One column of (P, S) with at most two distinct values: a resample's P problem means are P
    independent draws from the mixture over problems of Binomial(n_p, k_p / n_p) / n_p (scaled to the
    two values). Their mean is drawn from its exact distribution, the P-fold convolution of that
    mixture (on the lattice j / lcm(n_p)), or, where that lattice is too fine (ragged seed counts), as
    one multinomial over the values the mixture takes."""
    P = x.shape[0]
    ok = ~np.isnan(x)
    vals = np.unique(x[ok])
    low, high = vals[0], vals[-1]
    n = ok.sum(axis=1)
    k = np.sum(x == high, axis=1) if len(vals) == 2 else np.zeros(P, dtype=int)
    pairs, count = np.unique(np.c_[n, k], axis=0, return_counts=True)
    ns = np.unique(pairs[:, 0])
    lattice = math.lcm(*ns.tolist())
    ys, qs = [], []
    for nn in ns:
        sel = pairs[:, 0] == nn
        xs = np.arange(nn + 1)
        qs.append(count[sel] @ stats.binom.pmf(xs[None, :], nn, pairs[sel, 1][:, None] / nn) / P)
        ys.append(xs * (lattice // nn))  # lattice index of x / nn
    if P * lattice <= _LATTICE_POINTS:
        q = np.zeros(lattice + 1)
        np.add.at(q, np.concatenate(ys), np.concatenate(qs))
        return _mean_of_iid(q, P, low, (high - low) / lattice), 1
    y, q = low + (high - low) * np.concatenate(ys) / lattice, np.concatenate(qs)
    order = np.argsort(-q, kind="stable")
    order = order[q[order] > 0]
    y, q = y[order], q[order] / q[order].sum()

    def draw(gen: np.random.Generator, b: int) -> np.ndarray:
        return cast("np.ndarray", (gen.multinomial(P, q, size=b) @ y / P)[:, None])
    return draw, len(q)


def _mean_of_iid(q: np.ndarray, P: int, low: float, step: float) -> Sampler:
    """Draws of the mean of P independent values low + step * j, j ~ q: the sum's pmf is the P-fold
    convolution of q (by FFT; error ~1e-15 per probability), sampled by its inverse CDF."""
    size = P * (len(q) - 1) + 1
    m = sfft.next_fast_len(size, real=True)
    pmf = sfft.irfft(sfft.rfft(q, m) ** P, m)[:size]
    cdf = np.cumsum(np.clip(pmf, 0.0, None))
    cdf /= cdf[-1]

    def draw(gen: np.random.Generator, b: int) -> np.ndarray:
        return (low + step * np.searchsorted(cdf, gen.random(b), side="right") / P)[:, None]
    return draw


def _seed_patterns(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group the problems of a (P, S, k) block by the multiset of their seed rows: (problems per group
    (G,), seeds per problem (G,), pattern frequencies / seeds (G, L), patterns (G, L, k), zero-padded)."""
    P, S, k = block.shape
    present = ~np.isnan(block).all(axis=2)
    if np.isnan(block[present]).any():
        raise ValueError("paired two-level resampling needs the same missing seeds in every column (NaN in some "
                         "columns of a seed only); use paired=False")
    keys = np.full((P, S, k), np.inf)
    for p in range(P):
        r = block[p][present[p]]
        keys[p, :len(r)] = r[np.lexsort(r.T[::-1])]
    _, first, sizes = np.unique(keys.reshape(P, -1), axis=0, return_index=True, return_counts=True)
    groups = [np.unique(block[p][present[p]], axis=0, return_counts=True) for p in first]
    L = max(len(f) for _, f in groups)
    n_g = present[first].sum(axis=1)
    probs, pats = np.zeros((len(first), L)), np.zeros((len(first), L, k))
    for g, (u, f) in enumerate(groups):
        probs[g, :len(f)], pats[g, :len(f)] = f / n_g[g], u
    return sizes, n_g, probs, pats


def _two_level(block: np.ndarray) -> tuple[Sampler, int]:
    """Problems, then seeds within drawn problems, through sufficient statistics (module docstring)."""
    if np.isnan(block).all(axis=(1, 2)).any():  # a problem without data in these columns: undefined
        return (lambda gen, b: np.full((b, block.shape[2]), np.nan)), 1
    if block.shape[2] == 1 and len(np.unique(block[~np.isnan(block)])) <= 2:
        return _binary_two_level(block[:, :, 0])
    P = block.shape[0]
    sizes, n_g, probs, pats = _seed_patterns(block)

    def draw(gen: np.random.Generator, b: int) -> np.ndarray:
        m = gen.multinomial(P, sizes / P, size=b)  # draws of each group of problems
        c = gen.multinomial(m * n_g, probs)  # (b, G, L): draws of each seed pattern within them
        return cast("np.ndarray", np.einsum("bgl,glk->bk", c / n_g[None, :, None], pats) / P)
    return draw, probs.size + len(sizes)


def _values(values: np.ndarray, levels: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if levels not in (1, 2):
        raise ValueError(f"levels must be 1 (problems) or 2 (problems x seeds), got {levels}")
    if v.ndim == levels:
        v = v[..., None]
    if v.ndim != levels + 1:
        raise ValueError(f"levels={levels} needs values of shape (problem{', seed' * (levels - 1)}[, column]), "
                         f"got {v.shape}")
    if v.shape[0] < 2:
        raise ValueError("need at least two problems to resample")
    if levels == 2 and np.any(np.isnan(v).all(axis=(1, 2))):
        raise ValueError("problems without any observed seed: "
                         f"rows {np.flatnonzero(np.isnan(v).all(axis=(1, 2))).tolist()}")
    return v


def resample(values: np.ndarray, statistic: Statistic | None = None, *, levels: int = 1, paired: bool = True,
             n_resamples: int = 10_000, batch: int = 5_000, rng: int | np.random.Generator = 0,
             confidence: float = 0.95, method: IntervalMethod = "percentile") -> Resampled:
    """Bootstrap ``statistic(means)`` over problems (module docstring).

    ``values``: (P, k) per-problem values (``levels=1``) or (P, S, k) seed-level values with NaN for
    missing seeds (``levels=2``); a trailing column axis of 1 may be left out. ``statistic`` maps the
    (B, k) resampled column means to (B,) or (B, m) (default: the column means themselves).
    ``paired``: one draw serves every column (default), else each column is resampled on its own.
    ``batch``: resamples drawn at once (``levels=2`` also caps it by memory). ``method``: the interval
    (percentile, bca or t; every interval is also available from :meth:`Resampled.interval`).
    """
    v = _values(values, levels)
    P, k = v.shape[0], v.shape[-1]
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if method not in METHODS:
        raise ValueError(f"method must be percentile, bca or t, got {method!r}")
    stat = statistic if statistic is not None else (lambda means: means)

    def evaluate(means: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.asarray(stat(means), dtype=float)
        return out[:, None] if out.ndim == 1 else out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column without data stays NaN
        pm = v if levels == 1 else np.nanmean(v, axis=1)  # (P, k) problem means
    rows, sizes = _group_rows(pm)
    theta = evaluate(_weighted_means(sizes[None, :].astype(float), rows))[0]
    blocks = [slice(None)] if paired else [slice(j, j + 1) for j in range(k)]
    if levels == 2:
        samplers = [_two_level(v[..., cols]) for cols in blocks]
    else:  # the paired one-level draw is exactly evalkit's reported bootstrap: keep its generator use
        samplers = [_one_level(rows, sizes)] if paired else [_one_level(*_group_rows(v[:, cols])) for cols in blocks]
    step = batch if levels == 1 else max(1, min(batch, _CELLS_PER_BATCH // max(c for _, c in samplers)))
    gen = np.random.default_rng(rng)
    parts = []
    for start in range(0, n_resamples, step):
        b = min(step, n_resamples - start)
        means = samplers[0][0](gen, b) if paired else np.concatenate([s(gen, b) for s, _ in samplers], axis=1)
        parts.append(evaluate(means))
    dist = np.concatenate(parts, axis=0)
    jack = None
    if method == "bca":  # drop one problem of group g (identical for every problem of that group)
        jack = evaluate(_weighted_means(np.repeat(sizes[None, :].astype(float), len(rows), axis=0)
                                        - np.eye(len(rows)), rows))
    lo, hi, extra = _interval(dist, theta, method, confidence, P, jack, sizes)
    details: dict[str, Any] = {"n_resamples": n_resamples, "groups": int(len(rows)), "levels": levels,
                               "paired": paired, "undefined": int(np.sum(~np.isfinite(dist).all(axis=1))), **extra}
    label = "problem bootstrap" if levels == 1 else "two-level bootstrap"
    return Resampled(theta, lo, hi, _se(dist), dist, confidence, f"{label} ({method})", P, details, jack, sizes)
