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
    holm,
    maj_at_k,
    mcnemar_exact,
    minimum_detectable_difference,
    paired_difference,
    pass_at_k,
    sign_flip_test,
    two_level_bootstrap,
    variance_components,
    wilson,
)
from evalkit.analyze._reference import clustered_se, multi_seed_accuracy, seeds_for_half_width

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
    same = paired_difference(a, a)  # no problem differs: never [0, 0] (it would miss any non-zero truth)
    z2 = 1.959963984540054 ** 2
    assert same.estimate == 0.0 and same.high == pytest.approx(z2 / (40 + z2)) and same.low == -same.high


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
    over = [
        np.where(rng.random((P, S)) < 0.25, c + 1, c)
        for c in [np.minimum(t, c) for t, c in zip(tokens, caps, strict=True)]
    ]
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


# --- the one resampling engine ------------------------------------------------------------------------


def naive_two_level(v: np.ndarray, B: int, rng: np.random.Generator) -> np.ndarray:
    """The two-level bootstrap by index draws: P problems with replacement, then each drawn problem's
    observed seeds with replacement (one seed draw serves every column). (B, k) column means."""
    P, S, _ = v.shape
    ok = ~np.isnan(v).all(axis=2)
    n = ok.sum(axis=1)
    compact = np.take_along_axis(v, np.argsort(~ok, axis=1, kind="stable")[:, :, None], axis=1)  # observed first
    idx = rng.integers(0, P, (B, P))
    nn = n[idx][..., None]  # (B, P, 1)
    seeds = np.floor(rng.random((B, P, S)) * nn).astype(int)
    vals = compact[idx[..., None], seeds]  # (B, P, S, k)
    used = (np.arange(S) < nn)[..., None]
    return (np.where(used, vals, 0.0).sum(axis=2) / nn).mean(axis=1)


def assert_same_distribution(a: np.ndarray, b: np.ndarray) -> None:
    # rounded: on a lattice the two algorithms' float sums of one value may differ in the last bit, and
    # KS on a discrete distribution would count such an atom as a jump in only one sample
    assert stats.ks_2samp(np.round(a, 10), np.round(b, 10)).pvalue > 0.001
    se_mean = a.std(ddof=1) * np.sqrt(1 / len(a) + 1 / len(b))
    assert abs(a.mean() - b.mean()) < 4 * se_mean
    assert b.std(ddof=1) == pytest.approx(a.std(ddof=1), rel=4 * np.sqrt(1 / (2 * len(a)) + 1 / (2 * len(b))))


@pytest.mark.parametrize("design", ["complete", "ragged", "two values"])
def test_two_level_binary_engine_equals_naive_in_distribution(design: str) -> None:
    """0/1 outcomes through sufficient statistics (the exact convolution with equal seed counts, one
    multinomial over the mixture's values with ragged ones) = index resampling of problems then seeds."""
    from evalkit.analyze import resample

    rng = np.random.default_rng(21)
    c = simulate(rng, P=60, S=8).astype(float)
    if design == "ragged":
        c[rng.random(c.shape) < 0.2] = np.nan
        c[:, 0] = rng.random(60) < 0.5  # every problem keeps a seed
    if design == "two values":
        c = 0.25 + 0.5 * c  # outcomes 0.25 / 0.75
    r = resample(c, levels=2, n_resamples=20_000, rng=1)
    ref = naive_two_level(c[:, :, None], 20_000, rng)[:, 0]
    assert_same_distribution(ref, r.distribution[:, 0])
    assert r.estimate[0] == pytest.approx(np.mean(np.nanmean(c, axis=1)))
    assert r.method == "two-level bootstrap (percentile)" and r.details["levels"] == 2
    # legacy wrappers use the same engine and carry its distribution
    iv = two_level_bootstrap(c, n_boot=2_000, seed=3)
    assert iv.distribution is not None and iv.distribution.shape == (2_000,)
    assert iv.low == pytest.approx(np.quantile(iv.distribution, 0.025)) and "distribution" not in iv.to_dict()


def test_two_level_continuous_paired_and_unpaired() -> None:
    """Continuous seed values in two correlated columns: paired=True keeps one draw of problems and seeds
    for both (the difference of the columns has the naive paired distribution); paired=False resamples
    each column on its own (each column's distribution unchanged, the difference much wider)."""
    from evalkit.analyze import resample

    rng = np.random.default_rng(5)
    P, S = 30, 5
    base = rng.normal(size=(P, 1)) + rng.normal(scale=0.5, size=(P, S))
    v = np.stack([base, base + 0.3 + rng.normal(scale=0.2, size=(P, S))], axis=2)  # (P, S, 2)
    v[0, 3:] = np.nan  # missing seeds (in both columns)
    B = 20_000
    ref = naive_two_level(v, B, rng)
    diff = lambda m: m[:, 1] - m[:, 0]  # noqa: E731
    paired = resample(v, lambda m: np.c_[m, diff(m)], levels=2, n_resamples=B, rng=2)
    for j in range(2):
        assert_same_distribution(ref[:, j], paired.distribution[:, j])
    assert_same_distribution(diff(ref), paired.distribution[:, 2])
    unpaired = resample(v, diff, levels=2, paired=False, n_resamples=B, rng=3)
    ind = naive_two_level(v[:, :, [1]], B, rng)[:, 0] - naive_two_level(v[:, :, [0]], B, rng)[:, 0]
    assert_same_distribution(ind, unpaired.distribution[:, 0])
    assert unpaired.se[0] > 3 * paired.se[2]
    with pytest.raises(ValueError, match="paired=False"):
        bad = v.copy()
        bad[1, 0, 0] = np.nan  # a seed missing in one column only
        resample(bad, levels=2, n_resamples=10)


def test_one_level_paired_and_unpaired_columns() -> None:
    """levels=1: paired columns give the SD of the difference of problem means / sqrt(P) (times the
    bootstrap's sqrt((P - 1) / P)); unpaired ones the SD of two independent means."""
    from evalkit.analyze import resample

    rng = np.random.default_rng(7)
    P = 200
    a = rng.normal(size=P)
    v = np.c_[a, a + rng.normal(scale=0.3, size=P)]
    diff = lambda m: m[:, 1] - m[:, 0]  # noqa: E731
    shrink = np.sqrt((P - 1) / P)
    p = resample(v, diff, n_resamples=20_000, rng=1)
    assert p.se[0] == pytest.approx(np.std(v[:, 1] - v[:, 0], ddof=1) / np.sqrt(P) * shrink, rel=0.03)
    u = resample(v, diff, paired=False, n_resamples=20_000, rng=1)
    both = np.sqrt(v[:, 0].var(ddof=1) + v[:, 1].var(ddof=1)) / np.sqrt(P) * shrink
    assert u.se[0] == pytest.approx(both, rel=0.03)
    assert p.details["paired"] and not u.details["paired"]


def test_interval_helper_percentile_t_and_bca() -> None:
    """One helper for every interval: percentile = quantiles of the distribution; t = estimate +-
    t_{P-1} x SE x sqrt(P / (P - 1)); BCa's acceleration from the grouped jackknife equals the textbook
    per-problem jackknife. Every interval is available again from the result without resampling."""
    from evalkit.analyze import resample

    rng = np.random.default_rng(3)
    P = 40
    pm = rng.integers(0, 6, P) / 5  # ties: 6 groups of problems
    r = resample(pm, lambda m: np.c_[m[:, 0], m[:, 0] ** 2], n_resamples=5_000, rng=4, method="bca",
                 confidence=0.9)
    d = r.distribution
    lo, hi = r.interval("percentile")
    assert np.array_equal(lo, np.quantile(d, 0.05, axis=0)) and np.array_equal(hi, np.quantile(d, 0.95, axis=0))
    lo_t, hi_t = r.interval("t")
    q = stats.t.isf(0.05, P - 1) * np.sqrt(P / (P - 1)) * d.std(axis=0, ddof=1)
    assert lo_t == pytest.approx(r.estimate - q) and hi_t == pytest.approx(r.estimate + q)
    for j, f in enumerate((lambda x: x.mean(), lambda x: x.mean() ** 2)):
        theta = f(pm)
        jack = np.array([f(np.delete(pm, i)) for i in range(P)])
        dev = jack.mean() - jack
        a = np.sum(dev ** 3) / (6 * np.sum(dev ** 2) ** 1.5)
        z0 = stats.norm.ppf(np.mean(d[:, j] < theta) + 0.5 * np.mean(d[:, j] == theta))
        z = stats.norm.ppf([0.05, 0.95])
        expect = np.quantile(d[:, j], stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))
        assert r.details["acceleration"][j] == pytest.approx(a)
        assert (r.low[j], r.high[j]) == pytest.approx(tuple(expect))
    again = resample(pm, lambda m: np.c_[m[:, 0], m[:, 0] ** 2], n_resamples=5_000, rng=4, method="percentile",
                     confidence=0.9)
    assert np.array_equal(again.distribution, d) and np.array_equal(again.low, lo)
    with pytest.raises(ValueError, match="jackknife"):
        again.interval("bca")
    with pytest.raises(ValueError, match="method"):
        resample(pm, method="normal")  # type: ignore[arg-type]


def test_bootstrap_results_carry_their_distributions() -> None:
    """Callers reuse the paired replicates instead of resampling: the multi-seed intervals share one
    distribution, and a scaling curve's Intervals are columns of its one bootstrap."""
    from evalkit.analyze import scaling_curve

    rng = np.random.default_rng(9)
    c = simulate(rng)
    r = multi_seed_accuracy(c, n_boot=1_000)
    assert r.percentile.distribution is r.bca.distribution and r.bca.distribution.shape == (1_000,)
    correct = [rng.random((20, 4)) < p for p in (0.3, 0.5, 0.6)]
    tokens = [np.full((20, 4), x) for x in (100.0, 200.0, 400.0)]
    s = scaling_curve(correct, tokens, n_boot=300)
    assert np.array_equal(s.scaling.distribution, s.bootstrap.distribution[:, 7])
    assert np.array_equal(s.points[1].accuracy.distribution, s.bootstrap.distribution[:, 4])
