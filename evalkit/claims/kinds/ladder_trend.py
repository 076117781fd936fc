"""``ladder_trend``: every reported budget-forcing ladder on a benchmark is flat within noise."""

from __future__ import annotations

from typing import Any, ClassVar

from evalkit.analyze import Interval, ladder_trend, trend_power
from evalkit.claims.data import ClaimData
from evalkit.claims.params import Params
from evalkit.claims.registry import claim_kind
from evalkit.claims.verdict import NOT_SUPPORTED, SUPPORTED, Verdict, needs
from evalkit.claims.words import Words, p_value


class LadderTrend(Params):
    """Every reported budget-forcing ladder on ``benchmark`` is flat within noise (trend test, power)."""

    references: ClassVar[dict[str, str]] = {"benchmark": "benchmark"}
    benchmark: str
    label: str | None = None


def _line(lad: dict[str, Any], n: int) -> str:
    steps = ", ".join(f"{ignores}: {k}/{n}" for ignores, k in lad["steps"])
    return (f"{lad['system']} ({lad['citation']}; {lad['decoding']} decoding): {steps}; slope "
            f"{100 * lad['slope']:+.2f} points per '{lad['control']}' (SE {100 * lad['se']:.2f}), Cochran-Armitage "
            f"z = {lad['z']:.2f}, {p_value(lad['p'])}; lowest vs highest step differ by {lad['discordant']} problems, "
            f"so the most favourable pairing gives exact McNemar {p_value(lad['best_paired_p'])}")


def _words(v: Verdict, p: LadderTrend) -> Words:
    x, slope = v.numbers, v.intervals["steepest_slope"]
    n, alpha, ladders = x["n"], x["alpha"], x["ladders"]
    lines = tuple(_line(lad, n) for lad in ladders)
    lad, power = ladders[x["steepest"]], x["power"]
    return Words(
        statistic="; ".join(lines[:1]) if len(lines) == 1 else f"{len(ladders)} ladders, steepest slope "
                  f"{100 * slope.estimate:+.2f} points per '{lad['control']}' ({lad['system']}, {lad['citation']})",
        interval=f"slope [{100 * slope.low:+.2f}, {100 * slope.high:+.2f}] points per ignore "
                 f"({100 * (1 - alpha):.0f}%, steps as independent samples of {n})",
        n=f"{n} problems per step", k="1 run per step",
        method="Cochran-Armitage trend test over the steps (each step n problems; the steps share problems, so "
               "per-problem outcomes would make a paired test sharper), and the most favourable paired case: "
               "the fewest problems that must differ between the lowest and highest step, all in one direction, "
               "give the smallest exact McNemar p-value any pairing allows",
        power=(f"to detect a slope of {100 * slope.estimate:+.2f} points per ignore at n = {n}: power "
               f"{power['unpaired']:.2f} unpaired, {power['paired_0.5']:.2f} / {power['paired_0.9']:.2f} paired if "
               f"the steps' outcomes correlate 0.5 / 0.9; the minimum detectable slope (power 0.8) is "
               f"{100 * x['mdd']:.1f} points per ignore; ~{x['problems_needed']:,} problems would be needed unpaired"),
        source="reported ladders (" + "; ".join(dict.fromkeys(lad["citation"] for lad in ladders)) + ")",
        details=lines)


@claim_kind("ladder_trend", LadderTrend, words=_words)
def ladder_trend_kind(data: ClaimData, p: LadderTrend) -> Verdict:
    """Every ladder on the benchmark: a trend test, the most favourable paired case, and the power to
    detect the steepest reported slope."""
    if (miss := data.missing_benchmark(p.benchmark)) is not None:
        return needs(miss)
    rep, alpha = data.reported, data.alpha
    assert rep is not None  # missing_benchmark said so
    ladders = [x for x in rep.forcing_ladder if x.benchmark == p.benchmark]
    if not ladders:
        return needs(f"give an {p.name} forcing_ladder in the reported file")
    n = rep.benchmarks[p.benchmark].n
    within, trends, out = True, [], []
    for lad in ladders:
        xs = [0 if st.ignores == "auto" else st.ignores for st in lad.steps]
        tr = ladder_trend(xs, [st.accuracy / 100 for st in lad.steps], n)
        trends.append(tr)
        within &= tr.p > alpha and tr.best_paired_p > alpha
        steps = [[st.ignores, k] for st, k in zip(lad.steps, tr.counts, strict=True)]
        out.append({"system": lad.system, "citation": rep.cite(lad.source), "decoding": lad.sampling.decoding,
                    "control": lad.control, "steps": steps,
                    "slope": tr.slope, "se": tr.se, "z": tr.z, "p": tr.p, "discordant": tr.discordant,
                    "best_paired_p": tr.best_paired_p})
    steepest = max(range(len(trends)), key=lambda i: abs(trends[i].slope))  # the steepest reported slope
    tr = trends[steepest]
    tp = trend_power(tr, n, alpha)
    return Verdict(
        SUPPORTED if within else NOT_SUPPORTED,
        intervals={"steepest_slope": Interval(tr.slope, tp.low, tp.high, 1 - alpha, "normal, steps as independent "
                                              "samples", n, {"se": tr.se})},
        numbers={"n": n, "alpha": alpha, "ladders": out, "steepest": steepest, "mdd": tp.mdd,
                 "problems_needed": tp.problems_needed,
                 "power": {"unpaired": tp.power[0.0], "paired_0.5": tp.power[0.5], "paired_0.9": tp.power[0.9]}},
    )
