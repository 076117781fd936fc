"""Statistics: agreement with scipy/statsmodels, brute force, and seeded coverage simulations."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from evalkit.analyze import (
    benjamini_hochberg,
    binomial_interval,
    clustered_se,
    holm,
    maj_at_k,
    mcnemar_exact,
    minimum_detectable_difference,
    multi_seed_accuracy,
    paired_difference,
    pass_at_k,
    seeds_for_half_width,
    sign_flip_test,
    two_level_bootstrap,
    variance_components,
    wilson,
)

SM = {"wilson": "wilson", "clopper_pearson": "beta", "jeffreys": "jeffreys", "agresti_coull": "agresti_coull"}


@pytest.mark.parametrize("method", list(SM))
@pytest.mark.parametrize("k,n", [(0, 30), (1, 30), (17, 30), (29, 30), (30, 30), (465, 500), (3, 7)])
@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_binomial_intervals_match_statsmodels(method: str, k: int, n: int, conf: float) -> None:
    ours = binomial_interval(k, n, conf, method)
    lo, hi = proportion_confint(k, n, alpha=1 - conf, method=SM[method])
    assert abs(ours.low - lo) < 1e-9 and abs(ours.high - hi) < 1e-9
    assert ours.estimate == k / n and ours.n == n


def test_wilson_api_and_errors() -> None:
    ci = wilson(17, 30, confidence=0.95)
    assert ci.low < 17 / 30 < ci.high and "wilson" in str(ci)
    assert ci.to_dict()["details"]["k"] == 17
    for bad in [(5, 0), (-1, 3), (4, 3)]:
        with pytest.raises(ValueError):
            wilson(*bad)
    with pytest.raises(ValueError, match="unknown method"):
        binomial_interval(1, 2, method="wald")


def exact_coverage(n: int, p: float) -> float:
    return float(sum(stats.binom.pmf(k, n, p) for k in range(n + 1) if wilson(k, n).low <= p <= wilson(k, n).high))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_wilson_coverage_simulation_matches_exact(p: float) -> None:
    """Seeded simulation of the coverage of the 95% Wilson interval at n = 30, against the exact
    coverage. Exact: 0.957 at p = 0.5 and 0.974 at p = 0.1 / 0.9 (Wilson is conservative near the
    boundary at this n; its coverage oscillates with p)."""
    rng = np.random.default_rng(7)
    k = rng.binomial(30, p, size=20_000)
    table = {kk: wilson(kk, 30) for kk in range(31)}
    cov = float(np.mean([table[x].low <= p <= table[x].high for x in k]))
    ex = exact_coverage(30, p)
    assert abs(cov - ex) < 4 * np.sqrt(ex * (1 - ex) / len(k))
    assert 0.935 <= cov <= 0.98


def test_wilson_average_coverage_is_nominal() -> None:
    # averaged over p in [0.05, 0.95] the 95% Wilson interval covers close to 95%
    ps = np.linspace(0.05, 0.95, 91)
    assert 0.945 <= np.mean([exact_coverage(30, p) for p in ps]) <= 0.965


def simulate(rng: np.random.Generator, P: int = 30, S: int = 10, a: float = 0.6, b: float = 0.9) -> np.ndarray:
    p = rng.beta(a, b, P)  # heterogeneous per-problem difficulty
    return rng.random((P, S)) < p[:, None]


@pytest.mark.parametrize("method,band", [("percentile", (0.93, 0.97)), ("bca", (0.93, 0.98))])
def test_two_level_bootstrap_coverage(method: str, band: tuple[float, float]) -> None:
    """30 problems x 10 seeds, per-problem accuracy ~ Beta(0.6, 0.9), truth = 0.4. Resampling seeds
    within resampled problems counts the within-problem variance a second time, so the interval is
    slightly conservative (about 0.955 percentile, 0.965 BCa over 3,000 simulations)."""
    rng = np.random.default_rng(11)
    truth = 0.6 / 1.5
    sims = 800
    hits = 0
    for s in range(sims):
        ci = two_level_bootstrap(simulate(rng), n_boot=1_000, method=method, seed=s)
        hits += ci.low <= truth <= ci.high
    assert band[0] <= hits / sims <= band[1], hits / sims


def test_bootstrap_mean_and_se_against_closed_form() -> None:
    rng = np.random.default_rng(3)
    c = simulate(rng, P=200, S=8)
    ci = two_level_bootstrap(c, n_boot=20_000, seed=1)
    assert ci.estimate == pytest.approx(c.mean())
    # bootstrap SE ~ clustered SE (problems as clusters), within 10%
    assert ci.details["boot_se"] == pytest.approx(clustered_se(c), rel=0.1)


def test_clustered_se_matches_statsmodels_ols() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    c = simulate(rng, P=25, S=6).astype(float)
    groups = np.repeat(np.arange(25), 6)
    res = sm.OLS(c.ravel(), np.ones((c.size, 1))).fit(cov_type="cluster", cov_kwds={"groups": groups,
                                                                                     "use_correction": True})
    # with one regressor statsmodels' small-sample correction G/(G-1) (N-1)/(N-K) is CR1's G/(G-1)
    assert clustered_se(c) == pytest.approx(float(res.bse[0]), abs=1e-9)


def test_variance_components_recover_truth() -> None:
    rng = np.random.default_rng(2)
    p = rng.beta(1, 1, 4000)
    c = rng.random((4000, 20)) < p[:, None]
    vc = variance_components(c)
    assert vc.between == pytest.approx(1 / 12, rel=0.05)
    assert vc.within == pytest.approx(1 / 6, rel=0.05)
    assert vc.icc == pytest.approx(1 / 3, rel=0.05)


def test_multi_seed_accuracy_fields() -> None:
    rng = np.random.default_rng(4)
    c = simulate(rng)
    r = multi_seed_accuracy(c, n_boot=2_000)
    assert r.mean == pytest.approx(c.mean())
    assert r.seed_sd == pytest.approx(np.std(c.mean(axis=0), ddof=1))
    assert r.percentile.low < r.mean < r.percentile.high and r.bca.low < r.mean < r.bca.high
    assert (r.n_problems, r.n_seeds) == (30, 10)
    assert "clustered SE" in str(r)
    # samples dimension: (problem, seed, sample)
    r3 = multi_seed_accuracy(rng.random((10, 3, 4)) < 0.5, n_boot=500)
    assert r3.n_seeds == 3


def test_paired_difference_and_tests() -> None:
    rng = np.random.default_rng(8)
    p = rng.beta(1, 1, 40)
    a = rng.random((40, 5)) < np.clip(p + 0.15, 0, 1)[:, None]
    b = rng.random((40, 5)) < p[:, None]
    d = paired_difference(a, b)
    assert d.estimate == pytest.approx(a.mean() - b.mean())
    assert d.low > 0  # a real 15-point improvement is detected
    t = sign_flip_test(a, b)
    assert t.pvalue < 0.01
    same = paired_difference(a, a)
    assert same.low == same.high == 0.0


def test_sign_flip_exact_matches_brute_force() -> None:
    a = np.array([[1, 1], [1, 0], [0, 0], [1, 1], [0, 1], [1, 1]], dtype=float)
    b = np.array([[0, 1], [0, 0], [0, 1], [0, 0], [0, 0], [1, 0]], dtype=float)
    d = (a - b).mean(axis=1)
    obs = abs(d.mean())
    flips = [abs(np.mean(np.array(s) * d)) for s in itertools.product((1, -1), repeat=6)]
    assert sign_flip_test(a, b).pvalue == pytest.approx(np.mean(np.array(flips) >= obs - 1e-12))


def test_mcnemar_exact() -> None:
    a = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1, 0], dtype=bool)
    b = np.array([0, 0, 0, 0, 0, 1, 0, 1, 1, 0], dtype=bool)
    r = mcnemar_exact(a, b)
    assert r.details == {"a_only": 5, "b_only": 1}
    assert r.pvalue == pytest.approx(stats.binomtest(5, 6, 0.5).pvalue)
    assert mcnemar_exact(a, a).pvalue == 1.0


def test_multiplicity_corrections_match_statsmodels() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2, 0.04])
    assert np.allclose(holm(p), multipletests(p, method="holm")[1], atol=1e-12)
    assert np.allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], atol=1e-12)


def brute_pass(n: int, c: int, k: int) -> float:
    items = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(items[i] for i in s) for s in subsets) / len(subsets)


def brute_maj(labels: list[int | None], gold: int, k: int) -> float:
    total = 0.0
    subsets = list(itertools.combinations(range(len(labels)), k))
    for s in subsets:
        votes: dict[int, int] = {}
        for i in s:
            if labels[i] is not None:
                votes[labels[i]] = votes.get(labels[i], 0) + 1
        if not votes or gold not in votes:
            continue
        top = max(votes.values())
        if votes[gold] == top:
            total += 1 / sum(1 for v in votes.values() if v == top)
    return total / len(subsets)


@pytest.mark.parametrize("n,c,k", [(5, 0, 1), (5, 2, 1), (5, 2, 3), (8, 3, 4), (8, 8, 2), (10, 1, 10)])
def test_pass_at_k_brute_force(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass(n, c, k), abs=1e-12)
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_pass_at_k_vectorised() -> None:
    out = pass_at_k(np.array([5, 8]), np.array([2, 3]), 2)
    assert out.shape == (2,) and out[0] == pytest.approx(brute_pass(5, 2, 2))


@pytest.mark.parametrize("seed", range(12))
def test_maj_at_k_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 10))
    labels: list[int | None] = [None if rng.random() < 0.15 else int(rng.integers(0, 4)) for _ in range(n)]
    gold = 0
    classes = sorted({x for x in labels if x is not None})
    counts = [labels.count(c) for c in classes]
    for k in range(1, n + 1):
        got = maj_at_k(counts, classes.index(gold) if gold in classes else None, k, labels.count(None))
        assert got == pytest.approx(brute_maj(labels, gold, k), abs=1e-12)


def test_maj_at_1_equals_accuracy() -> None:
    assert maj_at_k([4, 3, 3], 0, 1) == pytest.approx(0.4)
    assert maj_at_k([4, 3, 3], 0, 1, abstain=5) == pytest.approx(4 / 15)


def test_power() -> None:
    r = minimum_detectable_difference(0.5, 30, 1)
    z = stats.norm.isf(0.025) + stats.norm.ppf(0.8)
    assert r.mdd == pytest.approx(z * np.sqrt(2 * 0.25 / 30))
    # more seeds help less when seeds are correlated
    assert minimum_detectable_difference(0.5, 30, 10, icc=0.5).mdd > minimum_detectable_difference(0.5, 30, 10).mdd
    k = seeds_for_half_width(0.5, 30, 0.1, icc=0.3)
    z95 = stats.norm.isf(0.025)
    hw = lambda s: z95 * np.sqrt(0.25 / (30 * s) * (1 + (s - 1) * 0.3))  # noqa: E731
    assert hw(k) <= 0.1 < hw(k - 1)
    assert seeds_for_half_width(0.5, 30, 0.05, icc=0.9) == float("inf")


def test_scaling_curve_metrics() -> None:
    from evalkit.analyze import scaling_curve

    rng = np.random.default_rng(9)
    P, S = 20, 4
    base = rng.beta(1, 1, P)
    caps = [100, 200, 400]
    correct, tokens = [], []
    for i, cap in enumerate(caps):
        correct.append(rng.random((P, S)) < np.clip(base + 0.1 * i, 0, 1)[:, None])
        tokens.append(np.minimum(rng.integers(50, 500, (P, S)), cap))
    r = scaling_curve(correct, tokens, budgets=[(0, c) for c in caps], n_boot=300)
    acc = [c.mean() for c in correct]
    xs = [t.mean() for t in tokens]
    slopes = [(acc[j] - acc[i]) / (xs[j] - xs[i]) for i in range(3) for j in range(i + 1, 3)]
    assert r.scaling.estimate == pytest.approx(np.mean(slopes))
    assert r.performance.estimate == pytest.approx(max(acc))
    assert r.control.estimate == 1.0  # tokens never exceed their cap here
    assert all(p.accuracy.low <= p.accuracy.estimate <= p.accuracy.high for p in r.points)
    over = [np.where(rng.random((P, S)) < 0.25, c + 1, c) for c in [np.minimum(t, c) for t, c in zip(tokens, caps, strict=True)]]
    assert scaling_curve(correct, over, budgets=[(0, c) for c in caps], n_boot=50).control.estimate < 1.0


@pytest.mark.parametrize("seed", range(8))
def test_best_of_k_brute_force(seed: int) -> None:
    from evalkit.analyze import best_of_k

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 8))
    scores = rng.integers(0, 4, n).astype(float)  # ties on purpose
    correct = rng.random(n) < 0.5
    for k in range(1, n + 1):
        total = 0.0
        subsets = list(itertools.combinations(range(n), k))
        for s in subsets:
            top = max(scores[i] for i in s)
            winners = [i for i in s if scores[i] == top]
            total += np.mean([correct[i] for i in winners])
        assert best_of_k(scores, correct, k) == pytest.approx(total / len(subsets), abs=1e-12)
    assert best_of_k(scores, correct, 1) == pytest.approx(correct.mean())
