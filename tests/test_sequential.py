"""Anytime-valid seeds (issue #31): the betting confidence sequence against its reference implementation
and the paper's properties, its validity by simulation at evalkit's sizes, the stop rules, the
population floor and the expected-seeds forecast."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import load_benchmark

from evalkit.analyze import (
    AdaptiveRule,
    accuracies_from_summary,
    confidence_sequence,
    expected_seeds,
    paired_confidence_sequence,
    population_floor,
    seed_spread,
    stop_check,
)
from evalkit.analyze.sequential import (
    cs_bounds,
    log_capitals,
    prepare,
    rule_met_by_seed,
    stopping_seeds,
    unseen_half_width,
)

# confseq 0.0.11 (Howard, Waudby-Smith, Ramdas), betting.hedged_cs(x, alpha=0.05, breaks=1000,
# running_intersection=False), the paper's hedged-capital CS on a grid of step 1/1000, each bound widened
# by one step: run with numpy 1.26 (its misc.py does not import under numpy 2). Ours is exact, so it lies
# inside theirs and within one grid step of it.
REFERENCE = {
    "coin": ([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0], 1,
             [0.0, 0.0, 0.0, 0.095, 0.084, 0.078, 0.117, 0.106, 0.151, 0.187, 0.216, 0.205, 0.196, 0.217, 0.209,
              0.229, 0.25, 0.241, 0.26, 0.251, 0.244, 0.259, 0.274, 0.29, 0.282],
             [1.0, 1.0, 1.0, 1.0, 1.0, 0.983, 0.984, 0.939, 0.943, 0.946, 0.948, 0.921, 0.887, 0.891, 0.869, 0.873,
              0.877, 0.859, 0.863, 0.847, 0.83, 0.835, 0.839, 0.842, 0.828]),
    "rare": ([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1,
             [0.0] * 25,
             [1.0, 0.966, 0.829, 0.867, 0.806, 0.738, 0.683, 0.636, 0.594, 0.557, 0.524, 0.57, 0.54, 0.513, 0.489,
              0.467, 0.447, 0.428, 0.411, 0.395, 0.38, 0.367, 0.354, 0.342, 0.331]),
    "acc30": ([12, 14, 11, 13, 12, 15, 10, 12, 13, 14, 12, 11, 13, 12, 14, 12, 13, 11, 12, 12, 13, 14, 12, 11, 12], 30,
              [0.0, 0.0, 0.0, 0.097, 0.129, 0.157, 0.172, 0.189, 0.205, 0.221, 0.231, 0.239, 0.249, 0.257, 0.267,
               0.273, 0.28, 0.284, 0.288, 0.293, 0.298, 0.304, 0.307, 0.309, 0.312],
              [1.0, 1.0, 0.903, 0.856, 0.816, 0.789, 0.756, 0.731, 0.71, 0.695, 0.677, 0.66, 0.648, 0.636, 0.627,
               0.617, 0.609, 0.599, 0.591, 0.584, 0.578, 0.574, 0.568, 0.561, 0.556]),
}
GRID = 1e-3 + 1e-9


def _raw_bounds(x: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    low, high = cs_bounds(prepare(np.asarray(x, dtype=float)[None, :, None], confidence))
    return low[0], high[0]


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_matches_confseq_reference_numbers(name) -> None:
    ints, scale, ref_low, ref_high = REFERENCE[name]
    x = np.array(ints, dtype=float) / scale
    low, high = _raw_bounds(x)
    assert np.all(np.array(ref_low) - 1e-9 <= low) and np.all(low <= np.array(ref_low) + GRID)
    assert np.all(high <= np.array(ref_high) + 1e-9) and np.all(np.array(ref_high) - GRID <= high)
    cs = confidence_sequence(x)  # the public sequence is the running intersection of these
    assert np.allclose(cs.lows, np.maximum.accumulate(low)) and np.allclose(cs.highs, np.minimum.accumulate(high))


def _prpl_eb(x: np.ndarray, alpha: float = 0.05, c: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The paper's predictable plug-in empirical-Bernstein CS (Theorem 2, closed form), for comparison."""
    t = np.arange(1, len(x) + 1)
    mu = (0.5 + np.cumsum(x)) / (t + 1)
    var = (0.25 + np.cumsum((x - mu) ** 2)) / (t + 1)
    mu_prev, var_prev = np.r_[0.5, mu[:-1]], np.r_[0.25, var[:-1]]
    lam = np.minimum(np.sqrt(2 * math.log(2 / alpha) / (var_prev * t * np.log1p(t))), c)
    psi = (-np.log1p(-lam) - lam) / 4
    centre = np.cumsum(lam * x) / np.cumsum(lam)
    radius = (math.log(2 / alpha) + np.cumsum(4 * (x - mu_prev) ** 2 * psi)) / np.cumsum(lam)
    return np.maximum.accumulate(centre - radius), np.minimum.accumulate(centre + radius)


def test_the_papers_examples_hedged_capital_is_tighter_and_adapts_to_variance() -> None:
    """Waudby-Smith & Ramdas (2024), section 5's examples (Bernoulli(1/2), Bernoulli(1/10), Beta(1, 1),
    Beta(10, 30)): the hedged-capital CS is narrower than the PrPl-EB CS, by far at small t (0.70 vs
    1.69 at t = 10 for Bernoulli(1/2)), about alike by t = 400, and its width follows the variance:
    Beta(10, 30) (SD 0.07) far narrower than Bernoulli(1/2) at the same t."""
    rng = np.random.default_rng(2024)
    widths = {}
    for name, x in [("bern(1/2)", rng.binomial(1, 0.5, 400)), ("bern(1/10)", rng.binomial(1, 0.1, 400)),
                    ("beta(1,1)", rng.beta(1, 1, 400)), ("beta(10,30)", rng.beta(10, 30, 400))]:
        cs = confidence_sequence(x.astype(float))
        eb_low, eb_high = _prpl_eb(x.astype(float))
        w = np.array(cs.highs) - np.array(cs.lows)
        assert np.all(w[:100] < (eb_high - eb_low)[:100]) and w[9] < 0.5 * (eb_high - eb_low)[9], name
        assert w[-1] <= 1.05 * (eb_high - eb_low)[-1], name
        widths[name] = w[-1]
    assert widths["beta(10,30)"] < 0.4 * widths["bern(1/2)"]
    assert widths["bern(1/10)"] < widths["bern(1/2)"]


def test_capitals_are_monotone_so_the_set_is_an_interval() -> None:
    rng = np.random.default_rng(0)
    z = (rng.random((1, 8, 30)) < rng.beta(0.6, 0.9, 30)).astype(float)
    for horizon in (4, (1, 2, 4, 8)):  # a mixture of bettors is monotone as each of them is
        rd = prepare(z, 0.95, horizon)
        grid = np.linspace(0, 1, 201)
        ups = np.array([log_capitals(rd, np.array([m]))[0][0] for m in grid])  # (m, t)
        downs = np.array([log_capitals(rd, np.array([m]))[1][0] for m in grid])
        assert np.all(np.diff(ups, axis=0) <= 1e-12) and np.all(np.diff(downs, axis=0) >= -1e-12)


def _uniform_miss(p_draw, P: int, T: int, sims: int, rng: np.random.Generator,
                  horizon: int | tuple[int, ...] | None) -> float:
    p = p_draw(rng, (sims, P))
    z = (rng.random((sims, T, P)) < p[:, None, :]).astype(float)
    up, down = log_capitals(prepare(z, 0.95, horizon), p.mean(axis=1))
    return float(np.mean(np.maximum(up.max(axis=1), down.max(axis=1)) >= math.log(20)))


@pytest.mark.parametrize("P", [1, 12, 30])
def test_coverage_uniformly_over_seeds(P) -> None:
    """Every seed up to 32 at once, 1,000 simulated benchmarks per design (heterogeneous, AIME-like with
    60% never solved, a weak model with 80% never solved): miss rate <= 0.05 + 3 MC SE."""
    rng = np.random.default_rng(P)
    designs = [lambda r, s: r.beta(0.6, 0.9, s),
               lambda r, s: np.where(r.random(s) < 0.6, 0.0, r.beta(0.7, 1.5, s)),
               lambda r, s: np.where(r.random(s) < 0.8, 0.0, r.beta(0.5, 5.0, s))]
    for draw in designs:
        for horizon in (None, 16, (1, 2, 4, 8, 16, 32)):
            assert _uniform_miss(draw, P, 32, 1000, rng, horizon) <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 1000)


def test_paired_coverage_under_a_null_with_varying_effects() -> None:
    rng = np.random.default_rng(11)
    sims, P, T = 800, 30, 24
    p = rng.beta(0.6, 0.9, (sims, P))
    q = rng.permuted(p, axis=1)  # per-problem effects vary, the fixed-set effect is exactly 0
    u = rng.random((sims, P, T))
    a, b = (u < p[..., None]).astype(float), (u < q[..., None]).astype(float)
    met = rule_met_by_seed(AdaptiveRule("excludes_zero", max_seeds=T), a, b)
    assert met[:, -1].mean() <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)


def test_one_problem_matrix_is_the_per_seed_sequence_and_units_narrow_it() -> None:
    rng = np.random.default_rng(5)
    p = rng.beta(0.6, 0.9, 30)
    c = (rng.random((30, 16)) < p[:, None]).astype(float)
    per_seed = confidence_sequence(c.mean(axis=0))
    one_row = confidence_sequence(c.mean(axis=0)[None, :])
    assert per_seed.lows == one_row.lows and per_seed.highs == one_row.highs
    units = confidence_sequence(c, horizon=8)
    assert units.units == 30 and units.half_width < 0.5 * per_seed.half_width
    assert units.low <= p.mean() <= units.high
    assert math.isclose(units.estimate, c.mean())


def test_edge_cases() -> None:
    zero, one = confidence_sequence(np.zeros(10)), confidence_sequence(np.ones(10))
    assert zero.low == 0.0 and 0.0 < zero.high < 1.0 and one.high == 1.0 and 0.0 < one.low < 1.0
    assert math.isclose(zero.high, 1 - one.low, abs_tol=1e-9)
    first = confidence_sequence(np.array([0.7]))
    assert first.n == 1 and first.low <= 0.7 <= first.high and first.lows == (first.low,)
    all0 = confidence_sequence(np.zeros((30, 4)))
    assert all0.low == 0.0 and all0.high < 0.1
    shifted = confidence_sequence(np.array([-0.5, 0.25, 0.0, 0.5]), bounds=(-1, 1))
    direct = confidence_sequence(np.array([0.25, 0.625, 0.5, 0.75]))
    assert np.allclose(np.array(shifted.lows), 2 * np.array(direct.lows) - 1)
    iv = direct.interval()
    assert iv.details["anytime_valid"] and iv.n == 4 and iv.low == direct.low


def test_inputs_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"values must lie in \[0, 1\]"):
        confidence_sequence(np.array([0.2, 1.3]))
    with pytest.raises(ValueError, match=r"values must lie in \[-1, 1\]"):
        confidence_sequence(np.array([0.2, -1.3]), bounds=(-1, 1))
    with pytest.raises(ValueError, match="did you mean 0.95"):
        confidence_sequence(np.array([0.2, 0.3]), confidence=95)
    with pytest.raises(ValueError, match="missing units"):
        confidence_sequence(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="lo < hi"):
        confidence_sequence(np.array([0.2]), bounds=(1, 0))
    with pytest.raises(ValueError, match="same problems x seeds"):
        paired_confidence_sequence(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="horizon"):
        confidence_sequence(np.array([0.2, 0.3]), horizon=0)
    with pytest.raises(ValueError, match="values must lie in"):
        paired_confidence_sequence(np.array([[2.0, 1.0], [0.0, 1.0]]), np.ones((2, 2)))


def test_stop_rules() -> None:
    rule = AdaptiveRule("halfwidth", halfwidth=0.06, max_seeds=8)
    assert rule.rounds() == (2, 4, 6, 8) and rule.bet_horizon == 4
    assert AdaptiveRule("halfwidth", halfwidth=0.1, start=3, step=2, max_seeds=8).rounds() == (3, 5, 7, 8)
    c = np.tile(np.array([[1.0], [0.0]]), (100, 8))  # 200 problems, every seed alike
    cs = confidence_sequence(c, horizon=4)
    check = stop_check(cs, rule)
    assert check.met and check.decided and "half-width" in check.reason
    wide = confidence_sequence(c[:, :2], horizon=4)
    assert not stop_check(wide, AdaptiveRule("halfwidth", halfwidth=0.01, max_seeds=8)).met
    at_max = stop_check(cs, AdaptiveRule("halfwidth", halfwidth=0.001, max_seeds=8))
    assert at_max.met and not at_max.decided and "max seeds" in at_max.reason
    better = np.tile(np.array([[1.0], [1.0], [0.0]]), (60, 8))
    worse = np.tile(np.array([[1.0], [0.0], [0.0]]), (60, 8))
    mixed = AdaptiveRule("excludes_zero", max_seeds=8).bet_horizon  # one bettor per horizon 1, 2, 4, 8
    assert mixed == (1, 2, 4, 8) == AdaptiveRule("compare", max_seeds=8).bet_horizon
    assert AdaptiveRule("compare", max_seeds=6).bet_horizon == (1, 2, 4, 6)
    diff = paired_confidence_sequence(better, worse, horizon=mixed)
    assert "mixed over horizons of 1, 2, 4, 8 seeds" in diff.method
    assert diff.low > 0 and stop_check(diff, AdaptiveRule("excludes_zero", max_seeds=8)).decided
    assert stop_check(diff, AdaptiveRule("compare", max_seeds=8)).decided
    same = paired_confidence_sequence(better, better, horizon=mixed)
    assert stop_check(same, AdaptiveRule("equivalence", margin=0.05, max_seeds=8)).decided
    assert not stop_check(same, AdaptiveRule("excludes_zero", max_seeds=9, horizon=(1, 2, 4, 8))).met
    with pytest.raises(ValueError, match="not the rule's"):
        stop_check(same, AdaptiveRule("excludes_zero", max_seeds=32))
    for bad in [dict(rule="often"), dict(rule="halfwidth"), dict(rule="equivalence"),
                dict(rule="compare", margin=-0.1), dict(rule="compare", start=0), dict(rule="compare", confidence=95)]:
        with pytest.raises(ValueError):
            AdaptiveRule(**bad)


def test_the_batched_rule_agrees_with_stop_check() -> None:
    rng = np.random.default_rng(8)
    p = rng.beta(0.6, 0.9, (6, 30))
    a = (rng.random((6, 30, 12)) < p[..., None]).astype(float)
    b = (rng.random((6, 30, 12)) < np.clip(p + 0.15, 0, 1)[..., None]).astype(float)
    for rule in (AdaptiveRule("compare", margin=0.04, max_seeds=12), AdaptiveRule("halfwidth", halfwidth=0.09,
                                                                                    max_seeds=12)):
        met = rule_met_by_seed(rule, a, None if rule.rule == "halfwidth" else b, bisections=40)
        stops, _ = stopping_seeds(rule, met)
        for i in range(6):
            for t in rule.rounds():
                cs = (confidence_sequence(a[i, :, :t], horizon=rule.bet_horizon) if rule.rule == "halfwidth" else
                      paired_confidence_sequence(a[i, :, :t], b[i, :, :t], horizon=rule.bet_horizon))
                if stop_check(cs, rule).met:
                    assert stops[i] == t
                    break


def test_population_floor() -> None:
    rng = np.random.default_rng(1)
    p = rng.beta(0.6, 0.9, 200)
    c = (rng.random((200, 8)) < p[:, None]).astype(float)
    pilot = population_floor(200, correct=c)
    assert abs(pilot.between_sd - p.std()) < 0.03
    assert pilot.floor_low < pilot.floor and abs(pilot.floor - 1.97 * p.std() / math.sqrt(200)) < 0.01
    assert "cannot give ±1 points" in pilot.message(0.01) and pilot.reachable(0.06)
    worst = population_floor(30)
    assert math.isclose(worst.between_sd, 0.5) and worst.basis.startswith("worst case")
    published = population_floor(30, mean=0.613, seed_sd=0.069, seeds=10)
    assert math.isclose(published.between_sd, seed_spread(0.613, 0.069, 30, 10).problem_sd)
    msg = published.message(0.03, "AIME as a benchmark")
    assert msg.startswith("30 problems cannot give ±3 points for AIME as a benchmark, whatever the seeds")
    small = population_floor(12, mean=0.5)
    assert small.method == "Wilson on P" and small.floor_low == small.floor
    for P, pts in ((12, 13.23), (30, 5.79), (198, 0.92), (500, 0.37)):  # nothing known: the unseen kind's floor
        nothing = population_floor(P)
        assert nothing.floor_low == unseen_half_width(P)
        assert round(100 * nothing.floor_low, 2) == pytest.approx(pts, abs=0.01)
        assert nothing.message(nothing.floor_low * 0.99).startswith(f"{P} problems cannot give")
        assert "may not give" in nothing.message(nothing.floor_low * 1.01)
    paired = population_floor(60, correct=c[:60], other=c[60:120])
    assert paired.method.startswith("t_{P-1}") and paired.floor > 0
    with pytest.raises(ValueError):
        population_floor(1)


def test_expected_seeds() -> None:
    p = accuracies_from_summary(0.4, 0.07, 30)
    assert len(p) == 30 and abs(p.mean() - 0.4) < 0.01
    assert abs(math.sqrt(np.sum(p * (1 - p))) / 30 - 0.07) < 0.005
    assert np.all(accuracies_from_summary(0.5, 0.0, 4) == np.array([0, 0, 1, 1]))
    rule = AdaptiveRule("compare", max_seeds=16)
    big = expected_seeds(rule, p, effect=0.3, sims=200)
    none = expected_seeds(rule, p, effect=0.0, sims=200)
    assert big.mean < 6 < none.mean and big.share_decided == 1.0
    assert none.share_at_max > 0.8 and math.isclose(sum(none.distribution.values()), 1.0)
    assert expected_seeds(rule, p, effect=0.3, sims=200) == big  # a fixed RNG seed
    easy = expected_seeds(AdaptiveRule("halfwidth", halfwidth=0.3, max_seeds=16), p, sims=100)
    assert easy.mean == 2 and easy.quantiles[0.9] == 2
    with pytest.raises(ValueError):
        expected_seeds(rule, np.array([1.2]))


def test_reduced_calibration_at_the_stopping_time() -> None:
    """benchmarks/adaptive.py at 30 problems, 300 simulations: the CS covers at the
    stopping time and its compare rule holds its level under the nulls (3 MC SE)."""
    bench = load_benchmark("adaptive")
    rng = np.random.default_rng(31)
    tol = 3 * math.sqrt(0.05 * 0.95 / 300)
    rows = bench.halfwidth_rows(30, "aime", 16, 300, rng) + bench.compare_rows(30, "hetero", 16, 300, rng)
    for r in rows:
        if r["row"].startswith("CS") and r["kind"] == "coverage":
            assert r["value"] >= 0.95 - tol, r
        if r["row"] == "CS excludes 0":
            assert r["value"] <= 0.05 + tol, r
    seeds = {r["effect"]: r["seeds"] for r in rows if r.get("case") == "effect"}
    assert seeds[4 * bench.target(30)] < seeds[bench.target(30)] <= 16
