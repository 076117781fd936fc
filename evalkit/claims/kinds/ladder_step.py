"""``ladder_step``: two steps of a reported budget-forcing ladder differ by no more than noise."""

from __future__ import annotations

from typing import ClassVar, Literal

from evalkit.analyze import best_paired_p, minimum_detectable_difference, newcombe_difference, two_proportion_z
from evalkit.claims.data import ClaimData
from evalkit.claims.params import Params
from evalkit.claims.registry import claim_kind
from evalkit.claims.verdict import NOT_SUPPORTED, SUPPORTED, Verdict, needs
from evalkit.claims.words import Words, p_value


class LadderStep(Params):
    """Two steps of a reported budget-forcing ladder on ``benchmark`` differ by no more than noise."""

    references: ClassVar[dict[str, str]] = {"benchmark": "benchmark", "system": "system"}
    benchmark: str
    from_ignores: int | Literal["auto"]
    to_ignores: int | Literal["auto"]
    system: str | None = None  # the first ladder on the benchmark when not given
    label: str | None = None


def _words(v: Verdict, p: LadderStep) -> Words:
    x, d = v.numbers, v.intervals["difference"]
    n, alpha, m = x["n"], x["alpha"], x["discordant"]
    return Words(
        statistic=(f"change {100 * d.estimate:+.1f} points ({x['from_correct']}/{n} -> {x['to_correct']}/{n}); "
                   f"unpaired z = {x['z']:.2f}, {p_value(x['p'])}; paired exact McNemar "
                   f"{p_value(x['best_paired_p'], relation='>=')} under any pairing"),
        interval=f"difference [{100 * d.low:+.1f}, {100 * d.high:+.1f}] ({100 * (1 - alpha):.0f}% Newcombe)",
        n=f"{n} problems, one run per budget",
        method=("Newcombe hybrid score interval and pooled z test; plus the most favourable paired case: the "
                f"totals differ by {m} problems, so at least {m} problems are discordant, and {m} discordant "
                "problems all in one direction give the smallest possible exact McNemar p-value"),
        power=(f"at n = {n} the minimum detectable unpaired difference (alpha {alpha}, power 0.8) is "
               f"{100 * x['mdd']:.1f} points; a paired test needs per-problem outcomes, and seeds to separate "
               "the forcing effect from sampling noise"),
        k="1 run per budget", source=f"reported ladder ({x['citation']})",
    )


@claim_kind("ladder_step", LadderStep, words=_words)
def ladder_step(data: ClaimData, p: LadderStep) -> Verdict:
    """Supported when Newcombe's interval of the change holds 0 and no pairing makes McNemar significant."""
    if (miss := data.missing_benchmark(p.benchmark)) is not None:
        return needs(miss)
    rep = data.reported
    assert rep is not None  # missing_benchmark said so
    ladder = next((x for x in rep.forcing_ladder
                   if x.benchmark == p.benchmark and p.system in (None, x.system)), None)
    acc = {s.ignores: s.accuracy / 100 for s in ladder.steps} if ladder is not None else {}
    if ladder is None or p.from_ignores not in acc or p.to_ignores not in acc:
        return needs(f"a forcing_ladder on {p.benchmark} with steps {p.from_ignores} and {p.to_ignores} "
                     "in the reported file")
    alpha, n, conf = data.alpha, rep.benchmarks[p.benchmark].n, 1 - data.alpha
    p0, p1 = acc[p.from_ignores], acc[p.to_ignores]
    d = newcombe_difference(p1, n, p0, n, conf)
    z, pv = two_proportion_z(p1, n, p0, n)
    k0, k1 = round(p0 * n), round(p1 * n)
    m, p_best = best_paired_p(k0, k1)  # the fewest discordant problems consistent with the two totals
    within = d.low < 0 < d.high and p_best > alpha
    return Verdict(
        SUPPORTED if within else NOT_SUPPORTED, intervals={"difference": d},
        numbers={"n": n, "alpha": alpha, "from_correct": k0, "to_correct": k1, "z": z, "p": pv, "discordant": m,
                 "best_paired_p": p_best, "mdd": minimum_detectable_difference(p0, n, 1, alpha=alpha).mdd,
                 "citation": rep.cite(ladder.source)},
    )
