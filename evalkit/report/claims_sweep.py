"""Claim kinds decided from sweep results (falling back on reported numbers where a kind allows): seed
variance, matched compute, control-token sensitivity and the trace-length confound. Every statistic is
computed by :mod:`evalkit.analyze`; here the results are shaped into its arrays and the verdict worded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.analyze import (
    accuracy_interval,
    fixed_set_interval,
    holm,
    paired_t_test,
    seed_sd_interval,
    within_cluster_slope,
)
from evalkit.report import matched as mt
from evalkit.report.claim_data import ClaimData, Verdict, needs, p_value, pct
from evalkit.report.claims_reported import published_seed_variance
from evalkit.spec.claims import ControlToken, LengthConfound, MatchedCompute, SeedVariance
from evalkit.store import Col, Samples


def seed_variance(data: ClaimData, p: SeedVariance) -> Verdict:
    """From the sweep cell on the benchmark with the most seeds (at least ``min_seeds``), else published seeds."""
    rows, alpha = Samples.of(data.rows), data.alpha
    seq = rows.where((rows.task == p.benchmark) & (rows.method == "sequential")) if not rows.empty else rows
    best = None
    for cid, g in (seq.by(Col.CELL_ID) if not seq.empty else []):
        if g.n_seeds >= p.min_seeds and (best is None or g.n_seeds > best[1].n_seeds):
            best = (cid, g)
    if best is None:
        v = published_seed_variance(data.reported, p, alpha) if data.reported is not None else None
        return v if v is not None else needs()
    _, g = best
    mat = g.accuracy_matrix().to_numpy(float)
    seed_acc = np.nanmean(mat, axis=0)
    sd = seed_sd_interval(seed_acc, 1 - alpha, correct=mat)
    ci = accuracy_interval(mat, 1 - alpha)
    fixed = fixed_set_interval(mat, 1 - alpha)
    return Verdict(
        "supported",
        statistic=f"across-seed SD of accuracy {100 * sd.estimate:.1f} points "
        f"(seed accuracies {', '.join(pct(x) for x in seed_acc)})",
        interval=(
            f"SD [{100 * sd.low:.1f}, {100 * sd.high:.1f}] points (chi-square, {sd.details['df']:.1f} df; these "
            f"problems); mean {pct(ci.estimate)} [{pct(ci.low)}, {pct(ci.high)}] for the population "
            f"of problems, [{pct(fixed.low)}, {pct(fixed.high)}] for these problems (seed noise only)"
        ),
        n=f"{mat.shape[0]} problems x {mat.shape[1]} seeds",
        k=f"{mat.shape[1]} seeds",
        method="chi-square interval for an SD; problem-clustered score interval; pooled within-problem variance",
        source="sweep results",
        used=g.frame,
    )


def matched_compute(data: ClaimData, p: MatchedCompute) -> Verdict:
    """Sequential minus parallel over the matched compute range of the first sweep that has both."""
    for df in data.results:
        if Samples.of(df).has_method("sequential") and Samples.of(df).has_method("parallel"):
            x = mt.default_x(df)
            try:
                m, _ = mt.compare(df, x)
            except ValueError:
                continue
            md = m.mean_difference
            verdict = "supported" if md.low > 0 else ("not supported" if md.high < 0 else "inconclusive")
            return Verdict(verdict,
                           statistic=f"mean difference (sequential - parallel) over the matched {x} range "
                                     f"{100 * md.estimate:+.1f} points",
                           interval=f"[{100 * md.low:+.1f}, {100 * md.high:+.1f}]",
                           n=f"{m.n_problems} problems x {m.n_seeds} seeds", method=md.method,
                           power="more problems narrow the interval fastest; seeds help less when seeds correlate",
                           used=df)
    return needs()


def _control_mats(g: Samples, ctrls: list[str]) -> dict[str, pd.DataFrame]:
    return {c: g.where(g.control == c).accuracy_matrix() for c in ctrls}


def control_token(data: ClaimData, p: ControlToken) -> Verdict:
    """Paired t tests between every two controls at the same task, cap and ignores; Holm over all of them."""
    rows, alpha = Samples.of(data.rows), data.alpha
    seq = rows.where((rows.method == "sequential") & (rows.n_ignore > 0)) if not rows.empty else rows
    if seq.empty or seq.control.nunique() < 2:
        return needs()
    lines, pvals = [], []
    for (task, cap, k), g in seq.by(Col.TASK, Col.CAP, Col.N_IGNORE):
        ctrls = sorted(g.control.unique())
        if len(ctrls) < 2:
            continue
        mats = _control_mats(g, ctrls)
        accs = {c: float(np.nanmean(np.nanmean(m.to_numpy(float), axis=1))) for c, m in mats.items()}
        lines.append(
            f"{task} cap {cap} ignores {k}: "
            + ", ".join(f"{c} {pct(a)}" for c, a in accs.items())
            + f" (mean {pct(np.mean(list(accs.values())))} +- {100 * np.std(list(accs.values()), ddof=1):.1f})"
        )
        for i in range(len(ctrls)):
            for j in range(i + 1, len(ctrls)):
                a, b = mats[ctrls[i]], mats[ctrls[j]]
                common = a.index.intersection(b.index)
                pvals.append(paired_t_test(a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)).pvalue)
    if not pvals:
        return needs()
    adj = holm(np.array(pvals))
    verdict = "supported" if (adj < alpha).any() else "inconclusive"
    return Verdict(verdict, statistic="; ".join(lines),
                   interval=f"smallest Holm-adjusted {p_value(adj.min())} over {len(pvals)} paired comparisons",
                   n=f"{seq.n_problems} problems x {seq.n_seeds} seeds",
                   method="paired t tests over problems (population of problems; level shown by simulation, README "
                          "statistics), Holm correction", details=lines, used=seq.frame)


def length_confound(data: ClaimData, p: LengthConfound) -> Verdict:
    """Within-problem association of correctness with realised thinking length (sequential samples)."""
    rows = Samples.of(data.rows)
    if rows.empty:
        return needs()
    seq = rows.of_method("sequential")
    if seq.empty:
        return needs()
    seq = seq.where(seq.thinking_tokens.notna())  # imported samples may not know their token counts
    if seq.empty:
        return needs("thinking token counts are unknown (import lm-eval samples with --tokenizer)")
    s = within_cluster_slope(seq.thinking_tokens.astype(float).to_numpy(), seq.correct.astype(float).to_numpy(),
                             seq.problem_id.to_numpy(), 1 - data.alpha)
    return Verdict("supported" if (s.low > 0 or s.high < 0) else "inconclusive",
                   statistic=f"within-problem slope of correctness on realised thinking length: "
                             f"{1e5 * s.estimate:+.1f} points of accuracy per 1,000 thinking tokens",
                   interval=f"[{1e5 * s.low:+.1f}, {1e5 * s.high:+.1f}] (problem bootstrap, t; population of problems)",
                   n=f"{s.n} problems, {s.details['samples']} samples",
                   method="pooled within-problem least-squares slope; problems resampled as clusters",
                   power="'supported' means realised length predicts correctness within problems (a confound "
                         "for budget-forcing curves); a controlled answer-at-fixed-length design isolates it",
                   used=seq.frame)
