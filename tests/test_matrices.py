"""The outcome-matrix and vote-matrix helpers of evalkit.analyze: hand-computed means and brute force over
every k-subset of a vote."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from evalkit.analyze import (
    complete_seeds,
    mean_accuracy,
    per_seed_accuracy,
    problem_accuracy,
    seed_summary,
    vote_matrices,
)

NAN = np.nan
M = np.array([[1.0, 0.0, NAN],
              [0.5, 1.0, 1.0],
              [0.0, NAN, NAN]])


def test_means_of_an_outcome_matrix_weight_problems_equally() -> None:
    assert per_seed_accuracy(M).tolist() == [0.5, 0.5, 1.0]  # each seed over the problems it has
    assert problem_accuracy(M).tolist() == [0.5, pytest.approx(2.5 / 3), 0.0]
    assert mean_accuracy(M) == pytest.approx((0.5 + 2.5 / 3 + 0.0) / 3)
    assert mean_accuracy(M) == seed_summary(M).mean and seed_summary(M).seed_means == (0.5, 0.5, 1.0)
    assert complete_seeds(M).tolist() == [[1.0], [0.5], [0.0]]  # the one seed every problem has
    gap = np.array([[1.0, NAN], [0.0, NAN]])
    assert np.isnan(per_seed_accuracy(gap)[1]) and per_seed_accuracy(gap)[0] == 0.5
    with pytest.raises(ValueError, match="1 problems have no observation"):
        mean_accuracy(np.array([[1.0, 0.0], [NAN, NAN]]))
    with pytest.raises(ValueError, match=r"outcomes\[problem, seed\]"):
        per_seed_accuracy(np.zeros(3))


def _brute(labels: list[int | None], gold: int | None, scores: list[float], k: int) -> tuple[float, float, float]:
    """maj@k, pass@k and best-of-k of one vote, averaged over every k-subset of its samples."""
    maj, any_ok, best = [], [], []
    for sub in itertools.combinations(range(len(labels)), k):
        votes = [labels[i] for i in sub if labels[i] is not None]
        counts = {c: votes.count(c) for c in set(votes)}
        top = [c for c, n in counts.items() if n == max(counts.values())] if counts else []
        maj.append(1 / len(top) if gold in top else 0.0)
        any_ok.append(float(any(labels[i] == gold and gold is not None for i in sub)))
        hi = max(scores[i] for i in sub)
        best.append(np.mean([float(labels[i] == gold and gold is not None) for i in sub if scores[i] == hi]))
    return float(np.mean(maj)), float(np.mean(any_ok)), float(np.mean(best))


def _cell(seed: int = 0) -> tuple[list, list, list, list, list]:
    rng = np.random.default_rng(seed)
    problem, seed_col, cls, ok, score = [], [], [], [], []
    for p, s in itertools.product(["p1", "p2", "p3"], [0, 1]):
        gold = int(rng.integers(0, 3))
        for _ in range(5):
            c = None if rng.random() < 0.2 else int(rng.integers(0, 3))
            problem.append(p)
            seed_col.append(s)
            cls.append(NAN if c is None else float(c))
            ok.append(c == gold)
            score.append(float(rng.integers(0, 3)))  # ties on purpose
    return problem, seed_col, cls, ok, score


def test_vote_matrices_equal_brute_force_over_k_subsets() -> None:
    problem, seed, cls, ok, score = _cell()
    v = vote_matrices(problem, seed, cls, ok, [1, 2, 3, 5], scores=score)
    assert v.problems == ("p1", "p2", "p3") and v.seeds == (0, 1) and (v.samples == 5).all()
    for (i, p), (j, s) in itertools.product(enumerate(v.problems), enumerate(v.seeds)):
        rows = [r for r in range(len(problem)) if problem[r] == p and seed[r] == s]
        labels = [None if np.isnan(cls[r]) else int(cls[r]) for r in rows]
        good = [lab for r, lab in zip(rows, labels, strict=True) if ok[r]]
        gold = min(good) if good else None
        for k in (1, 2, 3, 5):
            want = _brute(labels, gold, [score[r] for r in rows], k)
            assert (v.maj[k][i, j], v.pass_k[k][i, j], v.best[k][i, j]) == pytest.approx(want, abs=1e-12)


def test_vote_matrices_mark_what_a_unit_cannot_give() -> None:
    problem, seed, cls, ok, score = _cell(1)
    keep = [r for r in range(len(problem)) if not (problem[r] == "p2" and seed[r] == 1)]  # a missing unit
    keep = [r for r in keep if not (problem[r] == "p1" and seed[r] == 0) or r % 5 < 2]  # a unit of 2 samples
    score = [NAN if problem[r] == "p3" and seed[r] == 0 and r % 5 == 4 else score[r] for r in range(len(score))]
    cols = [[c[r] for r in keep] for c in (problem, seed, cls, ok, score)]
    v = vote_matrices(*cols[:4], [1, 3], scores=cols[4])
    assert v.samples.tolist() == [[2, 5], [5, 0], [5, 5]]
    assert np.isnan(v.maj[3][0, 0]) and np.isnan(v.pass_k[3][0, 0]) and not np.isnan(v.maj[1][0, 0])
    assert all(np.isnan(m[1, 1]) for m in (v.maj[1], v.pass_k[1], v.best[1]))
    assert np.isnan(v.best[1][2, 0]) and not np.isnan(v.maj[1][2, 0])  # a sample without a score
    assert np.isnan(vote_matrices(*cols[:4], [1]).best[1]).all()  # no scores at all
    only = vote_matrices(*cols[:4], [1], problems=["p3"], seeds=[1, 0])
    assert only.samples.tolist() == [[5, 5]] and only.maj[1][0, 0] == v.maj[1][2, 1]
