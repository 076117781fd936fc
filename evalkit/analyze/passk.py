"""Unbiased pass@k (Chen et al., 2021) and maj@k (exact expectation over all k-subsets)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import comb

import numpy as np


def pass_at_k(n: int | np.ndarray, c: int | np.ndarray, k: int) -> float | np.ndarray:
    """P(at least one of k samples drawn without replacement from n is correct), c correct of n.

    1 - C(n-c, k) / C(n, k), computed as a stable product. Vectorised over ``n`` and ``c``.
    """
    if isinstance(k, bool) or not float(k).is_integer():
        raise ValueError(f"k must be a whole number, got {k!r}")
    k = int(k)
    n_arr, c_arr = np.asarray(n), np.asarray(c)
    for name, arr in (("n", n_arr), ("c", c_arr)):
        if not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f"{name} must be whole counts, got {arr.tolist()}")
    n_arr, c_arr = n_arr.astype(np.int64), c_arr.astype(np.int64)
    if np.any(k > n_arr) or k < 1:
        raise ValueError(f"need 1 <= k <= n (k={k})")
    if np.any(c_arr > n_arr) or np.any(c_arr < 0):
        raise ValueError("need 0 <= c <= n")

    def one(nn: int, cc: int) -> float:
        if nn - cc < k:
            return 1.0
        return 1.0 - float(np.prod(1.0 - k / np.arange(nn - cc + 1, nn + 1)))

    if n_arr.ndim == 0 and c_arr.ndim == 0:
        return one(int(n_arr), int(c_arr))
    nb, cb = np.broadcast_arrays(n_arr, c_arr)
    return np.array([one(int(a), int(b)) for a, b in zip(nb.ravel(), cb.ravel(), strict=True)]).reshape(nb.shape)


def maj_at_k(counts: Sequence[int], correct_index: int | None, k: int, abstain: int = 0) -> float:
    """Expected majority-vote accuracy of k samples drawn without replacement from n.

    ``counts[j]``: samples whose answer falls in equivalence class j; ``correct_index``: the class
    equal to the gold answer (None: no sample is correct); ``abstain``: samples with no answer (they
    take a slot but cannot win). A vote is correct when the correct class has strictly the most
    votes; a tie for the most votes between it and t-1 other classes counts 1/t. Exact: a sum over
    the number v of correct votes, with a polynomial over the other classes tracking how many tie.
    """
    if any(float(x) != int(x) for x in counts) or float(abstain) != int(abstain) or float(k) != int(k):
        raise ValueError("counts, abstain and k must be whole numbers")
    counts = [int(x) for x in counts]
    if any(x < 0 for x in counts) or abstain < 0:
        raise ValueError("counts must be non-negative")
    if correct_index is not None and not 0 <= correct_index < len(counts):
        raise ValueError(f"correct_index must index counts (0..{len(counts) - 1}) or be None, got {correct_index}")
    n = sum(counts) + abstain
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n (k={k}, n={n})")
    if correct_index is None or counts[correct_index] == 0:
        return 0.0
    mc = counts[correct_index]
    others = [x for j, x in enumerate(counts) if j != correct_index and x > 0]
    acc = Fraction(0)
    for v in range(1, min(mc, k) + 1):
        # f[s][t]: ways to pick s samples from the other classes (and abstentions) with every class
        # getting <= v votes, t of them exactly v
        f = [[0] * (len(others) + 1) for _ in range(k - v + 1)]
        f[0][0] = 1
        for m in others:
            g = [[0] * (len(others) + 1) for _ in range(k - v + 1)]
            for s in range(k - v + 1):
                for t in range(len(others) + 1):
                    if f[s][t] == 0:
                        continue
                    for x in range(0, min(v, m, k - v - s) + 1):
                        g[s + x][t + (x == v)] += f[s][t] * comb(m, x)
            f = g
        ways_c = comb(mc, v)
        for s in range(k - v + 1):
            rest = k - v - s  # drawn from abstentions
            if rest > abstain:
                continue
            w_abs = comb(abstain, rest)
            for t in range(len(others) + 1):
                if f[s][t]:
                    acc += Fraction(ways_c * f[s][t] * w_abs, t + 1)
    return float(acc / comb(n, k))


def maj_at_k_problems(answer_classes: Sequence[Sequence[int | None]], correct: Sequence[int | None],
                      k: int) -> np.ndarray:
    """maj@k per problem from per-sample class labels (None = no answer)."""
    out = []
    for labels, gold in zip(answer_classes, correct, strict=True):
        abstain = sum(1 for x in labels if x is None)
        classes = sorted({x for x in labels if x is not None})
        cnt = [sum(1 for x in labels if x == c) for c in classes]
        idx = classes.index(gold) if gold in classes else None
        out.append(maj_at_k(cnt, idx, k, abstain))
    return np.array(out)


def best_of_k(scores: Sequence[float] | np.ndarray, correct: Sequence[bool], k: int) -> float:
    """Expected accuracy of picking the highest-scored of k samples drawn without replacement from n
    (ties broken uniformly at random), exactly: the sample at rank r (r samples score lower) is the
    pick of C(r, k-1) of the C(n, k) subsets; a tie group shares its ranks' mass evenly. A sample
    without a score (NaN) ranks below every scored one: it is picked only from subsets with no score."""
    s = np.asarray(scores, dtype=float)
    s = np.where(np.isnan(s), -np.inf, s)
    c = np.asarray(correct, dtype=float)
    n = len(s)
    if len(c) != n:
        raise ValueError("scores and correct differ in length")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n (k={k}, n={n})")
    order = np.argsort(s, kind="stable")
    s, c = s[order], c[order]
    total = comb(n, k)
    acc = 0.0
    r = 0
    while r < n:
        hi = r
        while hi + 1 < n and s[hi + 1] == s[r]:
            hi += 1
        mass = sum(comb(q, k - 1) for q in range(r, hi + 1)) / total
        acc += mass * c[r:hi + 1].mean()
        r = hi + 1
    return float(acc)
