"""``two_systems``: one system beats another on a benchmark, from reported single runs (unpaired), and
optionally a published multi-seed mean against the other for both estimands."""

from __future__ import annotations

from typing import Any, ClassVar

from evalkit.analyze import (
    Interval,
    fixed_set_difference,
    minimum_detectable_difference,
    mover_difference,
    n_for_difference,
    newcombe_difference,
    population_interval,
    seed_spread,
    two_proportion_z,
    wilson_rate,
)
from evalkit.claims.data import ClaimData
from evalkit.claims.params import Params
from evalkit.claims.registry import claim_kind
from evalkit.claims.reported import Reported, Result
from evalkit.claims.verdict import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Verdict, needs
from evalkit.claims.words import Words, p_value, pct


class TwoSystems(Params):
    """``a`` is more accurate than ``b`` on ``benchmark`` (reported single runs, unpaired); with
    ``seeds_system``, also that system's published multi-seed mean against ``b``."""

    references: ClassVar[dict[str, str]] = {"benchmark": "benchmark", "a": "system", "b": "system",
                                            "seeds_system": "system"}
    benchmark: str
    a: str
    b: str
    seeds_system: str | None = None
    seeds_note: str = ""  # printed after seeds_system, e.g. "a later model than the claim's s1-32B"
    population: str = "the population of problems"  # what the benchmark stands for, in words
    label: str | None = None


def _with_seeds(rep: Reported, p: TwoSystems, other: Result, alpha: float) -> tuple[dict[str, Any],
                                                                                   dict[str, Interval]]:
    """A published multi-seed mean against ``b``, for both estimands (nothing without one)."""
    ms = rep.find(p.benchmark, p.seeds_system or "", multi_seed=True)
    if ms is None or ms.seed_sd is None:
        return {}, {}
    conf = 1 - alpha
    n, k, m, sd, q = rep.benchmarks[p.benchmark].n, ms.k, ms.center, ms.seed_sd, other.center
    sp = seed_spread(m, sd, n, k)
    lo_f, hi_f = fixed_set_difference(m, sd, n, k, q, conf)
    l1, u1 = population_interval(m, sd, n, k, conf)
    o = wilson_rate(q, n, conf)  # its samples' own spread is unpublished: the one-sample-per-problem bound
    lo_p, hi_p = mover_difference(m, (l1, u1), q, (o.low, o.high))
    numbers = {"system": ms.system, "citation": rep.cite(ms.source), "mean": m, "sd": sd, "k": k,
               "decoding": ms.sampling.decoding, "se_fixed": sp.se_fixed, "problem_sd": sp.problem_sd,
               "b_is_an_average": bool(other.samples)}
    intervals = {
        "seeds_difference_these_problems": Interval(m - q, lo_f, hi_f, conf, "t on k - 1 df, SE = SD / sqrt(k)", k),
        "seeds_population": Interval(m, l1, u1, conf, "Wilson on the effective n (SD at its lower bound)", n),
        "b_population": o,
        "seeds_difference_population": Interval(m - q, lo_p, hi_p, conf, "MOVER (unpaired)", n),
    }
    return numbers, intervals


def _seeds_lines(v: Verdict, p: TwoSystems) -> list[str]:
    s, iv = v.numbers["seeds"], v.intervals
    n, q = v.numbers["n"], v.numbers["b_accuracy"]
    m, sd, k = s["mean"], s["sd"], s["k"]
    fixed, pop, o, diff = (iv["seeds_difference_these_problems"], iv["seeds_population"], iv["b_population"],
                           iv["seeds_difference_population"])
    who = s["system"] + (f" ({p.seeds_note})" if p.seeds_note else "")
    return [
        f"With published seeds ({s['citation']}): {who} "
        f"{pct(m)} +- {100 * sd:.1f} (mean +- SD over {k} seeds, {s['decoding']} decoding) against "
        f"{p.b}'s {pct(q)}: difference {100 * fixed.estimate:+.1f} points.",
        f"For these {n} problems (seed noise only: SE = SD / sqrt(k) = {100 * s['se_fixed']:.1f}, t on {k - 1} df, "
        f"{p.b}'s {'average' if s['b_is_an_average'] else 'accuracy'} taken as fixed): "
        f"[{100 * fixed.low:+.1f}, {100 * fixed.high:+.1f}] -> "
        + (f"{s['system']} is ahead on this problem set." if fixed.low > 0
           else "not separated even on this problem set."),
        f"For the population of problems {p.name} stands for (problem sampling does not shrink with seeds): "
        f"{s['system']} [{pct(pop.low)}, {pct(pop.high)}] (Wilson on the effective n from the problems' spread "
        f"SD(p_i) = "
        f"{s['problem_sd']:.2f} that the seed SD implies, taken at the SD's lower bound: conservative, coverage "
        f"0.98-0.99 in benchmarks/claims_calibration.py), {p.b} [{pct(o.low)}, {pct(o.high)}] (Wilson on "
        f"{n}); difference [{100 * diff.low:+.1f}, {100 * diff.high:+.1f}] (MOVER, unpaired: per-problem results are "
        "unpublished) -> "
        + ("supported." if diff.low > 0 else f"inconclusive: {n} problems cannot separate them as evidence about "
                                             f"{p.population}."),
    ]


def _words(v: Verdict, p: TwoSystems) -> Words:
    x, iv = v.numbers, v.intervals
    n, alpha, p1, p2 = x["n"], x["alpha"], x["a_accuracy"], x["b_accuracy"]
    w1, w2, d = iv["a"], iv["b"], iv["difference"]
    notes = [f"{r['system']}'s {pct(r['accuracy'])} is {'an' if r['samples'][:1] in 'aeiou' else 'a'} {r['samples']}"
             for r in x["reported_as"]]
    return Words(
        statistic=f"difference {100 * d.estimate:+.1f} points; z = {x['z']:.2f}, {p_value(x['p'])}",
        interval=(f"{p.a} {pct(p1)} Wilson {100 * (1 - alpha):.0f}% [{pct(w1.low)}, {pct(w1.high)}]; {p.b} "
                  f"{pct(p2)} [{pct(w2.low)}, {pct(w2.high)}]; difference [{100 * d.low:+.1f}, {100 * d.high:+.1f}]"),
        n=f"{n} problems per system, 1 run each" + (f" ({'; '.join(notes)})" if notes else ""),
        method="Wilson score intervals; Newcombe hybrid score interval and pooled two-proportion z test "
               "(independent samples: per-problem outcomes are not published, so no paired test)",
        power=(f"at n = {n} the minimum detectable difference (alpha {alpha}, power 0.8) is "
               f"{100 * x['mdd']:.0f} points; detecting {100 * (p1 - p2):.1f} points unpaired needs "
               f"~{x['problems_needed']} problems per system. A paired test on the same problems with per-problem "
               f"results over >= 10 seeds (paired t over problems) is the data that would settle it."),
        k="1 run each", source=f"reported single runs ({x['citation']})",
        details=tuple(_seeds_lines(v, p)) if "seeds" in x else (),
    )


@claim_kind("two_systems", TwoSystems, words=_words)
def two_systems(data: ClaimData, p: TwoSystems) -> Verdict:
    """Newcombe's interval of the difference of the two single runs (and a z test): supported when above 0."""
    if (miss := data.missing_benchmark(p.benchmark)) is not None:
        return needs(miss)
    rep = data.reported
    assert rep is not None  # missing_benchmark said so
    ra, rb = rep.find(p.benchmark, p.a), rep.find(p.benchmark, p.b)
    if ra is None or rb is None:
        return needs(f"single-run results of {p.a} and {p.b} on {p.benchmark} in the reported file")
    alpha, n, conf = data.alpha, rep.benchmarks[p.benchmark].n, 1 - data.alpha
    p1, p2 = ra.center, rb.center
    d = newcombe_difference(p1, n, p2, n, conf)
    z, pv = two_proportion_z(p1, n, p2, n)
    numbers: dict[str, Any] = {
        "n": n, "alpha": alpha, "a_accuracy": p1, "b_accuracy": p2, "z": z, "p": pv,
        "problems_needed": n_for_difference(p1, p2, alpha),
        "mdd": minimum_detectable_difference((p1 + p2) / 2, n, 1, alpha=alpha).mdd,
        "reported_as": [{"system": r.system, "accuracy": r.center, "samples": r.samples}
                        for r in (ra, rb) if r.samples],
        "citation": rep.cite(ra.source),
    }
    intervals = {"a": wilson_rate(p1, n, conf), "b": wilson_rate(p2, n, conf), "difference": d}
    if p.seeds_system:
        seeds, seed_intervals = _with_seeds(rep, p, rb, alpha)
        if seeds:
            numbers["seeds"] = seeds
            intervals |= seed_intervals
    verdict = SUPPORTED if d.low > 0 else (NOT_SUPPORTED if d.high < 0 else INCONCLUSIVE)
    return Verdict(verdict, intervals=intervals, numbers=numbers)
