"""Verdicts on the team's claims C1-C9 about s1, from reported numbers (single runs, published
multi-seed results, budget-forcing ladders) and/or sweep results.

Each verdict states the statistic, its interval, n, k (runs or seeds), the method, its data source,
and a power analysis that says what data would settle an inconclusive claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.analyze import (
    accuracy_interval,
    fixed_set_interval,
    holm,
    minimum_detectable_difference,
    newcombe_difference,
    paired_t_test,
    resample,
    seed_sd_interval,
    two_proportion_z,
    wilson_rate,
)
from evalkit.report.reported import Reported

CLAIMS = {
    "C1": "s1-32B (56.7%) beats o1-preview (44.6%) on AIME24 (n = 30)",
    "C2": "seed variance of AIME24 accuracy over >= 10 seeds, with its CI",
    "C3": "budget forcing beats self-consistency (majority vote) at matched inference FLOPs",
    "C4": "accuracy is sensitive to the control token (Wait / Hmm / Alternatively ...)",
    "C5": "MATH500 93.0% -> 92.2% at 4x 'Wait' (n = 500) is within noise",
    "C6": "budget forcing extrapolates beyond the training trace lengths",
    "C7": "Conjecture 1: sequential revision without a verifier is dominated by the pass@k oracle at the base budget",
    "C8": "trace-length confound: accuracy against realised thinking length",
    "C9": "the AIME24 budget-forcing ladder (accuracy by number of 'Wait's) is within noise (n = 30)",
}


@dataclass
class Verdict:
    claim: str
    text: str
    verdict: str  # supported | not supported | inconclusive | needs generations
    statistic: str = ""
    interval: str = ""
    n: str = ""
    method: str = ""
    power: str = ""
    k: str = ""  # runs or seeds behind each number
    source: str = ""  # reported | published multi-seed | sweep, with the citation
    details: list[str] = field(default_factory=list)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _n_for_difference(p1: float, p2: float, alpha: float, power: float = 0.8) -> int:
    """Problems per arm for an unpaired two-proportion test to detect p1 - p2."""
    z = stats.norm.isf(alpha / 2) + stats.norm.ppf(power)
    pbar = (p1 + p2) / 2
    return math.ceil(z * z * 2 * pbar * (1 - pbar) / (p1 - p2) ** 2)


def _acc(rep: Reported, bench: str, system: str) -> float:
    return rep.result(bench, system).center


def c1(rep: Reported, alpha: float) -> Verdict:
    n = rep.benchmarks["aime24"].n
    p1, p2 = _acc(rep, "aime24", "s1-32B"), _acc(rep, "aime24", "o1-preview")
    conf = 1 - alpha
    w1, w2 = wilson_rate(p1, n, conf), wilson_rate(p2, n, conf)
    d = newcombe_difference(p1, n, p2, n, conf)
    z, p = two_proportion_z(p1, n, p2, n)
    verdict = "supported" if d.low > 0 else ("not supported" if d.high < 0 else "inconclusive")
    need = _n_for_difference(p1, p2, alpha)
    mdd = minimum_detectable_difference((p1 + p2) / 2, n, 1, alpha=alpha)
    return Verdict(
        "C1", CLAIMS["C1"], verdict,
        statistic=f"difference {100 * d.estimate:+.1f} points; z = {z:.2f}, p = {p:.3f}",
        interval=(f"s1-32B {_pct(p1)} Wilson {100 * conf:.0f}% [{_pct(w1.low)}, {_pct(w1.high)}]; o1-preview "
                  f"{_pct(p2)} [{_pct(w2.low)}, {_pct(w2.high)}]; difference [{100 * d.low:+.1f}, {100 * d.high:+.1f}]"),
        n=f"{n} problems per system, 1 run each (o1-preview's 44.6% is an average over samples)",
        method="Wilson score intervals; Newcombe hybrid score interval and pooled two-proportion z test "
               "(independent samples: per-problem outcomes are not published, so no paired test)",
        power=(f"at n = {n} the minimum detectable difference (alpha {alpha}, power 0.8) is "
               f"{100 * mdd.mdd:.0f} points; detecting {100 * (p1 - p2):.1f} points unpaired needs ~{need} problems "
               f"per system. A paired test on the same problems with per-problem results over >= 10 seeds "
               f"(paired t over problems) is the data that would settle it."),
        k="1 run each", source=f"reported single runs ({rep.cite(rep.result('aime24', 's1-32B').source)})",
        details=c1_seeds(rep, alpha),
    )


def c1_seeds(rep: Reported, alpha: float) -> list[str]:
    """C1 with published seeds: s1.1-32B's multi-seed mean against o1-preview, for both estimands."""
    from evalkit.report.published import population_interval, seed_spread

    ms = rep.find("aime24", "s1.1-32B", multi_seed=True)
    o1 = rep.find("aime24", "o1-preview")
    if ms is None or o1 is None or ms.seed_sd is None:
        return []
    n, k, m, sd, q = rep.benchmarks["aime24"].n, ms.k, ms.center, ms.seed_sd, o1.center
    sp = seed_spread(m, sd, n, k)
    t = float(stats.t.isf(alpha / 2, k - 1))
    lo_f, hi_f = m - q - t * sp.se_fixed, m - q + t * sp.se_fixed
    l1, u1 = population_interval(m, sd, n, k, 1 - alpha)
    o = wilson_rate(q, n, 1 - alpha)  # its samples' own spread is unpublished: the one-sample-per-problem bound
    d = m - q
    lo_p, hi_p = d - math.hypot(m - l1, o.high - q), d + math.hypot(u1 - m, q - o.low)
    return [
        f"With published seeds ({rep.cite(ms.source)}): s1.1-32B (a later model than the claim's s1-32B) "
        f"{_pct(m)} +- {100 * sd:.1f} (mean +- SD over {k} seeds, {ms.sampling.decoding} decoding) against "
        f"o1-preview's {_pct(q)}: difference {100 * (m - q):+.1f} points.",
        f"For these {n} problems (seed noise only: SE = SD / sqrt(k) = {100 * sp.se_fixed:.1f}, t on {k - 1} df, "
        f"o1-preview's average taken as fixed): [{100 * lo_f:+.1f}, {100 * hi_f:+.1f}] -> "
        + ("s1.1-32B is ahead on this problem set." if lo_f > 0 else "not separated even on this problem set."),
        f"For the population of problems AIME24 stands for (problem sampling does not shrink with seeds): "
        f"s1.1-32B [{_pct(l1)}, {_pct(u1)}] (Wilson on the effective n from the problems' spread SD(p_i) = "
        f"{sp.problem_sd:.2f} that the seed SD implies, taken at the SD's lower bound: conservative, coverage "
        f"0.98-0.99 in benchmarks/claims_calibration.py), o1-preview [{_pct(o.low)}, {_pct(o.high)}] (Wilson on "
        f"{n}); difference [{100 * lo_p:+.1f}, {100 * hi_p:+.1f}] (MOVER, unpaired: per-problem results are "
        "unpublished) -> "
        + ("supported." if lo_p > 0 else "inconclusive: 30 problems cannot separate them as evidence about "
                                         "competition mathematics in general."),
    ]


def c5(rep: Reported, alpha: float) -> Verdict:
    n = rep.benchmarks["math500"].n
    ladder = next(x for x in rep.forcing_ladder if x.benchmark == "math500")
    acc = {s.ignores: s.accuracy / 100 for s in ladder.steps}
    p_hi, p_lo = acc[2], acc[4]
    conf = 1 - alpha
    d = newcombe_difference(p_lo, n, p_hi, n, conf)
    z, p = two_proportion_z(p_lo, n, p_hi, n)
    k_hi, k_lo = round(p_hi * n), round(p_lo * n)
    # paired (McNemar) best case: the fewest discordant problems consistent with the two totals
    m = abs(k_hi - k_lo)
    p_best = float(stats.binomtest(m, m, 0.5).pvalue) if m else 1.0
    within = d.low < 0 < d.high and p_best > alpha
    mdd = minimum_detectable_difference(p_hi, n, 1, alpha=alpha)
    return Verdict(
        "C5", CLAIMS["C5"], "supported" if within else "not supported",
        statistic=(f"change {100 * d.estimate:+.1f} points ({k_hi}/{n} -> {k_lo}/{n}); unpaired z = {z:.2f}, "
                   f"p = {p:.3f}; paired exact McNemar p >= {p_best:.3f} under any pairing"),
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


def _rows(results: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(results, ignore_index=True) if results else pd.DataFrame()


def c2(df: pd.DataFrame, alpha: float, rep: Reported | None = None) -> Verdict:
    seq = df[(df["task"] == "aime24") & (df["method"] == "sequential")] if not df.empty else df
    best = None
    for cid, g in (seq.groupby("cell_id") if not seq.empty else []):
        if g["seed"].nunique() >= 10 and (best is None or g["seed"].nunique() > best[1]["seed"].nunique()):
            best = (cid, g)
    if best is None:
        if rep is not None:
            v = c2_published(rep, alpha)
            if v is not None:
                return v
        return Verdict("C2", CLAIMS["C2"], "needs generations",
                       power="run sweeps/aime_budget.yaml (AIME24, 10 seeds) and pass its results directory, or "
                             "give published multi-seed results (seeds, mean, sd) in the reported file")
    _, g = best
    mat = g.pivot_table(index="problem_id", columns="seed", values="correct", aggfunc="mean").to_numpy(float)
    seed_acc = np.nanmean(mat, axis=0)
    sd = seed_sd_interval(seed_acc, 1 - alpha, correct=mat)
    ci = accuracy_interval(mat, 1 - alpha)
    fixed = fixed_set_interval(mat, 1 - alpha)
    return Verdict("C2", CLAIMS["C2"], "supported",
                   statistic=f"across-seed SD of accuracy {100 * sd.estimate:.1f} points "
                             f"(seed accuracies {', '.join(_pct(x) for x in seed_acc)})",
                   interval=(f"SD [{100 * sd.low:.1f}, {100 * sd.high:.1f}] points (chi-square, {sd.details['df']:.1f} df; these "
                             f"problems); mean {_pct(ci.estimate)} [{_pct(ci.low)}, {_pct(ci.high)}] for the population "
                             f"of problems, [{_pct(fixed.low)}, {_pct(fixed.high)}] for these problems (seed noise only)"),
                   n=f"{mat.shape[0]} problems x {mat.shape[1]} seeds", k=f"{mat.shape[1]} seeds",
                   method="chi-square interval for an SD; problem-clustered score interval; pooled within-problem variance",
                   source="sweep results")


def c2_published(rep: Reported, alpha: float) -> Verdict | None:
    """C2 from a published multi-seed result on AIME24 (the one with the most seeds)."""
    from evalkit.report.published import max_seed_sd, sd_interval, seed_spread, single_run_range

    cands = [r for r in rep.results if r.benchmark == "aime24" and r.multi_seed and r.seed_sd is not None]
    if not cands:
        return None
    r = max(cands, key=lambda x: x.k)
    n, k, m, sd = rep.benchmarks["aime24"].n, r.k, r.center, r.seed_sd
    lo, hi = sd_interval(sd, k, 1 - alpha)
    cap, cap_m = max_seed_sd(n), max_seed_sd(n, m)
    sp, sp_lo, sp_hi = seed_spread(m, sd, n, k), seed_spread(m, hi, n, k), seed_spread(m, lo, n, k)
    lines = [f"The largest seed SD {n} problems allow is {100 * cap:.1f} points (every problem a fair coin), "
             f"{100 * cap_m:.1f} at a mean of {_pct(m)}; {100 * sd:.1f} is {sd / cap_m:.0%} of it, so the problems' "
             f"accuracies spread with SD(p_i) = {sp.problem_sd:.2f} (between-problem share of the variance "
             f"{sp.share_between:.2f}, [{sp_lo.share_between:.2f}, {sp_hi.share_between:.2f}] from the SD's interval)."]
    for y in (y for y in rep.seed_sd_yardstick if y.benchmark == "aime24"):
        sds = np.asarray(y.sds, dtype=float)
        rank = float(np.mean(sds <= 100 * sd + 1e-9))
        lines.append(f"Yardstick ({rep.cite(y.source)}): {len(sds)} systems' {y.seeds}-seed SDs on AIME24 have median "
                     f"{np.median(sds):.1f} and maximum {sds.max():.1f} points; {100 * sd:.1f} is at the "
                     f"{100 * rank:.0f}th percentile.")
    single = rep.find("aime24", r.system)
    if single is not None:
        a, b = single_run_range(m, sd, k, 1 - alpha)
        lines.append(
            f"The single reported run of {r.system} ({_pct(single.center)}, {single.sampling.decoding} decoding; "
            f"{rep.cite(single.source)}) sits {(single.center - m) / sd:+.2f} seed SDs from the {k}-seed mean; one run "
            f"at this SD falls in [{_pct(a)}, {_pct(b)}] ({100 * (1 - alpha):.0f}% prediction interval). The two "
            f"differ in decoding ({single.sampling.decoding} vs {r.sampling.decoding}"
            + (f" at temperature {r.sampling.temperature}" if r.sampling.temperature is not None else "")
            + "), so this bounds how much seed luck a single run can carry; it does not measure it.")
    return Verdict(
        "C2", CLAIMS["C2"], "supported" if k >= 10 else "inconclusive",
        statistic=f"{r.system}: seed SD of AIME24 accuracy {100 * sd:.1f} points (mean {_pct(m)})",
        interval=f"SD [{100 * lo:.1f}, {100 * hi:.1f}] points ({100 * (1 - alpha):.0f}% chi-square on {k - 1} df; "
                 "these problems, seed noise)",
        n=f"{n} problems", k=f"{k} seeds", method="chi-square interval for the SD of k per-seed accuracies (exact "
        "for normal per-seed accuracies); maximum SD sqrt(p(1 - p)/n); t prediction interval for one more run",
        source=f"published multi-seed ({rep.cite(r.source)})", details=lines,
        power=f"an SD from k seeds has relative half-width about 1/sqrt(2(k - 1)): {1 / math.sqrt(2 * (k - 1)):.0%} "
              f"at k = {k}, 16% at k = 20")


def c3(results: list[pd.DataFrame], alpha: float) -> Verdict:
    from evalkit.report import matched as mt

    for df in results:
        if {"sequential", "parallel"} <= set(df["method"]):
            x = "flops_prefix_cached" if df["flops_prefix_cached"].notna().all() else "tokens"
            try:
                m, _ = mt.compare(df, x)
            except ValueError:
                continue
            md = m.mean_difference
            verdict = "supported" if md.low > 0 else ("not supported" if md.high < 0 else "inconclusive")
            return Verdict("C3", CLAIMS["C3"], verdict,
                           statistic=f"mean difference (sequential - parallel) over the matched {x} range "
                                     f"{100 * md.estimate:+.1f} points",
                           interval=f"[{100 * md.low:+.1f}, {100 * md.high:+.1f}]",
                           n=f"{m.n_problems} problems x {m.n_seeds} seeds", method=md.method,
                           power="more problems narrow the interval fastest; seeds help less when seeds correlate")
    return Verdict("C3", CLAIMS["C3"], "needs generations",
                   power="run sweeps/flops_parity.yaml (GPU) or sweeps/flops_parity_cpu.yaml and pass the results")


def c4(df: pd.DataFrame, alpha: float) -> Verdict:
    seq = df[(df.get("method") == "sequential") & (df.get("n_ignore", 0) > 0)] if not df.empty else df
    if seq.empty or seq["control"].nunique() < 2:
        return Verdict("C4", CLAIMS["C4"], "needs generations",
                       power="a sweep with several `controls` at the same caps and ignores")
    lines, pvals = [], []
    for (task, cap, k), g in seq.groupby(["task", "cap", "n_ignore"]):
        ctrls = sorted(g["control"].unique())
        if len(ctrls) < 2:
            continue
        mats = {c: g[g.control == c].pivot_table(index="problem_id", columns="seed", values="correct",
                                                 aggfunc="mean") for c in ctrls}
        accs = {c: float(np.nanmean(np.nanmean(m.to_numpy(float), axis=1))) for c, m in mats.items()}
        lines.append(f"{task} cap {cap} ignores {k}: " + ", ".join(f"{c} {_pct(a)}" for c, a in accs.items())
                     + f" (mean {_pct(np.mean(list(accs.values())))} +- {100 * np.std(list(accs.values()), ddof=1):.1f})")
        for i in range(len(ctrls)):
            for j in range(i + 1, len(ctrls)):
                a, b = mats[ctrls[i]], mats[ctrls[j]]
                common = a.index.intersection(b.index)
                pvals.append(paired_t_test(a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)).pvalue)
    if not pvals:
        return Verdict("C4", CLAIMS["C4"], "needs generations")
    adj = holm(np.array(pvals))
    verdict = "supported" if (adj < alpha).any() else "inconclusive"
    return Verdict("C4", CLAIMS["C4"], verdict, statistic="; ".join(lines),
                   interval=f"smallest Holm-adjusted p = {adj.min():.3f} over {len(pvals)} paired comparisons",
                   n=f"{seq['problem_id'].nunique()} problems x {seq['seed'].nunique()} seeds",
                   method="paired t tests over problems (population of problems; level shown by simulation, README "
                          "statistics), Holm correction", details=lines)


def c8(df: pd.DataFrame, alpha: float) -> Verdict:
    if df.empty:
        return Verdict("C8", CLAIMS["C8"], "needs generations")
    seq = df[df["method"] == "sequential"]
    if seq.empty:
        return Verdict("C8", CLAIMS["C8"], "needs generations")
    seq = seq[seq["thinking_tokens"].notna()]  # imported samples may not know their token counts
    if seq.empty:
        return Verdict("C8", CLAIMS["C8"], "needs generations",
                       power="thinking token counts are unknown (import lm-eval samples with --tokenizer)")
    # within-problem association: does a longer realised trace go with correctness, problem by problem?
    d = seq.assign(t=seq["thinking_tokens"].astype(float), c=seq["correct"].astype(float))
    d["t_c"] = d["t"] - d.groupby("problem_id")["t"].transform("mean")
    d["c_c"] = d["c"] - d.groupby("problem_id")["c"].transform("mean")
    per = d.groupby("problem_id").apply(lambda g: float((g["t_c"] * g["c_c"]).sum()), include_groups=False)
    var = float((d["t_c"] ** 2).sum())
    slope = per.sum() / var if var else float("nan")
    keys = per.index.to_numpy()
    vt = d.groupby("problem_id").apply(lambda g: float((g["t_c"] ** 2).sum()), include_groups=False).loc[keys].to_numpy()
    pv = per.loc[keys].to_numpy()
    r = resample(np.c_[pv, vt], lambda m: m[:, 0] / m[:, 1], n_resamples=4000, rng=0,
                 confidence=1 - alpha, method="t")
    lo, hi = float(r.low[0]), float(r.high[0])
    return Verdict("C8", CLAIMS["C8"], "supported" if (lo > 0 or hi < 0) else "inconclusive",
                   statistic=f"within-problem slope of correctness on realised thinking length: "
                             f"{1e5 * slope:+.1f} points of accuracy per 1,000 thinking tokens",
                   interval=f"[{1e5 * lo:+.1f}, {1e5 * hi:+.1f}] (problem bootstrap, t; population of problems)",
                   n=f"{d['problem_id'].nunique()} problems, {len(d)} samples",
                   method="pooled within-problem least-squares slope; problems resampled as clusters",
                   power="'supported' means realised length predicts correctness within problems (a confound "
                         "for budget-forcing curves); a controlled answer-at-fixed-length design isolates it")


def c9(rep: Reported, alpha: float) -> Verdict:
    """Every AIME24 budget-forcing ladder: a trend test, the most favourable paired case, and the
    power to detect the slope the newsletter's ladder reports."""
    from evalkit.report.published import ladder_trend, slope_power

    ladders = [x for x in rep.forcing_ladder if x.benchmark == "aime24"]
    if not ladders:
        return Verdict("C9", CLAIMS["C9"], "needs generations", power="give an AIME24 forcing_ladder in the reported file")
    n = rep.benchmarks["aime24"].n
    z80 = float(stats.norm.isf(alpha / 2) + stats.norm.ppf(0.8))
    lines, within, trends = [], True, []
    for lad in ladders:
        xs = [0 if st.ignores == "auto" else st.ignores for st in lad.steps]
        tr = ladder_trend(xs, [st.accuracy / 100 for st in lad.steps], n)
        trends.append((lad, tr))
        within &= tr.p > alpha and tr.best_paired_p > alpha
        steps = ", ".join(f"{st.ignores}: {k}/{n}" for st, k in zip(lad.steps, tr.counts, strict=True))
        lines.append(f"{lad.system} ({rep.cite(lad.source)}; {lad.sampling.decoding} decoding): {steps}; slope "
                     f"{100 * tr.slope:+.2f} points per '{lad.control}' (SE {100 * tr.se:.2f}), Cochran-Armitage "
                     f"z = {tr.z:.2f}, p = {tr.p:.3f}; lowest vs highest step differ by {tr.discordant} problems, "
                     f"so the most favourable pairing gives exact McNemar p = {tr.best_paired_p:.3f}")
    lad, tr = max(trends, key=lambda lt: abs(lt[1].slope))  # the steepest reported slope
    mdd = z80 * tr.se
    need = math.ceil(n * (mdd / tr.slope) ** 2) if tr.slope else 0
    pw = {rho: slope_power(tr.slope, tr.se * math.sqrt(1 - rho), alpha) for rho in (0.0, 0.5, 0.9)}
    return Verdict(
        "C9", CLAIMS["C9"], "supported" if within else "not supported",
        statistic="; ".join(lines[:1]) if len(lines) == 1 else f"{len(ladders)} ladders, steepest slope "
                  f"{100 * tr.slope:+.2f} points per '{lad.control}' ({lad.system}, {rep.cite(lad.source)})",
        interval=f"slope [{100 * (tr.slope - stats.norm.isf(alpha / 2) * tr.se):+.2f}, "
                 f"{100 * (tr.slope + stats.norm.isf(alpha / 2) * tr.se):+.2f}] points per ignore "
                 f"({100 * (1 - alpha):.0f}%, steps as independent samples of {n})",
        n=f"{n} problems per step", k="1 run per step",
        method="Cochran-Armitage trend test over the steps (each step n problems; the steps share problems, so "
               "per-problem outcomes would make a paired test sharper), and the most favourable paired case: "
               "the fewest problems that must differ between the lowest and highest step, all in one direction, "
               "give the smallest exact McNemar p-value any pairing allows",
        power=(f"to detect a slope of {100 * tr.slope:+.2f} points per ignore at n = {n}: power {pw[0.0]:.2f} "
               f"unpaired, {pw[0.5]:.2f} / {pw[0.9]:.2f} paired if the steps' outcomes correlate 0.5 / 0.9; the "
               f"minimum detectable slope (power 0.8) is {100 * mdd:.1f} points per ignore; ~{need:,} problems "
               "would be needed unpaired"),
        source="reported ladders (" + "; ".join(dict.fromkeys(rep.cite(x.source) for x in ladders)) + ")",
        details=lines)


def decide(reported: Reported | None, results: list[pd.DataFrame], alpha: float = 0.05) -> list[Verdict]:
    out: list[Verdict] = []
    df = _rows(results)
    out.append(c1(reported, alpha) if reported else Verdict("C1", CLAIMS["C1"], "needs generations",
                                                            power="pass --reported paper_figs/s1_reported.yaml"))
    out.append(c2(df, alpha, reported))
    out.append(c3(results, alpha))
    out.append(c4(df, alpha))
    out.append(c5(reported, alpha) if reported else Verdict("C5", CLAIMS["C5"], "needs generations",
                                                            power="pass --reported paper_figs/s1_reported.yaml"))
    out.append(Verdict("C6", CLAIMS["C6"], "needs generations",
                       power="a sweep of s1.1-32B with caps beyond its training trace lengths (e.g. 16k-32k) and "
                             "the s1K trace-length distribution"))
    out.append(Verdict("C7", CLAIMS["C7"], "needs generations",
                       power="a sweep with a sequential family and a parallel family at the base budget: compare "
                             "the best forced cell with pass@k of the parallel samples (report: pass@k column)"))
    out.append(c8(df, alpha))
    out.append(c9(reported, alpha) if reported else Verdict("C9", CLAIMS["C9"], "needs generations",
                                                            power="pass --reported paper_figs/s1_reported.yaml"))
    for v in out:  # what the sweep-based claims were decided from
        if not v.source and v.verdict != "needs generations":
            v.source = "sweep results"
    return out


def render_markdown(verdicts: list[Verdict], alpha: float, sources: list[str],
                    citations: dict[str, str] | None = None) -> str:
    lines = ["# Claims about s1: verdicts", "",
             f"alpha = {alpha}; sources: {', '.join(sources) if sources else 'none'}", ""]
    for v in verdicts:
        lines += [f"## {v.claim}: {v.text}", "", f"**Verdict: {v.verdict}**", ""]
        for label, val in (("Statistic", v.statistic), ("Interval", v.interval), ("n", v.n), ("k", v.k),
                           ("Method", v.method), ("Source", v.source), ("What would settle it / power", v.power)):
            if val:
                lines.append(f"- {label}: {val}")
        lines += [f"  - {d}" for d in v.details] if v.details else []
        lines.append("")
    if citations:
        lines += ["## Sources", ""] + [f"- {k}: {t}" for k, t in citations.items()] + [""]
    return "\n".join(lines)
