"""Is a trajectory-tree branch the same generation as an independent run? Checks that hold on any engine.

A branch of a trajectory tree and an independent run of the same job send the engine the same prompt
with the same per-request seed, but in different batches. An engine whose kernels are batch-invariant
returns the same tokens; vLLM on CPUs is not always (AMX kernels, and a request alone in a step, can
change the last bits of the logits), so two runs can part at a token where the seeded noise left two
candidates nearly tied. This module tells such a numerical divergence from a real difference (another
context, another seed) using the log-probabilities the engine recorded while sampling:

- at every shared position the two runs saw the same context, so their top-k log-probabilities must
  agree within a numerical tolerance;
- at the first differing position ``d`` the runs sampled ``x`` (run A) and ``y`` (run B). Gumbel-max
  sampling with the same seeded noise ``g`` picks ``argmax(l / T + g)``; ``x`` winning in A and ``y``
  in B means ``(lA[x] - lA[y]) > (lB[x] - lB[y])`` (the noise terms cancel): the logits must differ there,
  by no more than the numerical tolerance. Identical log-probabilities at a divergence, or the gap order
  reversed, mean another seed or context;
- divergences must be rare: with the same noise, a step whose log-probabilities differ by ``delta``
  flips the sampled token with probability at most about ``2 delta / T`` (the difference of two Gumbel
  variables has density <= 1/4, summed over the runner-up candidates), so the number of divergences is
  bounded by a Poisson tail of the summed bound. Another seed diverges within a few tokens every time.

Pure functions of token ids and log-probabilities (no engine import).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["identical", "explained", "unverifiable", "unexplained"]

SIGN_EPS = 1e-3  # float32 rounding of a log-probability gap


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    position: int | None  # first index where the token ids differ (None: one is a prefix of the other)
    shared_max_diff: float  # largest |logprob A - logprob B| over tokens listed in both, shared positions
    gap_a: float | None = None  # lA[x] - lA[y] at the divergence
    gap_b: float | None = None  # lB[x] - lB[y]
    why: str = ""
    flip_bound: float = 0.0  # sum over compared steps of min(1, 2 delta_t / T): expected divergences, at most


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None


def _step_diff(pa: dict[int, float], pb: dict[int, float]) -> float:
    common = pa.keys() & pb.keys()
    return max((abs(pa[t] - pb[t]) for t in common), default=0.0)


def compare(
    ids_a: Sequence[int],
    lp_a: Sequence[dict[int, float]],
    ids_b: Sequence[int],
    lp_b: Sequence[dict[int, float]],
    *,
    tol: float,
    top_p: float = 1.0,
    temperature: float = 1.0,
) -> Comparison:
    """Compare two generations of one request (same prompt and seed). ``lp_*[i]`` holds the sampled
    token's log-probability and the recorded top-k at step ``i``. Sequences may differ in length (a
    shorter ``max_tokens``): only the common length is compared. ``tol`` bounds numerical noise of a
    log-probability between batches (measured: ``docs/design/engine.md``)."""
    n = min(len(ids_a), len(ids_b))
    d = first_divergence(ids_a[:n], ids_b[:n])
    upto = n if d is None else d
    if len(lp_a) < upto + (d is not None) or len(lp_b) < upto + (d is not None):
        raise ValueError("log-probabilities missing: run both generations with logprobs recorded")
    deltas = [_step_diff(lp_a[i], lp_b[i]) for i in range(upto + (d is not None))]
    shared = max(deltas[:upto], default=0.0)
    t = max(temperature, 1e-6)
    bound = sum(min(1.0, 2 * dt / t) for dt in deltas)
    if shared > tol:
        return Comparison(
            "unexplained",
            d,
            shared,
            why=f"log-probabilities of a shared context differ by {shared:.3g} > {tol}",
            flip_bound=bound,
        )
    if d is None:
        return Comparison("identical", None, shared, flip_bound=bound)
    pa, pb = lp_a[d], lp_b[d]
    x, y = ids_a[d], ids_b[d]

    def verdict(v: Verdict, why: str, ga: float | None = None, gb: float | None = None) -> Comparison:
        return Comparison(v, d, shared, ga, gb, why, bound)

    if deltas[d] > tol:
        return verdict("unexplained", f"log-probabilities at the divergence differ by {deltas[d]:.3g} > {tol}")
    if deltas[d] == 0.0:
        return verdict("unexplained", "identical log-probabilities at the divergence: the same seeded noise "
                                      "cannot pick two tokens (another seed?)")
    if not (x in pa and y in pa and x in pb and y in pb):
        return verdict("unverifiable", "a sampled token is outside the other run's recorded top-k")
    ga, gb = pa[x] - pa[y], pb[x] - pb[y]
    if ga - gb < -SIGN_EPS:
        if top_p < 1.0:  # a nucleus edge can mask y in A (or x in B): no constraint from that run
            return verdict("unverifiable", "gap order broken, possibly by the top-p nucleus", ga, gb)
        return verdict("unexplained", f"gap order broken ({ga:.4g} < {gb:.4g}): not the same seeded noise", ga, gb)
    if ga - gb > tol:
        return verdict("unexplained", f"gap moved by {ga - gb:.3g} > {tol}", ga, gb)
    return verdict("explained", f"near tie: gap {ga:.4g} in A, {gb:.4g} in B", ga, gb)


def poisson_upper(lam: float, p: float = 1e-6) -> int:
    """The smallest k with P(Poisson(lam) > k) < p."""
    k, term = 0, math.exp(-lam)
    cdf = term
    while 1.0 - cdf >= p and k < 100000:
        k += 1
        term *= lam / k
        cdf += term
    return k


def _full(result: object) -> list[int]:
    """Generated ids with the sampled stop token (an EOS or stop id is a sampled token too)."""
    ids = list(result.token_ids)  # type: ignore[attr-defined]  # a logged generation (GenResult): typed object here to read logs of any engine
    stop = result.stop_token  # type: ignore[attr-defined]  # a logged generation (GenResult): typed object here to read logs of any engine
    return ids + [stop] if stop is not None and stop >= 0 else ids


@dataclass(frozen=True)
class LogComparison:
    comparisons: list[Comparison]  # one per request of run B that has a twin in run A
    descendants: int  # requests of B without a twin whose prompt continues a diverged request
    orphans: list[str]  # requests of B without a twin and without a divergence to explain it

    @property
    def divergences(self) -> int:
        return sum(c.position is not None for c in self.comparisons)

    @property
    def max_divergences(self) -> int:
        """Divergences allowed by the flip bound (P(more) < 1e-6 for the same seeds and contexts)."""
        return poisson_upper(sum(c.flip_bound for c in self.comparisons))

    @property
    def ok(self) -> bool:
        return (not self.orphans and all(c.verdict != "unexplained" for c in self.comparisons)
                and self.divergences <= self.max_divergences)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for c in self.comparisons:
            counts[c.verdict] = counts.get(c.verdict, 0) + 1
        pos = sorted(c.position for c in self.comparisons if c.position is not None)
        shared = max((c.shared_max_diff for c in self.comparisons), default=0.0)
        return (f"{len(self.comparisons)} requests compared: {counts}; first divergences at {pos} "
                f"({self.divergences}, at most {self.max_divergences} allowed by the flip bound); "
                f"{self.descendants} follow-ups of diverged requests; largest shared-context log-probability "
                f"difference {shared:.2g}" + (f"; orphans: {self.orphans}" if self.orphans else ""))


def compare_logs(log_a: Sequence[tuple], log_b: Sequence[tuple], *, tol: float, top_p: float = 1.0) -> LogComparison:
    """Compare two runs of the same jobs, request by request. ``log_*`` are the (GenRequest, GenResult)
    pairs an engine recorded (``VLLMEngine.result_log`` with ``logprobs`` set). Each request of run B is
    matched with the request of run A that has the same prompt and seed (the longest, when a tree ran
    one request for several caps) and compared with :func:`compare`. A request of B with no twin is
    fine only if its prompt continues a request that diverged (its context differs legitimately)."""
    by_key: dict[tuple, object] = {}
    for r, o in log_a:
        key = (tuple(r.prompt_ids), r.seed)
        if key not in by_key or len(_full(o)) > len(_full(by_key[key])):
            by_key[key] = o
    comps: list[Comparison] = []
    diverged: list[tuple[int, ...]] = []  # prompt + common prefix up to the divergence
    pending = []
    for r, o in log_b:
        twin = by_key.get((tuple(r.prompt_ids), r.seed))
        if twin is None:
            pending.append(r)
            continue
        a, b = _full(twin), _full(o)
        c = compare(a, twin.logprobs or [], b, o.logprobs or [], tol=tol, top_p=top_p,  # type: ignore[attr-defined]  # a logged generation (GenResult): typed object here to read logs of any engine
                    temperature=r.temperature)
        comps.append(c)
        if c.position is not None:
            diverged.append(tuple(r.prompt_ids) + tuple(b[: c.position]))
    descendants, orphans = 0, []
    for r in pending:
        p = tuple(r.prompt_ids)
        if any(len(p) > len(d) and p[: len(d)] == d for d in diverged):
            descendants += 1
        else:
            orphans.append(f"prompt of {len(p)} ids, seed {r.seed}: no twin in the other run")
    return LogComparison(comps, descendants, orphans)
