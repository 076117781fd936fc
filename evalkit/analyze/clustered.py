"""Intervals for accuracy over problems x seeds whose coverage is shown by simulation
(``benchmarks/calibration.py``; ``docs/statistics.md``).

Estimand (unless a function says otherwise): the mean, over the population of problems the benchmark
is drawn from, of a problem's accuracy (its probability of a correct answer under the sampling
settings). Problems are weighted equally; a problem's accuracy is estimated by its mean over however
many seeds (samples) it has, so unequal seeds per problem change the precision, never the estimand.
This is what "model A beats model B on AIME" is about. The other estimand, the mean over *this* fixed
problem set (what seed variance is about), is :func:`fixed_set_interval`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, stats

from evalkit.analyze.bootstrap import as_units
from evalkit.analyze.intervals import Interval, TestResult, wilson_bounds
from evalkit.analyze.validate import confidence_level, outcomes, paired_outcomes

SPARSE = 6  # fewer problems than this carry the signal (ever solved, or ever failed): see accuracy_interval
MIN_SPREAD = 20  # fewer problems than this: their spread is not estimated (see accuracy_interval)


def per_problem(correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(problem means, units per problem) of ``correct[problem, seed(, sample)]`` with NaN for missing."""
    c = as_units(correct)
    return np.nanmean(c, axis=1), np.sum(~np.isnan(c), axis=1)


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


def kurtosis_df(values: np.ndarray) -> float:
    """Degrees of freedom of the variance of ``values`` (problem means) as a chi-square: 2P / (kurtosis - 1),
    at most P - 1 (Satterthwaite's moment match; P - 1 for normal values, fewer for heavy-tailed ones, as
    problem means are when a few problems carry the signal)."""
    P = len(values)
    dev = values - values.mean()
    m2 = float(np.mean(dev ** 2))
    if m2 <= 0.0:
        return float(P - 1)
    kurt = float(np.mean(dev ** 4)) / m2 ** 2
    return float(min(P - 1, max(1.0, 2 * P / max(kurt - 1.0, 1e-12))))


def _score(estimate: float, n_eff: float, df: float | None, confidence: float) -> tuple[float, float]:
    """Wilson score bounds on ``n_eff`` effective trials with the t quantile on ``df`` degrees of freedom
    (the effective n shrunk by (z / t)^2, Korn and Graubard 1998), exact Poisson bounds at small counts."""
    z = float(stats.norm.isf((1 - confidence) / 2))
    if df is not None:
        n_eff *= (z / float(stats.t.isf((1 - confidence) / 2, max(df, 1.0)))) ** 2
    return wilson_bounds(min(max(estimate, 0.0), 1.0), n_eff, z, small_counts=True)


def _exact(estimate: float, n: int, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson bounds for ``estimate`` x ``n`` successes (continuous in the count): below
    ``MIN_SPREAD`` problems, where Wilson's interval on P dips below its level (a mean of values in
    [0, 1] is never more dispersed than the binomial; ``benchmarks/design_results.md``)."""
    alpha = 1 - confidence
    x = min(max(estimate, 0.0), 1.0) * n
    lo = 0.0 if x <= 0 else float(stats.beta.ppf(alpha / 2, x, n - x + 1))
    hi = 1.0 if x >= n else float(stats.beta.ppf(1 - alpha / 2, x + 1, n - x))
    return lo, hi


def unseen_floor(estimate: float, problems: int, confidence: float, lo: float, hi: float) -> tuple[float, float]:
    """Bounds at least as far from the estimate as a kind of problem nobody has seen could move it.

    A share q of the population is absent from ``problems`` draws with probability (1 - q)^P, so a share
    up to q* = 1 - (alpha / 2)^(1 / P) can be missing from the sample at level alpha / 2; were its problems
    always solved, the mean would be estimate + q* (1 - estimate) (never solved: estimate (1 - q*)). An
    interval that estimates the problems' spread cannot see such a kind, and many seeds make it narrow
    (the coverage that cost: ``benchmarks/design_results.md``). Returns ``(lo, hi)`` widened to at least
    those bounds."""
    q = 1 - ((1 - confidence) / 2) ** (1 / problems)
    return min(lo, estimate * (1 - q)), max(hi, estimate + q * (1 - estimate))


def accuracy_interval(correct: np.ndarray, confidence: float = 0.95) -> Interval:
    """Problem-clustered score interval for mean accuracy (estimand: population of problems).

    Wilson's score interval on the effective sample size of :func:`effective_n`, shrunk by (z / t)^2
    (Korn and Graubard, 1998) with t on the degrees of freedom of the problems' spread: P - 1, fewer
    when the problem means are heavy-tailed (:func:`kurtosis_df`). With one sample per problem the
    samples are independent and it is Wilson's interval on P. Bounds at 3 or fewer effective successes
    (failures) are the exact Poisson ones. When fewer than ``SPARSE`` problems carry the signal (were ever
    solved, or, above 50%, ever failed), the spread of those few cannot be estimated: the worst case of
    fully correlated seeds, the effective n P. Below ``MIN_SPREAD`` problems one rare kind of problem
    decides the mean and a small sample often holds none: there the bounds are Clopper-Pearson's on P
    (:func:`_exact`). The bounds are never closer to the estimate than a kind of problem absent from the
    sample could move it (:func:`unseen_floor`). When some problems have one seed and others more, the
    two groups' intervals are combined (:func:`_stratified`). Never of zero width, also at 0 or P
    correct. Coverage: ``benchmarks/calibration_results.md`` and ``benchmarks/design_results.md``.

    Parameters
    ----------
    correct
        ``correct[problem, seed]`` or ``correct[problem, seed, sample]``: outcomes in [0, 1], NaN for a
        missing unit; every problem needs at least one unit.
    confidence
        The level, in (0, 1).

    Returns
    -------
    Interval
        The problem-weighted mean accuracy, its bounds, the method and the number of problems.

    Raises
    ------
    ValueError
        Outcomes outside [0, 1], a problem without units, or a level outside (0, 1).
    """
    confidence = confidence_level(confidence)
    c = outcomes(correct, name="correct")
    pm, n = per_problem(c)
    P = len(pm)
    p = float(pm.mean())
    singles = n == 1
    if P >= MIN_SPREAD and 0 < int(singles.sum()) < P:
        return _stratified(c, singles, confidence)
    if np.all(n == 1):
        n_eff, df, method = float(P), None, "Wilson (one sample per problem)"
    else:
        n_eff, df = effective_n(pm, n), kurtosis_df(pm)
        method = "problem-clustered Wilson (Korn-Graubard effective n)"
        carriers = int(np.sum(pm > 0) if p <= 0.5 else np.sum(pm < 1))
        if p <= 0.0 or p >= 1.0:  # no spread to estimate: the worst case, fully correlated seeds
            n_eff, df = float(P), None
        elif P < MIN_SPREAD:
            n_eff, df = float(P), None
            method = f"Wilson on P (fewer than {MIN_SPREAD} problems: their spread is not estimated)"
        elif carriers < SPARSE:
            n_eff, df = float(P), None
            method = f"{method}; fewer than {SPARSE} problems carry the signal: fully correlated seeds (n_eff = P)"
    bounds = _exact(p, P, confidence) if P < MIN_SPREAD else _score(p, n_eff, df, confidence)
    lo, hi = unseen_floor(p, P, confidence, *bounds)
    return Interval(p, lo, hi, confidence, method, P,
                    {"n_eff": n_eff, "df": df, "units": int(n.sum()), "estimand": "population of problems"})


def _stratified(c: np.ndarray, singles: np.ndarray, confidence: float) -> Interval:
    """The accuracy interval when some problems have one unit and others more: the one-unit problems'
    outcomes are independent Bernoulli draws of the population mean (Wilson with exact Poisson bounds
    on their count), the others' mean has its clustered interval, and the two combine as a weighted sum
    of independent estimates by MOVER (Newcombe; Zou and Donner 2008). Pooled, a few one-seed
    successes decide the mean of a skewed benchmark and the clustered variance misses them
    (``benchmarks/design_results.md``)."""
    z = float(stats.norm.isf((1 - confidence) / 2))
    m, P = int(singles.sum()), len(singles)
    one = np.nansum(c[singles], axis=1)  # the single unit's outcome (NaN elsewhere is absent)
    t1 = float(one.mean())
    l1, h1 = wilson_bounds(t1, m, z, small_counts=True)
    others = c[~singles]
    t2 = float(np.mean(np.nanmean(others, axis=1)))
    if len(others) >= MIN_SPREAD:
        rest = accuracy_interval(others, confidence)
        l2, h2, how = rest.low, rest.high, rest.method
    else:  # their spread is not estimated (see accuracy_interval): fully correlated seeds, Wilson on their number
        (l2, h2), how = wilson_bounds(t2, len(others), z, small_counts=True), "Wilson on their number"
    w1, w2 = m / P, 1 - m / P
    theta = w1 * t1 + w2 * t2
    lo = theta - math.sqrt((w1 * (t1 - l1)) ** 2 + (w2 * (t2 - l2)) ** 2)
    hi = theta + math.sqrt((w1 * (h1 - t1)) ** 2 + (w2 * (h2 - t2)) ** 2)
    lo, hi = unseen_floor(theta, P, confidence, max(lo, 0.0), min(hi, 1.0))
    return Interval(theta, lo, hi, confidence,
                    f"stratified: Wilson on the {m} one-seed problems + {how} on the rest (MOVER)", P,
                    {"n_eff": None, "df": None, "units": int(np.sum(~np.isnan(c))), "single_seed_problems": m,
                     "estimand": "population of problems"})


def _tango_z(delta: float, b: float, c: float, n: float) -> float:
    """Tango's (1998) score statistic for a paired difference of proportions p10 - p01 = delta, with
    ``b`` pairs (1, 0), ``c`` pairs (0, 1) of ``n``; the variance at the restricted MLE under delta."""
    w = -b - c + (2 * n - b + c) * delta
    q01 = (math.sqrt(max(w * w + 8 * n * c * delta * (1 - delta), 0.0)) - w) / (4 * n)
    var = n * (2 * q01 + delta * (1 - delta))
    num = b - c - n * delta
    if var <= 0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _tango_bounds(b: float, c: float, n: float, crit: float) -> tuple[float, float]:
    """{delta : |Z(delta)| <= crit} by root finding (Z decreases in delta)."""
    est = (b - c) / n
    eps = 1e-12

    def root(lo: float, hi: float, target: float) -> float:
        def f(d: float) -> float:
            return _tango_z(d, b, c, n) - target

        if f(lo) * f(hi) > 0:
            return lo if abs(f(lo)) < abs(f(hi)) else hi
        return float(optimize.brentq(f, lo, hi, xtol=1e-12))

    low = -1.0 if _tango_z(-1 + eps, b, c, n) <= crit else root(-1 + eps, est, crit)
    high = 1.0 if _tango_z(1 - eps, b, c, n) >= -crit else root(est, 1 - eps, -crit)
    return min(low, est), max(high, est)


def _paired_parts(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Per-problem discordance of two cells on their shared units, summarised: the mean difference, the
    discordant rates (problem-weighted), the clustered variance, the effective number of pairs and the
    degrees of freedom."""
    a2, b2 = paired_outcomes(a, b)
    d_units = a2 - b2
    d = np.nanmean(d_units, axis=1)
    q10 = float(np.mean(np.nanmean(np.clip(d_units, 0, None), axis=1)))
    q01 = float(np.mean(np.nanmean(np.clip(-d_units, 0, None), axis=1)))
    P, units = len(d), float(np.sum(~np.isnan(d_units)))
    delta = q10 - q01
    v_clu = float(d.var(ddof=1)) / P
    trinomial = q10 + q01 - delta * delta  # the variance of one pair's difference
    carriers = int(np.sum(d != 0))
    df: float | None = kurtosis_df(d)
    if np.all(np.sum(~np.isnan(d_units), axis=1) == 1):  # one pair per problem: independent pairs, Tango on P
        n_eff, df = float(P), None
    elif trinomial <= 0 or carriers < SPARSE:
        # no problem (or only a few) differ: their spread cannot be estimated; the worst case of pairs as
        # correlated as can be, one per problem, with nothing estimated (Tango's interval on P pairs)
        n_eff, df = float(P), None
    elif v_clu <= 0:
        n_eff = units
    else:
        # not clipped to [P, units]: the true effective n lies there, but clipping the estimate only where it
        # errs one way made the interval wide where seeds are independent (0.97 on the grid at 30 x 4-64)
        n_eff = float(trinomial / v_clu)
    return {"delta": delta, "q10": q10, "q01": q01, "n_eff": n_eff, "df": df, "P": P,
            "units": units, "carriers": carriers}


def paired_interval(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean over problems of (accuracy of a - accuracy of b), both on the same problems, using the
    (problem, seed) units both cells have (estimand: population of problems).

    Tango's score interval for a paired difference of proportions, on the effective number of pairs:
    the discordant rates of a over b and b over a (problem-weighted), with the effective n from the
    problems' spread of differences (the one-pair variance over the clustered variance of the mean),
    the t quantile on :func:`kurtosis_df` degrees of freedom; with one pair per problem, Tango's interval on
    P pairs; with more, P pairs (as correlated as can be, nothing estimated) when fewer than ``SPARSE``
    problems differ at all. Cells of one trajectory tree share most outcomes, so most
    per-problem differences are 0 and a few carry the effect; this interval is never of zero width
    (what the paired t it replaced did there: ``benchmarks/design_results.md``).

    Parameters
    ----------
    a, b
        ``[problem, seed(, sample)]`` outcomes of two cells on the same problems, in [0, 1], NaN for a
        missing unit; only the units both have are used.
    confidence
        The level, in (0, 1).

    Returns
    -------
    Interval
        The mean difference a - b and its bounds (``extra`` holds the effective n, the discordant rates and
        the degrees of freedom).
    """
    confidence = confidence_level(confidence)
    parts = _paired_parts(a, b)
    n_eff, z = parts["n_eff"], float(stats.norm.isf((1 - confidence) / 2))
    crit = z if parts["df"] is None else float(stats.t.isf((1 - confidence) / 2, max(parts["df"], 1.0)))
    lo, hi = _tango_bounds(parts["q10"] * n_eff, parts["q01"] * n_eff, n_eff, crit)
    se = (hi - lo) / (2 * z)
    return Interval(parts["delta"], lo, hi, confidence, "paired score (Tango) on the clustered effective n",
                    int(parts["P"]), {**parts, "se": se, "estimand": "population of problems"})


def paired_t_test(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Two-sided test of mean(a - b) = 0 that matches :func:`paired_interval` (it rejects at level alpha
    exactly when that interval at 1 - alpha excludes 0): McNemar's score statistic on the effective
    counts, referred to t on :func:`kurtosis_df` degrees of freedom. (The name is kept from the paired
    t test it replaced; its level holds in the sparse designs where that one lost coverage.)"""
    parts = _paired_parts(a, b)
    n_eff = parts["n_eff"]
    z0 = _tango_z(0.0, parts["q10"] * n_eff, parts["q01"] * n_eff, n_eff)
    if z0 == 0:
        p = 1.0
    elif parts["df"] is None:
        p = float(2 * stats.norm.sf(abs(z0)))
    else:
        p = float(2 * stats.t.sf(abs(z0), max(parts["df"], 1.0)))
    return TestResult(float(z0), p, "paired score test (McNemar on the clustered effective n)", int(parts["P"]),
                      {"difference": parts["delta"], "n_eff": n_eff, "df": parts["df"]})


def fixed_set_interval(correct: np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean accuracy of *these* problems (estimand: the fixed problem set; only seed noise counts).

    Wilson's score interval on the fixed-set effective n, theta (1 - theta) / Var, where Var pools each
    problem's within-problem variance over its units (unbiased, for problems with 2+ units) and, for
    problems with one unit, the binomial bound of their group (Agresti-Coull rate, never 0: one seed
    carries Bernoulli variance that nothing estimates per problem, and sum p_i (1 - p_i) <= m p (1 - p));
    with the t quantile on Satterthwaite's degrees of freedom and exact Poisson bounds at small counts.
    With equal seeds the effective n is at least the number of units (a Poisson-binomial sum is never
    more dispersed than the binomial: Wilson on all units is the least favourable case), which is what
    accuracy 0 or 1, or no seed variation at all, takes. Needs two or more units on some problem."""
    confidence = confidence_level(confidence)
    c = outcomes(correct, name="correct")
    pm, n = per_problem(c)
    if not np.any(n >= 2):
        raise ValueError("the fixed-set interval needs two or more seeds per problem (seed noise is not estimable)")
    P, theta = len(pm), float(pm.mean())
    z = float(stats.norm.isf((1 - confidence) / 2))
    multi = n >= 2
    s2 = np.nanvar(c[multi], axis=1, ddof=1)
    terms = s2 / n[multi]
    singles = ~multi
    m, x = int(singles.sum()), float(np.nansum(c[singles]))
    rate = (x + z * z / 2) / (m + z * z) if m else 0.0
    var = (float(terms.sum()) + m * rate * (1 - rate)) / P ** 2
    df_den = float(np.sum(terms ** 2 / (n[multi] - 1)))
    df: float | None = float(terms.sum() ** 2 / df_den) if df_den > 0 else float(np.sum(n[multi] - 1))
    units = float(n.sum())
    if theta <= 0.0 or theta >= 1.0 or var <= 0.0:
        n_eff, df = units, None
    else:
        n_eff = theta * (1 - theta) / var
        if df is not None:
            n_eff *= (z / float(stats.t.isf((1 - confidence) / 2, max(df, 1.0)))) ** 2
            df = None
        if np.all(n == n[0]):  # a sum of Bernoullis is never more dispersed than the binomial on all units
            n_eff = max(n_eff, units)
    lo, hi = _score(theta, n_eff, df, confidence)
    return Interval(theta, lo, hi, confidence,
                    "fixed problem set: Wilson on the pooled within-problem variance (t, Satterthwaite df)", P,
                    {"se": math.sqrt(var), "df": df, "n_eff": n_eff, "single_seed_problems": m,
                     "estimand": "this problem set (seed noise only)"})


def seed_sd_interval(seed_accuracies: np.ndarray, confidence: float = 0.95, *,
                     correct: np.ndarray | None = None) -> Interval:
    """SD of k per-seed accuracies with the chi-square interval (estimand: the SD of one seed's accuracy
    on these problems, sqrt(sum p_i (1 - p_i)) / P).

    Without ``correct`` (published per-seed numbers): k - 1 degrees of freedom, exact for normal per-seed
    accuracies (close to it over 30+ problems of mixed difficulty). With ``correct[problem, seed]``, the
    degrees of freedom of the variance of a Poisson-binomial mean with the problems' observed rates,
    2 / (2 / (k - 1) + excess kurtosis / k): fewer when a few problems carry all seed noise; when the
    per-seed accuracies are all equal, the upper bound from the within-problem variance, or, when no
    problem varies either, from the largest rate that leaves k seeds of every problem alike with
    probability alpha / 2 (why: ``benchmarks/design_results.md``).

    Raises
    ------
    ValueError
        Fewer than two seeds.
    """
    confidence = confidence_level(confidence)
    x = np.asarray(seed_accuracies, dtype=float)
    x = x[np.isfinite(x)]
    k = len(x)
    if k < 2:
        raise ValueError("a seed SD needs two or more seeds")
    sd = 0.0 if float(np.ptp(x)) <= 1e-12 else float(np.std(x, ddof=1))  # equal accuracies: exactly 0, not 1e-17
    alpha = 1 - confidence
    df, method = float(k - 1), "chi-square interval for an SD"
    sparse = False
    if correct is not None:
        pm, _ = per_problem(outcomes(correct, name="correct"))
        sparse = int(np.sum((pm > 0) & (pm < 1))) < SPARSE
        v = pm * (1 - pm)
        if v.sum() > 0:
            excess = float(np.sum(v * (1 - 6 * v)) / v.sum() ** 2)
            df = float(max(1.0, 2 / (2 / (k - 1) + max(excess, -2 / (k - 1) + 1e-9) / k)))
            method = "chi-square interval for an SD (Poisson-binomial kurtosis df)"
        if sd == 0.0:  # equal per-seed accuracies: the problems' own seed noise bounds the SD
            c = outcomes(correct, name="correct")
            within = float(np.nansum(np.nanvar(c, axis=1, ddof=1))) if c.shape[1] > 1 else 0.0
            if within > 0:
                hi = math.sqrt(within) / len(pm) * math.sqrt(df / stats.chi2.ppf(alpha / 2, df))
                return Interval(0.0, 0.0, hi, confidence, "SD bound from the within-problem variance", k, {"df": df})
            q = 1 - (alpha / 2) ** (1 / k)  # no problem varies: the largest rate that leaves k seeds alike
            return Interval(0.0, 0.0, math.sqrt(len(pm) * q * (1 - q)) / len(pm), confidence,
                            "SD bound: no seed differs", k, {"df": df})
    lo = sd * math.sqrt(df / stats.chi2.isf(alpha / 2, df))
    hi = sd * math.sqrt(df / stats.chi2.ppf(alpha / 2, df))
    if sparse:  # a seed or two of a few problems decide the SD: its lower bound is not estimable
        lo, method = 0.0, f"{method}; fewer than {SPARSE} problems vary: no lower bound"
    return Interval(sd, lo, hi, confidence, method, k, {"df": df})
