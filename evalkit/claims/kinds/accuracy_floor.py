"""``accuracy_floor``: a system's reported accuracy on a benchmark is above a bar, with its Wilson interval."""

from __future__ import annotations

from evalkit.analyze import wilson_rate
from evalkit.claims.data import ClaimData
from evalkit.claims.params import Params
from evalkit.claims.registry import claim_kind
from evalkit.claims.verdict import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Verdict, needs
from evalkit.claims.words import Words, pct


class AccuracyFloor(Params):
    """``system``'s reported accuracy on ``benchmark`` is above ``bar`` (a proportion)."""

    benchmark: str
    system: str
    bar: float


def _words(v: Verdict, p: AccuracyFloor) -> Words:
    acc = v.intervals["accuracy"]
    return Words(statistic=f"{p.system} {pct(acc.estimate)} against a bar of {pct(p.bar)}",
                 interval=f"[{pct(acc.low)}, {pct(acc.high)}] (Wilson)", n=f"{acc.n} problems",
                 source=f"reported single run ({v.numbers['citation']})")


@claim_kind("accuracy_floor", AccuracyFloor, words=_words)
def accuracy_floor(data: ClaimData, p: AccuracyFloor) -> Verdict:
    """Supported when the Wilson interval of the reported accuracy lies above the bar."""
    if (miss := data.missing_benchmark(p.benchmark)) is not None:
        return needs(miss)
    rep = data.reported
    assert rep is not None
    r = rep.find(p.benchmark, p.system)
    if r is None:
        return needs(f"a single run of {p.system} on {p.benchmark} in the reported file")
    acc = wilson_rate(r.center, rep.benchmarks[p.benchmark].n, 1 - data.alpha)
    verdict = SUPPORTED if acc.low > p.bar else (NOT_SUPPORTED if acc.high < p.bar else INCONCLUSIVE)
    return Verdict(verdict, intervals={"accuracy": acc}, numbers={"citation": rep.cite(r.source)})
