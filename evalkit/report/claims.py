"""Verdicts on the team's claims C1-C8 about s1, from reported numbers and/or sweep results.

Each verdict states the statistic, its interval, n, the method, and a power analysis that says what
data would settle an inconclusive claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
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

CLAIMS = {
    "C1": "s1-32B (56.7%) beats o1-preview (44.6%) on AIME24 (n = 30)",
    "C2": "seed variance of AIME24 accuracy over >= 10 seeds, with its CI",
    "C3": "budget forcing beats self-consistency (majority vote) at matched inference FLOPs",
    "C4": "accuracy is sensitive to the control token (Wait / Hmm / Alternatively ...)",
    "C5": "MATH500 93.0% -> 92.2% at 4x 'Wait' (n = 500) is within noise",
    "C6": "budget forcing extrapolates beyond the training trace lengths",
    "C7": "Conjecture 1: sequential revision without a verifier is dominated by the pass@k oracle at the base budget",
    "C8": "trace-length confound: accuracy against realised thinking length",
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
    details: list[str] = field(default_factory=list)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _n_for_difference(p1: float, p2: float, alpha: float, power: float = 0.8) -> int:
    """Problems per arm for an unpaired two-proportion test to detect p1 - p2."""
    z = stats.norm.isf(alpha / 2) + stats.norm.ppf(power)
    pbar = (p1 + p2) / 2
    return math.ceil(z * z * 2 * pbar * (1 - pbar) / (p1 - p2) ** 2)


def load_reported(path: str | Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or "results" not in data or "benchmarks" not in data:
        raise ValueError(f"{path}: expected keys 'benchmarks' and 'results'")
    return data


def _acc(rep: dict, bench: str, system: str) -> float:
    for r in rep["results"]:
        if r["benchmark"] == bench and r["system"] == system:
            return float(r["accuracy"]) / 100
    raise KeyError(f"no reported accuracy for {system} on {bench}")


def c1(rep: dict, alpha: float) -> Verdict:
    n = int(rep["benchmarks"]["aime24"]["n"])
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
    )


def c5(rep: dict, alpha: float) -> Verdict:
    n = int(rep["benchmarks"]["math500"]["n"])
    ladder = next(x for x in rep["forcing_ladder"] if x["benchmark"] == "math500")
    acc = {s["ignores"]: s["accuracy"] / 100 for s in ladder["steps"]}
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
    )


def _rows(results: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(results, ignore_index=True) if results else pd.DataFrame()


def c2(df: pd.DataFrame, alpha: float) -> Verdict:
    seq = df[(df["task"] == "aime24") & (df["method"] == "sequential")] if not df.empty else df
    best = None
    for cid, g in (seq.groupby("cell_id") if not seq.empty else []):
        if g["seed"].nunique() >= 10 and (best is None or g["seed"].nunique() > best[1]["seed"].nunique()):
            best = (cid, g)
    if best is None:
        return Verdict("C2", CLAIMS["C2"], "needs generations",
                       power="run sweeps/aime_budget.yaml (AIME24, 10 seeds) and pass its results directory")
    _, g = best
    mat = g.pivot_table(index="problem_id", columns="seed", values="correct", aggfunc="mean").to_numpy(float)
    seed_acc = np.nanmean(mat, axis=0)
    sd = seed_sd_interval(seed_acc, 1 - alpha)
    ci = accuracy_interval(mat, 1 - alpha)
    fixed = fixed_set_interval(mat, 1 - alpha)
    return Verdict("C2", CLAIMS["C2"], "supported",
                   statistic=f"across-seed SD of accuracy {100 * sd.estimate:.1f} points "
                             f"(seed accuracies {', '.join(_pct(x) for x in seed_acc)})",
                   interval=(f"SD [{100 * sd.low:.1f}, {100 * sd.high:.1f}] points (chi-square, {sd.n - 1} df; these "
                             f"problems); mean {_pct(ci.estimate)} [{_pct(ci.low)}, {_pct(ci.high)}] for the population "
                             f"of problems, [{_pct(fixed.low)}, {_pct(fixed.high)}] for these problems (seed noise only)"),
                   n=f"{mat.shape[0]} problems x {mat.shape[1]} seeds",
                   method="chi-square interval for an SD; problem-clustered score interval; pooled within-problem variance")


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


def decide(reported: dict | None, results: list[pd.DataFrame], alpha: float = 0.05) -> list[Verdict]:
    out: list[Verdict] = []
    df = _rows(results)
    out.append(c1(reported, alpha) if reported else Verdict("C1", CLAIMS["C1"], "needs generations",
                                                            power="pass --reported paper_figs/s1_reported.yaml"))
    out.append(c2(df, alpha))
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
    return out


def render_markdown(verdicts: list[Verdict], alpha: float, sources: list[str]) -> str:
    lines = ["# Claims about s1: verdicts", "",
             f"alpha = {alpha}; sources: {', '.join(sources) if sources else 'none'}", ""]
    for v in verdicts:
        lines += [f"## {v.claim}: {v.text}", "", f"**Verdict: {v.verdict}**", ""]
        for label, val in (("Statistic", v.statistic), ("Interval", v.interval), ("n", v.n), ("Method", v.method),
                           ("What would settle it / power", v.power)):
            if val:
                lines.append(f"- {label}: {val}")
        lines.append("")
    return "\n".join(lines)
