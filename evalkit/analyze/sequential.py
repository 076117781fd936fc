"""Anytime-valid intervals for adaptive seeding (issue #31): a confidence sequence (CS) for the mean of
bounded observations that holds at every number of seeds at once, so a sweep may stop whenever it likes.

Method: the hedged-capital betting CS of Waudby-Smith and Ramdas (2024, JRSS-B, "Estimating means of
bounded random variables by betting", Theorem 3, with the predictable plug-in stakes of their section 5).
For a candidate mean m, two gamblers bet for and against m with stakes chosen from the past only; under
mean m their capitals are non-negative supermartingales, so by Ville's inequality neither reaches
1 / alpha with probability above alpha at any time. The m not yet refuted form an interval (each capital
is monotone in m), found here exactly by bisection (no grid, unlike the reference implementation); the
sequence reported is its running intersection.

Two inputs:

- **one observation per seed** in [lo, hi] (a per-seed accuracy, a published per-seed number): the paper's
  construction exactly (checked against confseq 0.0.11, the authors' implementation, in
  tests/test_sequential.py). Valid for any distribution on [lo, hi], so at 2-64 seeds the range, not the
  seed noise, sets its width (a distribution may hide mass at a bound): several times the fixed-set
  interval (``benchmarks/design_results.md``). Too wide to stop seeding on;
- **a [problem, seed] matrix** (evalkit's outcomes): the per-seed mean of P problems, independent within a
  seed given the problem set. Each seed multiplies a capital by prod_i (1 + lambda_s (x_is - o_is - m)),
  one stake lambda_s per seed and a predictable offset o_is per problem (its mean over the earlier seeds
  less the mean over problems, shrunk by an empirical-Bayes weight; sum_i o_is = 0). Given the past, the
  expectation of that product is prod_i (1 + lambda_s (p_i - o_is - m)) <= exp(lambda_s sum_i (p_i - o_is
  - m)) = 1 when mean_i p_i = m (independence across problems, then 1 + y <= e^y), so the capitals stay
  supermartingales for the fixed-set mean; stakes are truncated so every factor stays >= 1 - c for any
  outcome in [0, 1]. The stake may be P times that of one observation per seed (the range term shrinks by
  P) and the offsets take the problems' spread out of the bet's variance. With one problem it is the
  paper's construction. Every problem must be present on every seed used (a missing unit would move the
  mean the product is centred on). The stakes are tuned for a horizon fixed in advance, which any stake
  chosen before the round allows (:class:`AdaptiveRule`: half of ``max_seeds`` for a half-width target;
  for a difference, an equal mixture of bettors tuned for 1, 2, 4, ..., ``max_seeds`` seeds, so that a
  large difference is decided in a few seeds and a small one near the maximum).

Estimand: the mean over *these* problems of each problem's accuracy (the fixed problem set: seed noise
only, as :func:`evalkit.analyze.fixed_set_interval`); for two cells, the mean of their per-problem
differences. Coverage at the stopping time, type-I error of the comparison rule, the ordinary intervals
after an adaptive stop and the seeds saved: ``benchmarks/adaptive.py``. The
population-of-problems interval cannot be narrowed by seeds below :func:`population_floor`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
from scipy import stats

from evalkit.analyze.clustered import MIN_SPREAD, accuracy_interval, unseen_floor
from evalkit.analyze.intervals import Interval, wilson_bounds
from evalkit.analyze.summaries import sd_interval, seed_spread
from evalkit.analyze.validate import confidence_level, outcomes, paired_outcomes, units_matrix

TRUNCATION = 0.5  # c: stakes are at most c / m (for) and c / (1 - m) (against), as the paper's default
HEDGE = 0.5  # theta: the share of capital on "the mean is above m"
BISECTIONS = 44  # bounds exact to 2^-44 of the range; each is rounded outwards (conservative)

StopRule = Literal["halfwidth", "excludes_zero", "equivalence", "compare"]
RuleMet = Callable[["AdaptiveRule", float, float], tuple[bool, str]]  # (rule, low, high) -> (met, why)
#: The stop rules by name, in the order registered (:func:`stop_rule`): what :class:`AdaptiveRule` accepts and
#: what :func:`stop_check` evaluates. A new rule is one decorated function (and its name in ``StopRule``).
STOP_RULES: dict[str, RuleMet] = {}


def stop_rule(name: str) -> Callable[[RuleMet], RuleMet]:
    """Register the decorated ``(rule, low, high) -> (met, why)`` as the stop rule ``name``."""

    def register(met: RuleMet) -> RuleMet:
        if name in STOP_RULES:
            raise ValueError(f"stop rule {name!r} is registered twice")
        STOP_RULES[name] = met
        return met

    return register


@dataclass(frozen=True)
class ConfidenceSequence:
    """A confidence sequence after ``n`` seeds: ``lows[t - 1], highs[t - 1]`` is the running intersection
    after t seeds (valid simultaneously for every t), ``low, high`` the current one."""

    estimate: float  # mean of every observation so far (per seed, then over seeds)
    low: float
    high: float
    confidence: float
    n: int  # seeds
    units: int  # problems per seed (1 for one observation per seed)
    bounds: tuple[float, float]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    estimates: tuple[float, ...]
    method: str
    horizon: int | tuple[int, ...] | None = None  # seeds the stakes were tuned for (a tuple: mixed; None: the paper's)
    estimand: str = "this problem set (seed noise only)"

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def interval(self) -> Interval:
        """The current interval as evalkit's :class:`Interval` (details say it is anytime-valid)."""
        return Interval(self.estimate, self.low, self.high, self.confidence, self.method, self.n,
                        {"anytime_valid": True, "units": self.units, "bounds": list(self.bounds),
                         "estimand": self.estimand})

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "confidence": self.confidence,
                "n": self.n, "units": self.units, "bounds": list(self.bounds), "lows": list(self.lows),
                "highs": list(self.highs), "estimates": list(self.estimates), "method": self.method,
                "horizon": self.horizon, "estimand": self.estimand}


# ---------------------------------------------------------------------------------------------- engine
# B sequences of T rounds (seeds) of P units (problems), scaled to [0, 1]: z of shape (B, T, P).


@dataclass(frozen=True)
class Rounds:
    """Units prepared for betting: each unit minus its problem's predictable offset (:func:`_offsets`: the
    offsets of a round sum to 0, so the product bet stays centred on the mean while the between-problem
    spread leaves the bet's variance), stored as counts per distinct value when that is shorter; the
    stakes of each round, one per mixed bettor."""

    vals: np.ndarray  # (B, T, U) offset units
    wts: np.ndarray  # (B, T, U) how many units have the value (0 for padding)
    bets: np.ndarray  # (B, T, J) plug-in stake of each of J mixed bettors, before truncation
    above: np.ndarray  # (B, T) largest offset of the round: stakes for m are at most c / (m + above)
    below: np.ndarray  # (B, T) smallest offset: stakes against m at most c / (1 - m - below)
    confidence: float


def _offsets(z: np.ndarray) -> np.ndarray:
    """Predictable problem offsets (B, T, P): round s uses each problem's mean over the rounds before s,
    less the mean of those over problems, shrunk towards 0 by the empirical-Bayes weight
    tau^2 / (tau^2 + within / k) (tau^2: the problems' spread of true means, estimated as the spread of
    their k-seed means less the within-problem variance over k; within: the problems' pooled variance
    over seeds). 0 in rounds 1 and 2 (no within-problem variance yet) and with one problem; near 0 when
    the problems do not differ (a paired difference that is the same on every problem), where raw
    offsets would only add their own noise to the bet."""
    B, T, P = z.shape
    k = np.arange(T, dtype=float)[None, :, None]  # seeds before round s
    kk = np.maximum(k, 1.0)
    mean = (np.cumsum(z, axis=1) - z) / kk
    sq = (np.cumsum(z * z, axis=1) - z * z) / kk
    within = (np.maximum(sq - mean**2, 0.0) * kk / np.maximum(k - 1, 1.0)).mean(axis=-1, keepdims=True)
    spread = mean - mean.mean(axis=-1, keepdims=True)
    tau2 = np.maximum((spread**2).sum(axis=-1, keepdims=True) / max(P - 1, 1) - within / kk, 0.0)
    total = tau2 + within / kk
    w = np.divide(tau2, total, out=np.zeros_like(total), where=(total > 0) & (k >= 2))
    return cast("np.ndarray", w * spread)


def _compress(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vals, wts) of units r (B, T, P): the distinct values of each round and their counts, padded to
    the largest number of them, when that is at most half of P; else the units with weight 1."""
    srt = np.sort(r, axis=-1)
    new = np.ones(srt.shape, dtype=bool)
    new[..., 1:] = srt[..., 1:] != srt[..., :-1]
    groups = int(new.sum(axis=-1).max())
    if 2 * groups > r.shape[-1]:
        return r, np.ones_like(r)
    row = np.arange(r.shape[0] * r.shape[1]).reshape(r.shape[:2])[..., None]
    flat = (row * groups + np.cumsum(new, axis=-1) - 1).ravel()
    size = r.shape[0] * r.shape[1] * groups
    wts = np.bincount(flat, minlength=size).astype(float)
    vals = np.bincount(flat, weights=srt.ravel(), minlength=size) / np.maximum(wts, 1.0)
    shape = r.shape[:2] + (groups,)
    return vals.reshape(shape), wts.reshape(shape)


Horizon = int | tuple[int, ...] | None  # seeds the stakes are tuned for; a tuple mixes one bettor per horizon


def horizons(horizon: Horizon) -> tuple[int, ...] | None:
    """``horizon`` as a tuple of seed counts (None: the paper's stakes), checked."""
    if horizon is None:
        return None
    hs = (horizon,) if isinstance(horizon, int | np.integer) else tuple(horizon)
    if not hs or not all(isinstance(h, int | np.integer) and not isinstance(h, bool) and h >= 1 for h in hs):
        raise ValueError(f"horizon must be a whole number of seeds >= 1, a tuple of them, or None; got {horizon!r}")
    return tuple(int(h) for h in hs)


def prepare(z: np.ndarray, confidence: float, horizon: Horizon = None) -> Rounds:
    """Offsets, compression and the predictable plug-in stakes: with ``horizon`` None the paper's
    lambda^PrPl, sqrt(2 log(2 / alpha) / (var_{t-1} n_t log(1 + n_t))) on n_t = P t units (with one unit
    per round exactly theirs); with a horizon H (seeds), sqrt(2 log(2 / alpha) / (var_{t-1} P H)), the
    stake that makes the interval tightest near H seeds (any stake chosen before the round is valid);
    with several horizons, one bettor per horizon, each with 1/J of the capital (a mixture of
    supermartingales is one: valid at every time, decided near whichever horizon the data favour, at a
    cost of log J in the threshold). var is the running variance of the offset units, shrunk to 1/4 by
    one pseudo-unit around their running mean shrunk to 1/2."""
    B, T, P = z.shape
    off = _offsets(z) if P > 1 else np.zeros_like(z)
    r = z - off
    n = P * np.arange(1.0, T + 1)
    mu = (0.5 + np.cumsum(r.sum(axis=-1), axis=-1)) / (1.0 + n)
    var = (0.25 + np.cumsum(((r - mu[..., None]) ** 2).sum(axis=-1), axis=-1)) / (1.0 + n)
    var_prev = np.concatenate([np.full((B, 1), 0.25), var[:, :-1]], axis=-1)
    hs = horizons(horizon)
    scale = (n * np.log1p(n))[:, None] if hs is None else np.array([float(P * h) for h in hs])[None, :]
    bets = np.sqrt(2.0 * math.log(2.0 / (1 - confidence)) / (var_prev[..., None] * scale[None]))
    vals, wts = _compress(r)
    return Rounds(vals, wts, bets, off.max(axis=-1), off.min(axis=-1), confidence)


def _round_logs(rd: Rounds, m: np.ndarray, up: bool) -> np.ndarray:
    """log of each round's capital factor (B, T, K, J) at the candidate means m (B, K), for m (``up``) or
    against it, for each of the J bettors; stakes truncated so that every factor stays >= 1 - c > 0 for
    any unit in [0, 1]."""
    mm = m[:, None, :, None, None]
    room = mm + rd.above[:, :, None, None, None] if up else 1.0 - mm - rd.below[:, :, None, None, None]
    bets = rd.bets[:, :, None, :, None]
    stake = np.where(room > 0, np.minimum(bets, TRUNCATION / np.where(room > 0, room, 1.0)), bets)
    diff = rd.vals[:, :, None, None, :] - mm
    wealth = rd.wts[:, :, None, None, :] * np.log1p(stake * diff if up else -stake * diff)
    return cast("np.ndarray", wealth.sum(axis=-1))


def _mixed(cum: np.ndarray) -> np.ndarray:
    """log of the mixture (equal shares) of the J bettors' capitals, from their log capitals (..., J)."""
    J = cum.shape[-1]
    return cum[..., 0] if J == 1 else np.logaddexp.reduce(cum, axis=-1) - math.log(J)


def log_capitals(rd: Rounds, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hedged log capitals (B, T), log(theta K+_t(m)) and log((1 - theta) K-_t(m)), at one candidate
    mean per sequence (``m`` of shape (B,), scaled). m is refuted at t when either reaches log(1 / alpha);
    the CS's lower bound is above m exactly when the first one does, its upper bound below m when the
    second does."""
    mm = np.asarray(m, dtype=float).reshape(-1, 1)
    up = _mixed(np.cumsum(_round_logs(rd, mm, True)[:, :, 0], axis=1))
    down = _mixed(np.cumsum(_round_logs(rd, mm, False)[:, :, 0], axis=1))
    return math.log(HEDGE) + up, math.log(1 - HEDGE) + down


def cs_bounds(rd: Rounds, bisections: int = BISECTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (B, T) of the CS at every prefix, scaled to [0, 1], before the running intersection.
    {m : theta K+_t(m) < 1/alpha} is (l_t, 1] and {m : (1 - theta) K-_t(m) < 1/alpha} is [0, u_t) (K+
    falls and K- rises in m: each factor does); l_t and u_t by bisection, each rounded outwards. An empty
    set (l_t >= u_t, probability at most alpha under the model) is reported as the point between them."""
    B, T = rd.bets.shape[:2]
    prefix = np.triu(np.ones((T, T)))  # [s, t]: round s counts at time t
    thr = math.log(1 / (1 - rd.confidence))

    def excluded(m: np.ndarray, up: bool) -> np.ndarray:
        logs = _mixed(np.einsum("bstj,st->btj", _round_logs(rd, m, up), prefix))
        return logs + math.log(HEDGE if up else 1 - HEDGE) >= thr

    lo_a, lo_b = np.zeros((B, T)), np.ones((B, T))  # lower bound: excluded at lo_a, not at lo_b
    hi_a, hi_b = np.zeros((B, T)), np.ones((B, T))  # upper bound: not excluded at hi_a, excluded at hi_b
    lo_none, lo_all = ~excluded(lo_a, True), excluded(lo_b, True)
    hi_none, hi_all = ~excluded(hi_b, False), excluded(hi_a, False)
    for _ in range(bisections):
        mid = (lo_a + lo_b) / 2
        out = excluded(mid, True)
        lo_a, lo_b = np.where(out, mid, lo_a), np.where(out, lo_b, mid)
        mid = (hi_a + hi_b) / 2
        out = excluded(mid, False)
        hi_a, hi_b = np.where(out, hi_a, mid), np.where(out, mid, hi_b)
    low = np.where(lo_none, 0.0, np.where(lo_all, 1.0, lo_a))
    high = np.where(hi_none, 1.0, np.where(hi_all, 0.0, hi_b))
    empty = low > high
    mid = (low + high) / 2
    return np.where(empty, mid, low), np.where(empty, mid, high)


# ------------------------------------------------------------------------------------------ public API


def _units(x: np.ndarray, bounds: tuple[float, float], name: str) -> np.ndarray:
    """Observations as units (seed, problem) scaled to [0, 1]: 1-d x is one observation per seed, 2-d
    x is [problem, seed]. Every unit present, every value inside the bounds."""
    lo, hi = (float(b) for b in bounds)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds must be finite with lo < hi, got {bounds!r}")
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    elif a.ndim == 2:
        a = units_matrix(a, name=name, min_problems=1)
    else:
        raise ValueError(f"{name}: expected one value per seed (1-d) or [problem, seed] (2-d), got shape {a.shape}")
    if a.shape[1] == 0:
        raise ValueError(f"{name}: no seeds")
    if np.any(np.isnan(a)):
        raise ValueError(f"{name}: missing units (NaN); a confidence sequence needs every problem on every seed "
                         "it uses (pass the seeds all problems have)")
    if np.any(np.isinf(a)) or np.any((a < lo) | (a > hi)):
        raise ValueError(f"{name}: values must lie in [{lo:g}, {hi:g}] (found {np.nanmin(a):g} .. {np.nanmax(a):g})")
    return ((a - lo) / (hi - lo)).T


def _sequence(z: np.ndarray, bounds: tuple[float, float], confidence: float, horizon: Horizon,
              method: str) -> ConfidenceSequence:
    hs = horizons(horizon)
    low, high = cs_bounds(prepare(z[None], confidence, hs))
    low, high = np.maximum.accumulate(low[0]), np.minimum.accumulate(high[0])
    high = np.maximum(high, low)  # an emptied intersection (probability <= alpha): the point where it closed
    lo, span = bounds[0], bounds[1] - bounds[0]
    est = np.cumsum(z.mean(axis=1)) / np.arange(1, z.shape[0] + 1)
    def scale(v: np.ndarray) -> tuple[float, ...]:
        return tuple(float(lo + span * e) for e in v)

    lows, highs, ests = scale(low), scale(high), scale(est)
    tuned = ("the paper's plug-in stakes" if hs is None else f"stakes tuned for {hs[0]} seeds" if len(hs) == 1
             else f"stakes mixed over horizons of {', '.join(map(str, hs))} seeds")
    return ConfidenceSequence(ests[-1], lows[-1], highs[-1], confidence, z.shape[0], z.shape[1],
                              (float(bounds[0]), float(bounds[1])), lows, highs, ests, f"{method}; {tuned}",
                              None if hs is None else hs[0] if len(hs) == 1 else hs)


def confidence_sequence(x: np.ndarray, *, bounds: tuple[float, float] = (0.0, 1.0), confidence: float = 0.95,
                        horizon: Horizon = None) -> ConfidenceSequence:
    """Anytime-valid confidence sequence for the mean of bounded observations (see the module doc).

    ``x``: one observation per seed in ``bounds`` (1-d, in seed order: the paper's hedged-capital CS), or
    outcomes ``[problem, seed]`` (2-d: the per-seed mean over problems independent within a seed; every
    problem on every seed; each problem's mean over the earlier seeds is the predictable offset of
    :class:`Rounds`). ``horizon``: the seeds near which the interval should be tightest (e.g. half the
    maximum of an adaptive rule); None: the paper's stakes, tight over an unbounded horizon. Returns the
    running intersection after each seed and the current interval."""
    confidence = confidence_level(confidence)
    z = _units(x, bounds, "observations")
    how = ("hedged-capital betting CS (Waudby-Smith & Ramdas 2024), one observation per seed" if z.shape[1] == 1
           else f"hedged-capital betting CS on {z.shape[1]} independent problems per seed (one stake per seed)")
    return _sequence(z, bounds, confidence, horizon, how)


def paired_confidence_sequence(a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95,
                               horizon: Horizon = None) -> ConfidenceSequence:
    """Confidence sequence for the mean difference a - b of two cells on the same seeds (and problems):
    outcomes ``[problem, seed]`` in [0, 1] (or per-seed accuracies, 1-d), per-unit differences in [-1, 1].
    Sharing random numbers between the cells (or not) does not matter: only the independence of problems
    within a seed is used. ``horizon`` as :func:`confidence_sequence`."""
    confidence = confidence_level(confidence)
    a2, b2 = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a2.shape != b2.shape:
        raise ValueError(f"paired cells need the same problems x seeds; shapes {a2.shape} and {b2.shape}")
    if a2.ndim == 2:
        a2, b2 = paired_outcomes(a2, b2)
    elif a2.ndim == 1:
        a2, b2 = outcomes(a2[None, :], min_problems=1)[0], outcomes(b2[None, :], min_problems=1)[0]
    z = _units(a2 - b2, (-1.0, 1.0), "paired differences")
    how = ("hedged-capital betting CS of per-seed differences" if z.shape[1] == 1 else
           f"hedged-capital betting CS of paired differences on {z.shape[1]} problems per seed")
    return _sequence(z, (-1.0, 1.0), confidence, horizon, how)


# ---------------------------------------------------------------------------------------------- stopping


@dataclass(frozen=True)
class AdaptiveRule:
    """When to stop seeding: seeds run in rounds (``start``, then ``step`` at a time, at most
    ``max_seeds``) and after each round the rule is checked on the confidence sequence:

    - ``halfwidth``: the CS's half-width is at most ``halfwidth`` (a fraction: 0.03 for 3 points);
    - ``excludes_zero``: the CS of a paired difference excludes 0 (the cells differ);
    - ``equivalence``: the CS lies inside (-margin, margin) (the cells are equivalent within the margin);
    - ``compare``: either of the two (equivalence only when a margin is given).

    The confidence sequence's stakes are fixed before the first seed (pass :attr:`bet_horizon` to
    :func:`confidence_sequence`): ``horizon`` seeds when given; else, for the half-width rule, half of
    ``max_seeds`` (where a target is typically met), and for the rules on a difference, one bettor per
    horizon 1, 2, 4, ... up to ``max_seeds`` (a large difference is decided in a few seeds, a small one
    near the maximum; one horizon cannot serve both: ``benchmarks/adaptive.py``)."""

    rule: StopRule
    start: int = 2
    step: int = 2
    max_seeds: int = 32
    halfwidth: float | None = None
    margin: float | None = None
    confidence: float = 0.95
    horizon: int | tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.rule not in STOP_RULES:
            raise ValueError(f"unknown stop rule {self.rule!r}; one of {tuple(STOP_RULES)}")
        if not (1 <= self.start <= self.max_seeds and self.step >= 1):
            raise ValueError(f"need 1 <= start <= max_seeds and step >= 1, got start={self.start}, "
                             f"step={self.step}, max_seeds={self.max_seeds}")
        if self.rule == "halfwidth" and not (self.halfwidth is not None and self.halfwidth > 0):
            raise ValueError(f"the halfwidth rule needs halfwidth > 0 (a fraction), got {self.halfwidth!r}")
        if self.rule == "equivalence" and self.margin is None:
            raise ValueError("the equivalence rule needs a margin")
        if self.margin is not None and not self.margin > 0:
            raise ValueError(f"margin must be > 0 (a fraction), got {self.margin!r}")
        horizons(self.horizon)
        object.__setattr__(self, "confidence", confidence_level(self.confidence))

    @property
    def bet_horizon(self) -> int | tuple[int, ...]:
        """The seeds the confidence sequence's stakes are tuned for (a tuple: one bettor per horizon)."""
        if self.horizon is not None:
            hs = horizons(self.horizon)
            assert hs is not None
        elif self.rule == "halfwidth":
            hs = (max(1, self.max_seeds // 2),)
        else:
            hs = tuple(2**i for i in range(self.max_seeds.bit_length()) if 2**i < self.max_seeds) + (self.max_seeds,)
        return hs[0] if len(hs) == 1 else hs

    def rounds(self) -> tuple[int, ...]:
        """The seed counts after which the rule is checked (the last is ``max_seeds``)."""
        r = list(range(self.start, self.max_seeds + 1, self.step))
        return tuple(r if r[-1] == self.max_seeds else r + [self.max_seeds])


@dataclass(frozen=True)
class StopCheck:
    met: bool  # stop now: the rule is met, or max_seeds is reached
    decided: bool  # the rule itself is met (False when stopping only at max_seeds)
    reason: str
    seeds: int


@stop_rule("halfwidth")
def _halfwidth(rule: AdaptiveRule, low: float, high: float) -> tuple[bool, str]:
    """The interval is at most ``halfwidth`` wide on each side."""
    hw = (high - low) / 2
    assert rule.halfwidth is not None
    return hw <= rule.halfwidth, f"half-width {hw:.4g} {'<=' if hw <= rule.halfwidth else '>'} {rule.halfwidth:g}"


def _excludes(low: float, high: float) -> tuple[bool, str] | None:
    return (True, f"[{low:.4g}, {high:.4g}] excludes 0") if low > 0 or high < 0 else None


def _inside(rule: AdaptiveRule, low: float, high: float) -> tuple[bool, str] | None:
    inside = rule.margin is not None and -rule.margin < low and high < rule.margin
    return (True, f"[{low:.4g}, {high:.4g}] inside ±{rule.margin:g}") if inside else None


def _undecided(low: float, high: float) -> tuple[bool, str]:
    return False, f"[{low:.4g}, {high:.4g}] undecided"


@stop_rule("excludes_zero")
def _excludes_zero(rule: AdaptiveRule, low: float, high: float) -> tuple[bool, str]:
    """The difference's interval excludes 0."""
    return _excludes(low, high) or _undecided(low, high)


@stop_rule("equivalence")
def _equivalence(rule: AdaptiveRule, low: float, high: float) -> tuple[bool, str]:
    """The difference's interval lies inside ``±margin``."""
    return _inside(rule, low, high) or _undecided(low, high)


@stop_rule("compare")
def _compare(rule: AdaptiveRule, low: float, high: float) -> tuple[bool, str]:
    """Either: the interval excludes 0, or it lies inside ``±margin``."""
    return _excludes(low, high) or _inside(rule, low, high) or _undecided(low, high)


def _rule_met(rule: AdaptiveRule, low: float, high: float) -> tuple[bool, str]:
    return STOP_RULES[rule.rule](rule, low, high)


def stop_check(cs: ConfidenceSequence, rule: AdaptiveRule) -> StopCheck:
    """Whether ``rule`` stops seeding after ``cs.n`` seeds (the CS must be at the rule's confidence and
    stakes: ``confidence_sequence(..., confidence=rule.confidence, horizon=rule.bet_horizon)``)."""
    if not math.isclose(cs.confidence, rule.confidence) or cs.horizon != rule.bet_horizon:
        raise ValueError(f"the CS (confidence {cs.confidence:g}, horizon {cs.horizon}) is not the rule's "
                         f"(confidence {rule.confidence:g}, horizon {rule.bet_horizon})")
    met, why = _rule_met(rule, cs.low, cs.high)
    if met:
        return StopCheck(True, True, why, cs.n)
    if cs.n >= rule.max_seeds:
        return StopCheck(True, False, f"max seeds ({rule.max_seeds}) reached; {why}", cs.n)
    return StopCheck(False, False, why, cs.n)


def _ever(log_cap: np.ndarray, confidence: float) -> np.ndarray:
    """(B, T): the capital has reached 1 / alpha by t (the running intersection excludes the point)."""
    return np.maximum.accumulate(log_cap, axis=-1) >= math.log(1 / (1 - confidence))


def rule_met_by_seed(rule: AdaptiveRule, a: np.ndarray, b: np.ndarray | None = None,
                     bisections: int = 24) -> np.ndarray:
    """(B, T) whether ``rule`` is met by the running-intersection CS after t seeds, for B simulated
    sweeps: outcomes ``a`` (and ``b`` for a paired rule) of shape (B, problem, seed) in [0, 1]. The
    batched engine of :func:`expected_seeds` and ``benchmarks/adaptive.py``; the exclusion
    rules read the capitals at 0 and at the margins directly, the half-width rule bisects to 2^-24."""
    if b is None:
        z, lo, span = np.swapaxes(np.asarray(a, dtype=float), 1, 2), 0.0, 1.0
    else:
        z, lo, span = (np.swapaxes(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), 1, 2) + 1) / 2, -1.0, 2.0
    rd = prepare(z, rule.confidence, rule.bet_horizon)
    if rule.rule == "halfwidth":
        low, high = cs_bounds(rd, bisections)
        hw = (np.minimum.accumulate(high, axis=-1) - np.maximum.accumulate(low, axis=-1)) / 2 * span
        return cast("np.ndarray", hw <= rule.halfwidth)

    def beyond(point: float) -> tuple[np.ndarray, np.ndarray]:  # (low above point, high below point) by t
        up, down = log_capitals(rd, np.full(z.shape[0], (point - lo) / span))
        return _ever(up, rule.confidence), _ever(down, rule.confidence)

    met = np.zeros(z.shape[:2], dtype=bool)
    if rule.rule in ("excludes_zero", "compare"):
        above, below = beyond(0.0)
        met |= above | below
    if rule.margin is not None and rule.rule in ("equivalence", "compare"):
        met |= beyond(-rule.margin)[0] & beyond(rule.margin)[1]
    return met


def stopping_seeds(rule: AdaptiveRule, met: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(seeds used, decided) per sweep from :func:`rule_met_by_seed`: the first round at which the rule
    is met, else ``max_seeds``."""
    rounds = np.array(rule.rounds())
    at = met[:, rounds - 1]
    decided = at.any(axis=1)
    return np.where(decided, rounds[np.argmax(at, axis=1)], rule.max_seeds), cast(np.ndarray, decided)


@dataclass(frozen=True)
class SeedForecast:
    """Distribution of the seeds an adaptive rule uses, by simulation under assumed accuracies."""

    mean: float
    quantiles: dict[float, float]  # 0.1, 0.5, 0.9
    share_decided: float  # sweeps whose rule was met before or at max_seeds
    share_at_max: float  # sweeps that ran to max_seeds
    max_seeds: int
    sims: int
    assumption: str
    distribution: dict[int, float] = field(default_factory=dict)  # seeds -> share of sweeps


def expected_seeds(rule: AdaptiveRule, accuracies: np.ndarray, *, effect: float = 0.0, shared: float = 0.0,
                   sims: int = 2000, seed: int = 0) -> SeedForecast:
    """Seeds the adaptive ``rule`` uses when the problems' accuracies are ``accuracies`` (from a pilot's
    per-problem means, or :func:`accuracies_from_summary` for a published mean and seed SD), by ``sims``
    simulated sweeps with a fixed RNG seed. For a paired rule the second cell's accuracies are
    ``accuracies + effect`` (clipped to [0, 1]) and ``shared`` is the share of units drawn with the first
    cell's random numbers (0: independent seeds; 1: common random numbers)."""
    p = np.asarray(accuracies, dtype=float).ravel()
    if p.size == 0 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("accuracies must be per-problem accuracies in [0, 1]")
    if not 0.0 <= shared <= 1.0:
        raise ValueError(f"shared must be in [0, 1], got {shared}")
    rng = np.random.default_rng(seed)
    used, decided = [], []
    for start in range(0, sims, 250):
        n = min(250, sims - start)
        u = rng.random((n, len(p), rule.max_seeds))
        a = (u < p[None, :, None]).astype(float)
        b = None
        if rule.rule != "halfwidth":
            q = np.clip(p + effect, 0.0, 1.0)
            ub = np.where(rng.random(u.shape) < shared, u, rng.random(u.shape))
            b = (ub < q[None, :, None]).astype(float)
        s, d = stopping_seeds(rule, rule_met_by_seed(rule, a, b))
        used.append(s)
        decided.append(d)
    s, d = np.concatenate(used), np.concatenate(decided)
    values, counts = np.unique(s, return_counts=True)
    what = (f"{len(p)} problems, mean accuracy {p.mean():.3g}" if rule.rule == "halfwidth" else
            f"{len(p)} problems, mean accuracy {p.mean():.3g}, effect {effect:+g}, shared random numbers {shared:g}")
    return SeedForecast(float(s.mean()), {q: float(np.quantile(s, q)) for q in (0.1, 0.5, 0.9)}, float(d.mean()),
                        float(np.mean(s >= rule.max_seeds)), rule.max_seeds, sims, what,
                        {int(v): float(c / sims) for v, c in zip(values, counts, strict=True)})


def accuracies_from_summary(mean: float, seed_sd: float, problems: int) -> np.ndarray:
    """Per-problem accuracies consistent with a published mean and seed SD over ``problems`` problems:
    the problems' variance is mean (1 - mean) - problems SD^2 (:func:`evalkit.analyze.seed_spread`), the
    accuracies the quantiles (i - 1/2) / P of the Beta distribution with that mean and variance (all
    equal when the SD is at its maximum; always or never solved when it is 0)."""
    if not (0 < mean < 1 and seed_sd >= 0 and problems >= 1):
        raise ValueError(f"need 0 < mean < 1, seed_sd >= 0 and problems >= 1, got {mean}, {seed_sd}, {problems}")
    var = seed_spread(mean, seed_sd, problems, 1).problem_sd ** 2
    q = (np.arange(problems) + 0.5) / problems
    if var <= 1e-12:
        return np.full(problems, float(mean))
    total = mean * (1 - mean) / var - 1
    if total <= 1e-9:  # no seed noise: every problem always or never solved
        return (q > 1 - mean).astype(float)
    return cast("np.ndarray", stats.beta.ppf(q, mean * total, (1 - mean) * total))


# ----------------------------------------------------------------------------------- population floor


@dataclass(frozen=True)
class PopulationFloor:
    """The half-width below which no number of seeds takes the population-of-problems interval: seeds
    only pin down each problem's accuracy; which problems the benchmark drew stays a sample of P."""

    floor: float  # estimate (or, for the worst case, the largest value)
    floor_low: float  # lower confidence bound: a target below it is out of reach with that confidence
    between_sd: float  # SD of the problems' accuracies (of their differences, for a comparison)
    mean: float
    problems: int
    confidence: float
    basis: str  # "pilot", "published mean and seed SD", "worst case"
    method: str

    def reachable(self, half_width: float) -> bool:
        """Whether a population half-width target is above the floor (seeds can get there)."""
        return half_width > self.floor

    def message(self, half_width: float, what: str = "the benchmark") -> str:
        """The sentence to print before spending seeds, when a target is at or below the floor."""
        def pts(v: float) -> str:
            return f"±{100 * v:.3g} points"

        if half_width > self.floor:
            return (f"{pts(half_width)} for {what} is above the floor that {self.problems} problems set "
                    f"({pts(self.floor)}, {self.basis}): seeds can reach it")
        if half_width <= self.floor_low and self.basis.startswith("worst case"):
            return (f"{self.problems} problems cannot give {pts(half_width)} for {what}, whatever the seeds: "
                    f"the floor is at least {pts(self.floor_low)} whatever the problems (a kind of problem "
                    f"making up {200 * self.floor_low:.3g}% of the population can be absent from {self.problems} "
                    "draws)")
        if half_width <= self.floor_low:
            least = f"; at least {pts(self.floor_low)}" if self.floor_low < self.floor else ""
            return (f"{self.problems} problems cannot give {pts(half_width)} for {what}, whatever the seeds: "
                    f"the floor is {pts(self.floor)} ({self.basis}{least})")
        return (f"{self.problems} problems may not give {pts(half_width)} for {what}, whatever the seeds: "
                f"the floor is up to {pts(self.floor)} ({self.basis}); a pilot of a few seeds says more")


def unseen_half_width(problems: int, confidence: float = 0.95) -> float:
    """The half-width below which no population interval of evalkit goes, whatever the outcomes and
    seeds: q* / 2, q* = 1 - (alpha / 2)^(1 / P) the share of the population that can be absent from P
    draws (:func:`evalkit.analyze.clustered.unseen_floor`): 5.8 points at 30 problems, 0.92 at 198, 0.37 at
    500."""
    return cast("float", (1 - ((1 - confidence) / 2) ** (1 / problems)) / 2)


def _between_variance(d: np.ndarray) -> float | None:
    """Unbiased variance of the problems' true means from units ``d[problem, unit]``: the variance of the
    per-problem means minus the mean within-problem variance over each problem's units (None with one
    unit per problem: the two are not separable)."""
    pm = np.nanmean(d, axis=1)
    k = np.sum(~np.isnan(d), axis=1)
    multi = k >= 2
    if not multi.any():
        return None
    within = float(np.mean(np.nanvar(d[multi], axis=1, ddof=1) / k[multi]))
    return max(float(np.var(pm, ddof=1)) - within, 0.0)


def _floor_half_width(mean: float, var: float, problems: int, confidence: float, paired: bool) -> float:
    """Half-width of evalkit's population interval with infinitely many seeds: Wilson's score interval
    on the effective n p (1 - p) / (Var / P), shrunk by (z / t_{P-1})^2 (:func:`accuracy_interval`'s
    form; below ``MIN_SPREAD`` problems that interval takes Wilson on P whatever the seeds), never
    narrower than a kind of problem absent from the sample could move it (:func:`unseen_floor`). For a
    paired difference: t_{P-1} sqrt(Var / P)."""
    z = float(stats.norm.isf((1 - confidence) / 2))
    t = float(stats.t.isf((1 - confidence) / 2, max(problems - 1, 1)))
    if paired:
        return t * math.sqrt(var / problems)
    if problems < MIN_SPREAD:
        lo, hi = wilson_bounds(mean, problems, z)
    elif var <= 0 or mean <= 0 or mean >= 1:
        lo = hi = mean
    else:
        lo, hi = wilson_bounds(mean, mean * (1 - mean) / (var / problems) * (z / t) ** 2, z)
    lo, hi = unseen_floor(mean, problems, confidence, lo, hi)
    return (hi - lo) / 2


def population_floor(problems: int, *, correct: np.ndarray | None = None, other: np.ndarray | None = None,
                     mean: float | None = None, seed_sd: float | None = None, seeds: int | None = None,
                     confidence: float = 0.95) -> PopulationFloor:
    """Floor on the population-of-problems half-width for a benchmark of ``problems`` problems, from
    (first that applies) a pilot ``correct[problem, seed]`` (and ``other`` for the paired difference of
    two cells): the problems' variance net of seed noise, with a chi-square lower bound on P - 1 df; a
    published ``mean`` and ``seed_sd`` over ``seeds`` seeds: Var(p_i) = mean (1 - mean) - P SD^2 (the
    lower bound from the SD's upper chi-square bound); nothing (or a mean only): the worst case, every
    problem always or never solved, Var(p_i) = mean (1 - mean) (1/4 without a mean), which is the largest
    floor possible, so its lower bound is 0. The floor is the half-width of evalkit's population
    interval once seeds are infinite (:func:`_floor_half_width`)."""
    confidence = confidence_level(confidence)
    if problems < 2:
        raise ValueError(f"need at least 2 problems, got {problems}")
    paired = other is not None
    var, var_low, basis = None, 0.0, "worst case: every problem always or never solved"
    if correct is not None:
        c = outcomes(correct, name="correct")
        d = np.subtract(*paired_outcomes(c, cast(np.ndarray, other))) if paired else c
        m = float(np.mean(np.nanmean(d, axis=1)))
        var = _between_variance(d)
        if var is not None:
            var_low = var * (problems - 1) / float(stats.chi2.ppf(confidence, problems - 1))
            basis = f"pilot of {d.shape[0]} problems"
    elif mean is not None and seed_sd is not None and seeds is not None and seeds >= 2:
        m = float(mean)
        var = seed_spread(m, seed_sd, problems, seeds).problem_sd ** 2
        sd_high = sd_interval(seed_sd, seeds, confidence)[1]
        var_low, basis = seed_spread(m, sd_high, problems, seeds).problem_sd ** 2, "published mean and seed SD"
    else:
        m = 0.0 if paired else (0.5 if mean is None else float(mean))
    if var is None:
        var = 1.0 - m * m if paired else m * (1 - m)
    floor = _floor_half_width(m, var, problems, confidence, paired)
    low = _floor_half_width(m, var_low, problems, confidence, paired)
    if not paired and problems < MIN_SPREAD:
        low = floor  # Wilson on P: set by the number of problems alone
    if not paired and correct is None and mean is None:  # nothing known: whatever the mean and problems,
        low = unseen_half_width(problems, confidence)  # no population interval is narrower
    method = ("t_{P-1} sqrt(Var(d_i) / P)" if paired else
              "Wilson on P" if problems < MIN_SPREAD else "Wilson on p(1-p) / (Var(p_i) / P), t_{P-1}")
    return PopulationFloor(floor, min(low, floor), math.sqrt(var), m, problems, confidence, basis, method)


@dataclass(frozen=True)
class PopulationBudget:
    """What a population half-width target leaves the seeds, given the floor the stored rows show."""

    floor: PopulationFloor
    target: float
    budget: float  # sqrt(target^2 - floor^2): the fixed-set (seed-noise) half-width to reach; 0 at or below it
    futile: bool  # the target is at or below the floor's lower confidence bound: no seeds can reach it
    printed: float  # half-width of the population interval on these rows (:func:`accuracy_interval`)

    def met(self, seed_half_width: float) -> bool:
        """Whether the seed noise (the anytime-valid interval's half-width) fits in what the floor leaves and
        the population interval printed on these rows is within the target."""
        return not self.futile and self.budget > 0 and seed_half_width <= self.budget and self.printed <= self.target


MIN_FUTILITY_SEEDS = 4  # below, the problems' spread net of seed noise is too rough to rule a target out


def population_budget(correct: np.ndarray, half_width: float, confidence: float = 0.95) -> PopulationBudget:
    """A population-of-problems target ``half_width`` for the outcomes ``correct[problem, seed]`` stored so
    far: problem sampling and seed noise are independent, so the population half-width is about
    sqrt(floor^2 + seed^2) and the seeds must bring the fixed-set half-width to sqrt(target^2 - floor^2)
    (with the anytime-valid interval, whose half-width is above the fixed-set interval's: conservative),
    and the population interval itself must be within the target. Futile when the target is at or below
    the floor's lower bound (:func:`population_floor`) on at least :data:`MIN_FUTILITY_SEEDS` seeds (on
    fewer, the spread's lower bound rules out reachable targets too often: ``benchmarks/design_results.md``)."""
    c = np.asarray(correct, dtype=float)
    fl = population_floor(c.shape[0], correct=c, confidence=confidence)
    budget = math.sqrt(half_width**2 - fl.floor**2) if half_width > fl.floor else 0.0
    futile = half_width <= fl.floor_low and c.shape[1] >= MIN_FUTILITY_SEEDS
    printed = accuracy_interval(c, confidence)
    return PopulationBudget(fl, half_width, budget, futile, (printed.high - printed.low) / 2)
