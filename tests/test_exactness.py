"""The exactness check on constructed log-probabilities (the real-engine use is in test_engine_vllm.py)."""

from __future__ import annotations

import math

import pytest

from evalkit.generate.engine import GenRequest, GenResult
from evalkit.generate.exactness import compare, compare_logs, first_divergence, poisson_upper


def lp(**kw: float) -> dict[int, float]:
    return {int(k[1:]): v for k, v in kw.items()}


def test_first_divergence() -> None:
    assert first_divergence([1, 2, 3], [1, 2, 3, 4]) is None
    assert first_divergence([1, 2, 3], [1, 5, 3]) == 1


def test_identical_and_explained_near_tie() -> None:
    a = [lp(t1=-0.1, t2=-2.0), lp(t3=-0.70, t4=-0.72)]
    b = [lp(t1=-0.1, t2=-2.0), lp(t3=-0.71, t4=-0.70)]
    assert compare([1, 3], a, [1, 3], a, tol=0.05).verdict == "identical"
    c = compare([1, 3], a, [1, 4], b, tol=0.05)  # A picked 3, B picked 4; the gap moved towards 4 in B
    assert (c.verdict, c.position) == ("explained", 1)
    assert c.gap_a == pytest.approx(0.02) and c.gap_b == pytest.approx(-0.01)


def test_gap_order_reversed_or_unchanged_is_unexplained() -> None:
    a = [lp(t3=-0.71, t4=-0.70)]
    b = [lp(t3=-0.70, t4=-0.72)]
    # A picked 3 although 4 was ahead in A and B picked 4 although 3 was ahead in B: not one noise draw
    assert compare([3], a, [4], b, tol=0.05).verdict == "unexplained"
    # with top-p the nucleus may have masked a candidate: cannot tell
    assert compare([3], a, [4], b, tol=0.05, top_p=0.9).verdict == "unverifiable"
    # the same log-probabilities cannot part under the same noise
    assert "another seed" in compare([3], a, [4], a, tol=0.05).why


def test_shared_context_must_agree() -> None:
    a = [lp(t1=-0.1, t2=-2.0), lp(t3=-0.5)]
    b = [lp(t1=-0.9, t2=-0.6), lp(t3=-0.5)]
    c = compare([1, 3], a, [1, 3], b, tol=0.05)
    assert c.verdict == "unexplained" and "shared context" in c.why


def test_outside_top_k_is_unverifiable_and_missing_logprobs_raise() -> None:
    assert compare([3], [lp(t3=-0.1)], [4], [lp(t4=-0.1, t3=-0.11)], tol=0.05).verdict == "unverifiable"
    with pytest.raises(ValueError, match="log-probabilities missing"):
        compare([1, 2], [], [1, 3], [], tol=0.05)


def test_poisson_upper() -> None:
    for lam in (0.01, 0.5, 3.0, 20.0):
        k = poisson_upper(lam)
        tail = 1 - sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k + 1))
        prev = 1 - sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k))
        assert tail < 1e-6 <= prev


def test_compare_logs_matches_twins_and_explains_descendants() -> None:
    p = (7, 8)
    near = [lp(t1=-0.1), lp(t3=-0.70, t4=-0.72)]
    near_b = [lp(t1=-0.1), lp(t3=-0.71, t4=-0.70)]
    a = [(GenRequest(p, 2, seed=1), GenResult([1, 3], None, logprobs=near)),
         (GenRequest(p + (1, 3), 1, seed=2), GenResult([5], None, logprobs=[lp(t5=-0.1)]))]
    b = [(GenRequest(p, 2, seed=1), GenResult([1, 4], None, logprobs=near_b)),
         (GenRequest(p + (1, 4), 1, seed=2), GenResult([6], None, logprobs=[lp(t6=-0.1)]))]  # follows the divergence
    res = compare_logs(a, b, tol=0.05, top_p=1.0)
    assert [c.verdict for c in res.comparisons] == ["explained"] and res.descendants == 1 and res.ok
    # a request of B with no twin and no divergence to explain it is an orphan
    orphan = [*b, (GenRequest((9,), 1, seed=3), GenResult([1], None, logprobs=[lp(t1=0.0)]))]
    assert not compare_logs(a, orphan, tol=0.05).ok


def test_compare_logs_bounds_the_number_of_divergences() -> None:
    """Many near ties where the log-probabilities barely differ: more divergences than the flip bound
    allows is what another seed looks like."""
    a, b = [], []
    for s in range(10):
        a.append(
            (GenRequest((s,), 1, seed=s, temperature=1.0), GenResult([3], None, logprobs=[lp(t3=-0.6931, t4=-0.69315)]))
        )
        b.append(
            (
                GenRequest((s,), 1, seed=s, temperature=1.0),
                GenResult([4], None, logprobs=[lp(t3=-0.69312, t4=-0.69313)]),
            )
        )
    res = compare_logs(a, b, tol=0.05)
    assert all(c.verdict == "explained" for c in res.comparisons)
    assert res.divergences == 10 > res.max_divergences and not res.ok
    # a stop token counts as a sampled token: an EOS in A against a token in B is a divergence
    eos = compare_logs(
        [(GenRequest((1,), 2, seed=0), GenResult([], 0, logprobs=[lp(t0=-0.5, t2=-0.52)]))],
        [(GenRequest((1,), 2, seed=0), GenResult([2], None, logprobs=[lp(t0=-0.52, t2=-0.5)]))],
        tol=0.05,
    )
    assert eos.comparisons[0].position == 0
