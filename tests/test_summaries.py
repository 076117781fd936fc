"""Statistics from published summaries (evalkit.analyze.summaries), the power helpers claims use, and the
within-problem slope: each against a direct computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalkit.analyze import (
    best_paired_p,
    fixed_set_difference,
    ladder_trend,
    max_seed_sd,
    minimum_detectable_difference,
    mover_difference,
    n_for_difference,
    newcombe_difference,
    population_interval,
    sd_interval,
    sd_relative_half_width,
    seed_sd_interval,
    seed_spread,
    single_run_range,
    trend_power,
    wilson_rate,
    within_cluster_slope,
    yardstick_position,
)
from evalkit.analyze.power import slope_power


def test_sd_interval_is_seed_sd_interval_from_the_sd_alone() -> None:
    acc = np.array([0.6, 0.53, 0.7, 0.63, 0.57, 0.67, 0.5, 0.6, 0.73, 0.6])
    full = seed_sd_interval(acc, 0.95)
    lo, hi = sd_interval(full.estimate, len(acc), 0.95)
    assert lo == pytest.approx(full.low, rel=1e-12) and hi == pytest.approx(full.high, rel=1e-12)
    assert max_seed_sd(30) == pytest.approx(0.5 / math.sqrt(30))
    assert sd_relative_half_width(10) == pytest.approx(1 / math.sqrt(18))


def test_seed_spread_recovers_the_problems_spread() -> None:
    p = np.r_[np.full(10, 0.0), np.full(10, 1.0), np.full(10, 0.5)]  # 30 problems, a third coins
    n, k = len(p), 10
    sd = math.sqrt(np.sum(p * (1 - p))) / n  # the SD of one seed's accuracy
    sp = seed_spread(float(p.mean()), sd, n, k)
    assert sp.problem_sd == pytest.approx(float(np.std(p)))  # Var(p_i) over the problems
    assert sp.se_fixed == pytest.approx(sd / math.sqrt(k))
    assert sp.se_population == pytest.approx(math.sqrt((np.var(p) + n * sd * sd / k) / n))


def test_population_interval_is_wilson_on_the_korn_graubard_effective_n() -> None:
    m, sd, n, k = 0.613, 0.069, 30, 10
    z, t = stats.norm.isf(0.025), stats.t.isf(0.025, n - 1)
    se = seed_spread(m, sd_interval(sd, k)[0], n, k).se_population
    ne = m * (1 - m) / se ** 2 * (z / t) ** 2
    d = 1 + z * z / ne
    c, h = (m + z * z / (2 * ne)) / d, z * math.sqrt(m * (1 - m) / ne + z * z / (4 * ne * ne)) / d
    assert population_interval(m, sd, n, k) == pytest.approx((c - h, c + h), abs=1e-12)


def test_single_run_and_fixed_set_intervals() -> None:
    t = stats.t.isf(0.025, 9)
    lo, hi = single_run_range(0.613, 0.069, 10)
    assert (hi - lo) / 2 == pytest.approx(t * 0.069 * math.sqrt(1.1))
    lo, hi = fixed_set_difference(0.613, 0.069, 30, 10, 0.446)
    assert (lo + hi) / 2 == pytest.approx(0.167) and (hi - lo) / 2 == pytest.approx(t * 0.069 / math.sqrt(10))


def test_mover_is_newcombe_on_wilson_intervals() -> None:
    a, b = wilson_rate(0.567, 30), wilson_rate(0.446, 30)
    lo, hi = mover_difference(0.567, (a.low, a.high), 0.446, (b.low, b.high))
    d = newcombe_difference(0.567, 30, 0.446, 30)
    assert lo == pytest.approx(d.low, abs=1e-12) and hi == pytest.approx(d.high, abs=1e-12)


def test_best_paired_p_and_the_ladder_trend() -> None:
    assert best_paired_p(465, 461) == (4, 0.125) and best_paired_p(3, 3) == (0, 1.0)
    tr = ladder_trend([0, 2, 4], [0.5, 0.533, 0.567], 30)
    x, k, n = np.array([0, 2, 4]), np.array([15, 16, 17]), 30
    pbar = k.sum() / (3 * n)
    z = np.sum((x - x.mean()) * k) / math.sqrt(pbar * (1 - pbar) * n * np.sum((x - x.mean()) ** 2))
    assert tr.counts == (15, 16, 17) and tr.z == pytest.approx(z) and tr.p == pytest.approx(2 * stats.norm.sf(z))
    assert (tr.discordant, tr.best_paired_p) == (2, 0.5)
    tp = trend_power(tr, n)
    assert tp.mdd == pytest.approx((stats.norm.isf(0.025) + stats.norm.ppf(0.8)) * tr.se)
    assert slope_power(tp.mdd, tr.se) == pytest.approx(0.8, abs=1e-3)  # the other tail adds almost nothing
    assert tp.power[0.0] < tp.power[0.5] < tp.power[0.9]
    assert tp.low == pytest.approx(tr.slope - stats.norm.isf(0.025) * tr.se)


def test_n_for_difference_is_where_the_minimum_detectable_difference_reaches_it() -> None:
    need = n_for_difference(0.567, 0.446)
    pbar = (0.567 + 0.446) / 2
    assert minimum_detectable_difference(pbar, need).mdd <= 0.121 < minimum_detectable_difference(pbar, need - 1).mdd


def test_yardstick_position() -> None:
    pos = yardstick_position([1.0, 2.0, 3.0, 4.0], 3.0)
    assert (pos.median, pos.maximum, pos.percentile) == (2.5, 4.0, 0.75)


def test_within_cluster_slope_is_the_fixed_effects_slope() -> None:
    rng = np.random.default_rng(1)
    cl = np.repeat(np.arange(20), 8)
    x = rng.integers(100, 2000, cl.size).astype(float)
    y = (rng.random(cl.size) < 0.2 + 0.3 * (cl % 3 == 0) + 1e-4 * x).astype(float)
    s = within_cluster_slope(x, y, cl.astype(str))
    design = np.c_[x, (cl[:, None] == np.arange(20)).astype(float)]  # one intercept per cluster
    assert s.estimate == pytest.approx(np.linalg.lstsq(design, y, rcond=None)[0][0])
    assert s.low < s.estimate < s.high and s.n == 20 and s.details["samples"] == cl.size
    flat = within_cluster_slope(x, np.full(cl.size, 1.0), cl)
    assert flat.estimate == 0.0
