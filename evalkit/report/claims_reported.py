"""Claim kinds decided from reported numbers alone (:mod:`evalkit.report.reported`): two systems on one
benchmark, a published seed SD, two steps of a budget-forcing ladder, and a ladder's trend. Every
statistic is computed by :mod:`evalkit.analyze`; here the numbers are picked out and the verdict worded."""

from __future__ import annotations

import numpy as np

from evalkit.analyze import (
    best_paired_p,
    fixed_set_difference,
    ladder_trend,
    max_seed_sd,
    minimum_detectable_difference,
    mover_difference,
    n_for_difference,
    newcombe_difference,
    population_interval,
    sd_interval,
    sd_relative_half_width,
    seed_spread,
    single_run_range,
    trend_power,
    two_proportion_z,
    wilson_rate,
    yardstick_position,
)
from evalkit.report.claim_data import ClaimData, Verdict, needs, p_value, pct
from evalkit.report.reported import Reported, Result
from evalkit.spec.claims import LadderStep, LadderTrend, SeedVariance, TwoSystems


def _missing_benchmark(rep: Reported | None, bench: str) -> Verdict | None:
    if rep is None:
        return needs()
    if bench not in rep.benchmarks:
        return needs(f"the reported file has no benchmark {bench}")
    return None


def _as_reported(r: Result) -> str:
    """``o1-preview's 44.6% is an average over samples`` for a result that says how it was obtained."""
    return f"{r.system}'s {pct(r.center)} is {'an' if r.samples[:1] in 'aeiou' else 'a'} {r.samples}"


def two_systems(data: ClaimData, p: TwoSystems) -> Verdict:
    rep = data.reported
    if (miss := _missing_benchmark(rep, p.benchmark)) is not None:
        return miss
    ra, rb = rep.find(p.benchmark, p.a), rep.find(p.benchmark, p.b)
    if ra is None or rb is None:
        return needs(f"single-run results of {p.a} and {p.b} on {p.benchmark} in the reported file")
    alpha, n, conf = data.alpha, rep.benchmarks[p.benchmark].n, 1 - data.alpha
    p1, p2 = ra.center, rb.center
    w1, w2 = wilson_rate(p1, n, conf), wilson_rate(p2, n, conf)
    d = newcombe_difference(p1, n, p2, n, conf)
    z, pv = two_proportion_z(p1, n, p2, n)
    verdict = "supported" if d.low > 0 else ("not supported" if d.high < 0 else "inconclusive")
    need = n_for_difference(p1, p2, alpha)
    mdd = minimum_detectable_difference((p1 + p2) / 2, n, 1, alpha=alpha)
    notes = [_as_reported(r) for r in (ra, rb) if r.samples]
    return Verdict(
        verdict,
        statistic=f"difference {100 * d.estimate:+.1f} points; z = {z:.2f}, {p_value(pv)}",
        interval=(f"{p.a} {pct(p1)} Wilson {100 * conf:.0f}% [{pct(w1.low)}, {pct(w1.high)}]; {p.b} "
                  f"{pct(p2)} [{pct(w2.low)}, {pct(w2.high)}]; difference [{100 * d.low:+.1f}, {100 * d.high:+.1f}]"),
        n=f"{n} problems per system, 1 run each" + (f" ({'; '.join(notes)})" if notes else ""),
        method="Wilson score intervals; Newcombe hybrid score interval and pooled two-proportion z test "
               "(independent samples: per-problem outcomes are not published, so no paired test)",
        power=(f"at n = {n} the minimum detectable difference (alpha {alpha}, power 0.8) is "
               f"{100 * mdd.mdd:.0f} points; detecting {100 * (p1 - p2):.1f} points unpaired needs ~{need} problems "
               f"per system. A paired test on the same problems with per-problem results over >= 10 seeds "
               f"(paired t over problems) is the data that would settle it."),
        k="1 run each", source=f"reported single runs ({rep.cite(ra.source)})",
        details=_with_seeds(rep, p, rb, alpha) if p.seeds_system else [],
    )


def _with_seeds(rep: Reported, p: TwoSystems, o1: Result, alpha: float) -> list[str]:
    """A published multi-seed mean against ``b``, for both estimands."""
    ms = rep.find(p.benchmark, p.seeds_system, multi_seed=True)
    if ms is None or ms.seed_sd is None:
        return []
    n, k, m, sd, q = rep.benchmarks[p.benchmark].n, ms.k, ms.center, ms.seed_sd, o1.center
    sp = seed_spread(m, sd, n, k)
    lo_f, hi_f = fixed_set_difference(m, sd, n, k, q, 1 - alpha)
    l1, u1 = population_interval(m, sd, n, k, 1 - alpha)
    o = wilson_rate(q, n, 1 - alpha)  # its samples' own spread is unpublished: the one-sample-per-problem bound
    lo_p, hi_p = mover_difference(m, (l1, u1), q, (o.low, o.high))
    who = ms.system + (f" ({p.seeds_note})" if p.seeds_note else "")
    return [
        f"With published seeds ({rep.cite(ms.source)}): {who} "
        f"{pct(m)} +- {100 * sd:.1f} (mean +- SD over {k} seeds, {ms.sampling.decoding} decoding) against "
        f"{p.b}'s {pct(q)}: difference {100 * (m - q):+.1f} points.",
        f"For these {n} problems (seed noise only: SE = SD / sqrt(k) = {100 * sp.se_fixed:.1f}, t on {k - 1} df, "
        f"{p.b}'s {'average' if o1.samples else 'accuracy'} taken as fixed): [{100 * lo_f:+.1f}, {100 * hi_f:+.1f}] -> "
        + (f"{ms.system} is ahead on this problem set." if lo_f > 0 else "not separated even on this problem set."),
        f"For the population of problems {p.name} stands for (problem sampling does not shrink with seeds): "
        f"{ms.system} [{pct(l1)}, {pct(u1)}] (Wilson on the effective n from the problems' spread SD(p_i) = "
        f"{sp.problem_sd:.2f} that the seed SD implies, taken at the SD's lower bound: conservative, coverage "
        f"0.98-0.99 in benchmarks/claims_calibration.py), {p.b} [{pct(o.low)}, {pct(o.high)}] (Wilson on "
        f"{n}); difference [{100 * lo_p:+.1f}, {100 * hi_p:+.1f}] (MOVER, unpaired: per-problem results are "
        "unpublished) -> "
        + ("supported." if lo_p > 0 else f"inconclusive: {n} problems cannot separate them as evidence about "
                                         f"{p.population}."),
    ]


def _spread_lines(rep: Reported, p: SeedVariance, r: Result, alpha: float) -> list[str]:
    n, k, m, sd = rep.benchmarks[p.benchmark].n, r.k, r.center, r.seed_sd
    lo, hi = sd_interval(sd, k, 1 - alpha)
    cap, cap_m = max_seed_sd(n), max_seed_sd(n, m)
    sp, sp_lo, sp_hi = seed_spread(m, sd, n, k), seed_spread(m, hi, n, k), seed_spread(m, lo, n, k)
    lines = [f"The largest seed SD {n} problems allow is {100 * cap:.1f} points (every problem a fair coin), "
             f"{100 * cap_m:.1f} at a mean of {pct(m)}; {100 * sd:.1f} is {sd / cap_m:.0%} of it, so the problems' "
             f"accuracies spread with SD(p_i) = {sp.problem_sd:.2f} (between-problem share of the variance "
             f"{sp.share_between:.2f}, [{sp_lo.share_between:.2f}, {sp_hi.share_between:.2f}] from the SD's interval)."]
    for y in (y for y in rep.seed_sd_yardstick if y.benchmark == p.benchmark):
        pos = yardstick_position(np.asarray(y.sds, dtype=float), 100 * sd)
        lines.append(f"Yardstick ({rep.cite(y.source)}): {len(y.sds)} systems' {y.seeds}-seed SDs on {p.name} have "
                     f"median {pos.median:.1f} and maximum {pos.maximum:.1f} points; {100 * sd:.1f} is at the "
                     f"{100 * pos.percentile:.0f}th percentile.")
    single = rep.find(p.benchmark, r.system)
    if single is not None:
        a, b = single_run_range(m, sd, k, 1 - alpha)
        lines.append(
            f"The single reported run of {r.system} ({pct(single.center)}, {single.sampling.decoding} decoding; "
            f"{rep.cite(single.source)}) sits {(single.center - m) / sd:+.2f} seed SDs from the {k}-seed mean; one run "
            f"at this SD falls in [{pct(a)}, {pct(b)}] ({100 * (1 - alpha):.0f}% prediction interval). The two "
            f"differ in decoding ({single.sampling.decoding} vs {r.sampling.decoding}"
            + (f" at temperature {r.sampling.temperature}" if r.sampling.temperature is not None else "")
            + "), so this bounds how much seed luck a single run can carry; it does not measure it.")
    return lines


def published_seed_variance(rep: Reported, p: SeedVariance, alpha: float) -> Verdict | None:
    """The seed SD from the published multi-seed result on the benchmark with the most seeds (None without one)."""
    cands = [r for r in rep.results if r.benchmark == p.benchmark and r.multi_seed and r.seed_sd is not None]
    if not cands or p.benchmark not in rep.benchmarks:
        return None
    r = max(cands, key=lambda x: x.k)
    n, k, m, sd = rep.benchmarks[p.benchmark].n, r.k, r.center, r.seed_sd
    lo, hi = sd_interval(sd, k, 1 - alpha)
    return Verdict(
        "supported" if k >= p.min_seeds else "inconclusive",
        statistic=f"{r.system}: seed SD of {p.name} accuracy {100 * sd:.1f} points (mean {pct(m)})",
        interval=f"SD [{100 * lo:.1f}, {100 * hi:.1f}] points ({100 * (1 - alpha):.0f}% chi-square on {k - 1} df; "
                 "these problems, seed noise)",
        n=f"{n} problems", k=f"{k} seeds", method="chi-square interval for the SD of k per-seed accuracies (exact "
        "for normal per-seed accuracies); maximum SD sqrt(p(1 - p)/n); t prediction interval for one more run",
        source=f"published multi-seed ({rep.cite(r.source)})", details=_spread_lines(rep, p, r, alpha),
        power=f"an SD from k seeds has relative half-width about 1/sqrt(2(k - 1)): {sd_relative_half_width(k):.0%} "
              f"at k = {k}, {sd_relative_half_width(20):.0%} at k = 20")


def ladder_step(data: ClaimData, p: LadderStep) -> Verdict:
    rep = data.reported
    if (miss := _missing_benchmark(rep, p.benchmark)) is not None:
        return miss
    ladder = next((x for x in rep.forcing_ladder
                   if x.benchmark == p.benchmark and p.system in (None, x.system)), None)
    acc = {s.ignores: s.accuracy / 100 for s in ladder.steps} if ladder is not None else {}
    if p.from_ignores not in acc or p.to_ignores not in acc:
        return needs(f"a forcing_ladder on {p.benchmark} with steps {p.from_ignores} and {p.to_ignores} "
                     "in the reported file")
    alpha, n, conf = data.alpha, rep.benchmarks[p.benchmark].n, 1 - data.alpha
    p0, p1 = acc[p.from_ignores], acc[p.to_ignores]
    d = newcombe_difference(p1, n, p0, n, conf)
    z, pv = two_proportion_z(p1, n, p0, n)
    k0, k1 = round(p0 * n), round(p1 * n)
    m, p_best = best_paired_p(k0, k1)  # the fewest discordant problems consistent with the two totals
    within = d.low < 0 < d.high and p_best > alpha
    mdd = minimum_detectable_difference(p0, n, 1, alpha=alpha)
    return Verdict(
        "supported" if within else "not supported",
        statistic=(f"change {100 * d.estimate:+.1f} points ({k0}/{n} -> {k1}/{n}); unpaired z = {z:.2f}, "
                   f"{p_value(pv)}; paired exact McNemar {p_value(p_best, relation='>=')} under any pairing"),
        interval=f"difference [{100 * d.low:+.1f}, {100 * d.high:+.1f}] ({100 * conf:.0f}% Newcombe)",
        n=f"{n} problems, one run per budget",
        method=("Newcombe hybrid score interval and pooled z test; plus the most favourable paired case: the "
                f"totals differ by {m} problems, so at least {m} problems are discordant, and {m} discordant "
                "problems all in one direction give the smallest possible exact McNemar p-value"),
        power=(f"at n = {n} the minimum detectable unpaired difference (alpha {alpha}, power 0.8) is "
               f"{100 * mdd.mdd:.1f} points; a paired test needs per-problem outcomes, and seeds to separate "
               "the forcing effect from sampling noise"),
        k="1 run per budget", source=f"reported ladder ({rep.cite(ladder.source)})",
    )


def ladder_trend_kind(data: ClaimData, p: LadderTrend) -> Verdict:
    """Every ladder on the benchmark: a trend test, the most favourable paired case, and the power to
    detect the steepest reported slope."""
    rep, alpha = data.reported, data.alpha
    if (miss := _missing_benchmark(rep, p.benchmark)) is not None:
        return miss
    ladders = [x for x in rep.forcing_ladder if x.benchmark == p.benchmark]
    if not ladders:
        return needs(f"give an {p.name} forcing_ladder in the reported file")
    n = rep.benchmarks[p.benchmark].n
    lines, within, trends = [], True, []
    for lad in ladders:
        xs = [0 if st.ignores == "auto" else st.ignores for st in lad.steps]
        tr = ladder_trend(xs, [st.accuracy / 100 for st in lad.steps], n)
        trends.append((lad, tr))
        within &= tr.p > alpha and tr.best_paired_p > alpha
        steps = ", ".join(f"{st.ignores}: {k}/{n}" for st, k in zip(lad.steps, tr.counts, strict=True))
        lines.append(f"{lad.system} ({rep.cite(lad.source)}; {lad.sampling.decoding} decoding): {steps}; slope "
                     f"{100 * tr.slope:+.2f} points per '{lad.control}' (SE {100 * tr.se:.2f}), Cochran-Armitage "
                     f"z = {tr.z:.2f}, {p_value(tr.p)}; lowest vs highest step differ by {tr.discordant} problems, "
                     f"so the most favourable pairing gives exact McNemar {p_value(tr.best_paired_p)}")
    lad, tr = max(trends, key=lambda lt: abs(lt[1].slope))  # the steepest reported slope
    tp = trend_power(tr, n, alpha)
    return Verdict(
        "supported" if within else "not supported",
        statistic="; ".join(lines[:1]) if len(lines) == 1 else f"{len(ladders)} ladders, steepest slope "
                  f"{100 * tr.slope:+.2f} points per '{lad.control}' ({lad.system}, {rep.cite(lad.source)})",
        interval=f"slope [{100 * tp.low:+.2f}, {100 * tp.high:+.2f}] points per ignore "
                 f"({100 * (1 - alpha):.0f}%, steps as independent samples of {n})",
        n=f"{n} problems per step", k="1 run per step",
        method="Cochran-Armitage trend test over the steps (each step n problems; the steps share problems, so "
               "per-problem outcomes would make a paired test sharper), and the most favourable paired case: "
               "the fewest problems that must differ between the lowest and highest step, all in one direction, "
               "give the smallest exact McNemar p-value any pairing allows",
        power=(f"to detect a slope of {100 * tr.slope:+.2f} points per ignore at n = {n}: power {tp.power[0.0]:.2f} "
               f"unpaired, {tp.power[0.5]:.2f} / {tp.power[0.9]:.2f} paired if the steps' outcomes correlate 0.5 / "
               f"0.9; the minimum detectable slope (power 0.8) is {100 * tp.mdd:.1f} points per ignore; "
               f"~{tp.problems_needed:,} problems would be needed unpaired"),
        source="reported ladders (" + "; ".join(dict.fromkeys(rep.cite(x.source) for x in ladders)) + ")",
        details=lines)
