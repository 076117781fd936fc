"""Calibration off the grid (issue #28): the regimes evalkit itself creates (unequal seeds per problem,
cells of one trajectory tree that share most outcomes, a weak model on a hard benchmark), a reduced
random-design search, and one validation of inputs for every interval and test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import load_benchmark
from scipy import stats

from evalkit.analyze import (
    accuracy_interval,
    fixed_set_interval,
    mcnemar_exact,
    paired_interval,
    paired_t_test,
    seed_sd_interval,
    sign_flip_test,
    subset_difference,
    wilson_rate,
)

search = load_benchmark("calibration_search")
SIMS = 400
FLOOR = 0.95 - 3 * math.sqrt(0.05 * 0.95 / SIMS)  # 0.917: three Monte Carlo SEs below nominal


def _coverage(draw, interval, sims: int = SIMS, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(sims):
        data, truth = draw(rng)
        iv = interval(*data)
        hits += iv.low <= truth <= iv.high
    return hits / sims


@pytest.mark.parametrize(("P", "singles", "S"), [(198, 99, 4), (198, 188, 10), (30, 15, 4), (12, 6, 8), (500, 250, 2)])
def test_fixed_set_interval_holds_with_unequal_seeds(P: int, singles: int, S: int) -> None:
    """Problems with one seed carry Bernoulli variance too (the old interval gave them none: 198
    problems half on 1 seed covered 0.626, 188 on 1 + 10 on 10 covered 0.113)."""
    def draw(rng: np.random.Generator):
        p = rng.beta(0.6, 0.9, P)
        c = (rng.random((P, S)) < p[:, None]).astype(float)
        c[:singles, 1:] = np.nan
        return (c,), p.mean()

    cov = _coverage(draw, fixed_set_interval)
    print(f"fixed set, {P} problems, {singles} on one seed, the rest on {S}: coverage {cov:.3f}")
    assert cov >= FLOOR


@pytest.mark.parametrize(("P", "S", "frac"), [(30, 1, 0.1), (30, 4, 0.1), (30, 16, 0.1), (30, 16, 0.2), (12, 4, 0.2),
                                              (198, 4, 0.1), (198, 16, 0.05)])
def test_paired_interval_holds_when_cells_share_most_outcomes(P: int, S: int, frac: float) -> None:
    """Cells of one trajectory tree: the same outcome on most problems, a gain on a few (the paired t
    covered 0.605 / 0.761 / 0.834 at 30 x 1 / 4 / 16 with a gain on 10% of problems)."""
    truth = -frac * 0.5 * 0.6

    def draw(rng: np.random.Generator):
        p = rng.beta(0.6, 0.9, P)
        a = (rng.random((P, S)) < p[:, None]).astype(float)
        hit = rng.random(P) < frac
        b = np.where(hit[:, None], np.maximum(a, rng.random((P, S)) < 0.5), a)
        return (a, b), truth

    cov = _coverage(draw, paired_interval)
    print(f"paired, {P} x {S}, gain on {frac:.0%}: coverage {cov:.3f}")
    assert cov >= FLOOR


@pytest.mark.parametrize(("P", "S"), [(30, 16), (30, 64), (12, 64), (198, 16), (30, 1)])
def test_population_interval_holds_for_a_weak_model_on_a_hard_benchmark(P: int, S: int) -> None:
    """80% of problems never solved, the rest p ~ Beta(0.5, 5): accuracy 1.8% (the old interval
    covered 0.898 at 30 x 16 and 0.874 at 30 x 64, missing low)."""
    truth = 0.2 * 0.5 / 5.5

    def draw(rng: np.random.Generator):
        p = np.where(rng.random(P) < 0.8, 0.0, rng.beta(0.5, 5, P))
        return ((rng.random((P, S)) < p[:, None]).astype(float),), truth

    cov = _coverage(draw, accuracy_interval)
    print(f"population, weak model, {P} x {S}: coverage {cov:.3f}")
    assert cov >= FLOOR


@pytest.mark.parametrize(("P", "S"), [(48, 64), (198, 16)])
def test_population_interval_holds_when_a_few_one_seed_successes_decide_the_mean(P: int, S: int) -> None:
    """A skewed benchmark (p ~ Beta(0.26, 9.4), accuracy 2.7%) with half the problems on one seed: whether
    any one-seed problem was solved decides the mean, and the pooled clustered variance misses that
    (0.83 at 48 x 64, found by the random-design search through subset_difference); stratified, 0.98."""
    truth = 0.26 / 9.66

    def draw(rng: np.random.Generator):
        p = rng.beta(0.26, 9.4, P)
        c = (rng.random((P, S)) < p[:, None]).astype(float)
        c[: P // 2, 1:] = np.nan
        return (c,), truth

    cov = _coverage(draw, accuracy_interval)
    print(f"population, skewed, {P} x {S}, half on one seed: coverage {cov:.3f}")
    assert cov >= FLOOR
    iv = accuracy_interval(draw(np.random.default_rng(1))[0][0])
    assert iv.details["single_seed_problems"] == P // 2 and iv.method.startswith("stratified")


@pytest.mark.parametrize(("P", "S", "w1"), [(30, 16, 0.03), (60, 16, 0.05), (20, 64, 0.05)])
def test_population_interval_allows_for_a_kind_of_problem_absent_from_the_sample(P: int, S: int, w1: float) -> None:
    """A few per cent of problems always solved among hard ones (Beta(1, 20)): with many seeds the problems'
    spread looks small whenever none of the easy kind was drawn (40% of samples at 30 x 3%), and the
    clustered interval covered 0.80 at 30 x 16; its bounds now reach as far as such a kind could move
    the mean."""
    truth = w1 + (1 - w1) / 21

    def draw(rng: np.random.Generator):
        p = np.where(rng.random(P) < w1, 1.0, rng.beta(1, 20, P))
        return ((rng.random((P, S)) < p[:, None]).astype(float),), truth

    cov = _coverage(draw, accuracy_interval)
    print(f"population, {w1:.0%} always solved among hard problems, {P} x {S}: coverage {cov:.3f}")
    assert cov >= FLOOR


def test_population_interval_below_20_problems_is_clopper_pearson_on_p() -> None:
    """12 problems, 38% never solved and the rest nearly always (64 seeds): Wilson on 12 covered 0.925."""
    def draw(rng: np.random.Generator):
        p = np.where(rng.random(12) < 0.38, 0.0, rng.beta(14, 0.23, 12))
        return ((rng.random((12, 64)) < p[:, None]).astype(float),), 0.62 * 14 / 14.23

    cov = _coverage(draw, accuracy_interval)
    print(f"population, 12 bimodal problems x 64: coverage {cov:.3f}")
    assert cov >= FLOOR
    iv = accuracy_interval(np.vstack([np.ones((5, 4)), np.zeros((7, 4))]))
    exact = stats.binomtest(5, 12).proportion_ci(method="exact")
    assert iv.low == pytest.approx(exact.low) and iv.high == pytest.approx(exact.high)


def test_seed_sd_of_equal_per_seed_accuracies_is_zero_with_a_positive_bound() -> None:
    """Ten seeds with the same accuracy (1 of 12 problems always solved, a rare one never seen): the SD
    is 0 and the interval is bounded above by what k equal seeds allow, never [0, 0] (np.std of equal
    floats is 1e-17, which took the chi-square path: 0.55 coverage at 12 x 10)."""
    c = np.zeros((12, 10))
    c[3] = 1.0
    iv = seed_sd_interval(c.mean(axis=0), correct=c)
    assert iv.estimate == 0.0 and iv.low == 0.0 and iv.high > 0.05
    rng = np.random.default_rng(0)
    hits = n = 0
    for _ in range(SIMS):
        p = np.where(rng.random(12) < 0.5, rng.choice([0.0, 1.0], 12), rng.beta(0.2, 16, 12))
        sd = math.sqrt(float(np.sum(p * (1 - p)))) / 12
        if sd == 0:
            continue
        cc = (rng.random((12, 10)) < p[:, None]).astype(float)
        s = seed_sd_interval(cc.mean(axis=0), correct=cc)
        hits += s.low <= sd <= s.high
        n += 1
    print(f"seed SD, 12 problems, few vary: coverage {hits / n:.3f}")
    assert hits / n >= FLOOR


@pytest.mark.parametrize(("P", "S"), [(30, 4), (12, 16), (198, 4)])
def test_fixed_set_interval_holds_for_a_weak_model(P: int, S: int) -> None:
    def draw(rng: np.random.Generator):
        p = np.where(rng.random(P) < 0.8, 0.0, rng.beta(0.5, 5, P))
        return ((rng.random((P, S)) < p[:, None]).astype(float),), p.mean()

    cov = _coverage(draw, fixed_set_interval)
    print(f"fixed set, weak model, {P} x {S}: coverage {cov:.3f} (the old interval: 0.795 at 30 x 4)")
    assert cov >= FLOOR


def test_the_paired_test_holds_its_level_under_a_sparse_null() -> None:
    """A swap on 10% of 30 problems (the two cells' accuracies an independent pair assigned at random),
    outcomes shared elsewhere: the test rejects at most at its level (plus three Monte Carlo SEs)."""
    rng = np.random.default_rng(4)
    rej = 0
    for _ in range(SIMS):
        pa = rng.beta(0.6, 0.9, 30)
        other, hit, flip = rng.beta(0.6, 0.9, 30), rng.random(30) < 0.1, rng.random(30) < 0.5
        a_p = np.where(hit & flip, other, pa)
        b_p = np.where(hit & ~flip, other, pa)
        u = rng.random((30, 4))
        rej += paired_t_test((u < a_p[:, None]).astype(float), (u < b_p[:, None]).astype(float)).pvalue <= 0.05
    assert rej / SIMS <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / SIMS)


def test_reduced_random_design_search_finds_no_failure(capsys) -> None:
    """The search of benchmarks/calibration_search.py, reduced: 24 random designs x 120 simulations, the
    3 worst of each statistic simulated again at 600 (the bootstrap ones: the worst at 200); every
    rechecked coverage >= 0.90 and type-I error <= 0.10 (0.95 / 0.05 widened by 5 Monte Carlo SEs at
    600; a bootstrap row at 200 by 3)."""
    rows = search.search(24, 120, seed=11, log=lambda m: None)
    again = search.recheck(rows, 3, 600, seed=12, curve_k=1, curve_sims=200)
    with capsys.disabled():
        print("\n" + search.render(rows, again))
    assert {r["stat"] for r in rows} >= {"accuracy", "fixed set", "paired", "subset diff"}
    for r in again:
        if r["kind"] == "coverage":
            assert r["value"] >= (0.90 if r["stat"] not in search.CURVES else 0.89), (
                r["stat"], search.describe(r["design"]), r["value"])
        else:
            assert r["value"] <= 0.10, (r["stat"], search.describe(r["design"]), r["value"])


# --- boundaries and inputs -------------------------------------------------------------------------


def test_fixed_set_interval_at_the_boundary_is_never_zero_width() -> None:
    zero, one = fixed_set_interval(np.zeros((30, 4))), fixed_set_interval(np.ones((30, 4)))
    assert zero.low == 0.0 and zero.high > 0.02 and one.high == 1.0 and one.low < 0.98
    c = np.zeros((30, 4))
    c[0, 0] = 1  # 1 of 120: a score interval, not a symmetric one cut at 0
    iv = fixed_set_interval(c)
    assert 0 < iv.low < iv.estimate < iv.high and iv.high - iv.estimate > 2 * (iv.estimate - iv.low)


def test_a_problem_with_one_seed_still_carries_variance() -> None:
    rng = np.random.default_rng(0)
    c = (rng.random((40, 4)) < 0.5).astype(float)
    ragged = c.copy()
    ragged[:20, 1:] = np.nan
    assert fixed_set_interval(ragged).details["single_seed_problems"] == 20
    assert fixed_set_interval(ragged).half_width > fixed_set_interval(c[20:]).half_width / math.sqrt(2) * 0.9
    with pytest.raises(ValueError, match="two or more seeds"):
        fixed_set_interval(c[:, :1])


@pytest.mark.parametrize("bad", [95, 0, 1, -0.5, 1.5, "0.95x"])
def test_confidence_must_be_a_level_in_0_1_everywhere(bad: object) -> None:
    c = np.ones((10, 3))
    c[0, 0] = 0
    calls = [lambda: accuracy_interval(c, bad), lambda: fixed_set_interval(c, bad),
             lambda: paired_interval(c, c, bad), lambda: wilson_rate(0.5, 30, bad),
             lambda: seed_sd_interval(np.array([0.1, 0.2, 0.3]), bad),
             lambda: subset_difference(c, np.arange(10) < 8, confidence=bad)]
    for call in calls:
        with pytest.raises(ValueError, match="confidence"):
            call()


def test_outcomes_outside_0_1_are_refused_everywhere() -> None:
    c = np.full((10, 3), 0.5)
    c[0, 0] = 1.5
    for call in (lambda: accuracy_interval(c), lambda: fixed_set_interval(c), lambda: paired_interval(c, c * 0.5),
                 lambda: paired_t_test(c, c * 0.5), lambda: sign_flip_test(c, c * 0.5)):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            call()


def test_mcnemar_needs_0_1_outcomes_and_every_pair() -> None:
    a, b = np.array([1, 0, 1, 1.0]), np.array([0, 0, 1, 0.0])
    assert mcnemar_exact(a, b).details == {"a_only": 2, "b_only": 0}
    with pytest.raises(ValueError, match="0 or 1"):
        mcnemar_exact(np.array([0.5, 0, 1, 1]), b)
    with pytest.raises(ValueError, match="no observation"):
        mcnemar_exact(np.array([np.nan, 0, 1, 1]), b)


def test_paired_statistics_use_the_units_both_cells_have() -> None:
    rng = np.random.default_rng(1)
    a = (rng.random((20, 4)) < 0.6).astype(float)
    b = (rng.random((20, 4)) < 0.4).astype(float)
    a_missing = a.copy()
    a_missing[:, 3] = np.nan
    shared = paired_interval(a[:, :3], b[:, :3])
    assert paired_interval(a_missing, b).estimate == pytest.approx(shared.estimate)
    assert paired_interval(a_missing, b).low == pytest.approx(shared.low)
    assert sign_flip_test(a_missing, b).statistic == pytest.approx(sign_flip_test(a[:, :3], b[:, :3]).statistic)
    b_gone = b.copy()
    b_gone[0, :3] = np.nan  # problem 0 has no unit both cells have
    with pytest.raises(ValueError, match="no observation"):
        paired_interval(a_missing, b_gone)
