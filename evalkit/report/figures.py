"""Paper figures from a results frame (PDF + PNG each). Every figure states the number of problems,
seeds and the interval method."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.analyze import accuracy_interval, mean_accuracy, paired_difference, per_seed_accuracy
from evalkit.records import cap_label
from evalkit.report import matched as mt
from evalkit.report.plotting import clipped, figure, legend_below, save
from evalkit.store import Col, Samples

_cap_label = cap_label
# What the figures of the sequential family read: a filtered copy of every column of 10^6 rows would hold
# another 0.4 GB beside the frame (of_method / where copy each column they keep).
SEQ_COLUMNS = (Col.CELL_ID, Col.TASK, Col.MODEL, Col.METHOD, Col.N_SAMPLES, Col.CAP, Col.N_IGNORE, Col.CONTROL,
               Col.MIN_TOKENS, Col.PROBLEM_ID, Col.SEED, Col.SAMPLE, Col.CORRECT, Col.THINKING_TOKENS)


def _sequential(df: pd.DataFrame | Samples) -> Samples:
    """The sequential rows, with the columns these figures read only."""
    f = Samples.of(df).frame
    return Samples(f.loc[f[Col.METHOD] == "sequential", [c for c in SEQ_COLUMNS if c in f]])


def scaling_curve(df: pd.DataFrame | Samples, out: Path, title: str) -> list[Path]:
    """Accuracy vs mean thinking tokens per sequential cell (grouped by ignores and control), with a
    problem-clustered 95% band (population of problems) and faint per-seed lines."""
    seq = _sequential(df)
    fig, ax = figure(6.4, 4.2)
    n_p, n_s = seq.n_problems, seq.n_seeds
    for i, ((k, ctl), fam) in enumerate(seq.by(Col.N_IGNORE, Col.CONTROL)):
        pts = []
        for _cid, g in fam.by(Col.CELL_ID):
            mat = g.accuracy_matrix().to_numpy(float)
            ci = accuracy_interval(mat) if mat.shape[0] > 1 else None
            pts.append((g.thinking_tokens.mean(), 100 * mean_accuracy(mat), ci, g))
        pts.sort(key=lambda t: t[0])
        xs = [p[0] for p in pts]
        color = f"C{i % 10}"
        label = f"ignore {k}" + (f" ({ctl})" if ctl else "")
        ax.plot(xs, [p[1] for p in pts], marker="o", color=color, label=label)
        if all(p[2] for p in pts):
            ax.fill_between(xs, 100 * clipped([p[2].low for p in pts]), 100 * clipped([p[2].high for p in pts]),
                            color=color, alpha=0.15)
        seeds = sorted(seq.seed.unique())
        per = [(p[3].thinking_tokens.groupby(p[3].seed).mean().reindex(seeds).to_numpy(float),
                100 * per_seed_accuracy(p[3].accuracy_matrix().reindex(columns=seeds).to_numpy(float))) for p in pts]
        for j in range(len(seeds)):
            ax.plot([a[j] for a, _ in per], [b[j] for _, b in per], color=color, alpha=0.2, linewidth=0.7)
    ax.set_xlabel("mean thinking tokens")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{title}: sequential scaling\n{n_p} problems x {n_s} seeds; band: 95% problem-clustered CI; "
                 "faint: single seeds", fontsize=8)
    legend_below(fig, ax)
    return save(fig, out / "scaling_curve")


def control_tokens(df: pd.DataFrame | Samples, out: Path, title: str) -> list[Path] | None:
    """Accuracy per control string at each (cap, ignores) with paired t CIs (over problems) against the first."""
    seq = _sequential(df)
    seq = seq.where(seq.n_ignore > 0)
    groups = [(key, g) for key, g in seq.by(Col.CAP, Col.N_IGNORE) if g.control.nunique() > 1]
    if not groups:
        return None
    labels, est, lo, hi = [], [], [], []
    for (cap, k), g in groups:
        ctrls = sorted(g.control.unique())
        base = g.where(g.control == ctrls[0]).accuracy_matrix()
        for c in ctrls[1:]:
            m = g.where(g.control == c).accuracy_matrix().reindex(index=base.index, columns=base.columns)
            d = paired_difference(m.to_numpy(float), base.to_numpy(float))
            labels.append(f"cap {_cap_label(cap)}, {k}x: {c} - {ctrls[0]}")
            est.append(100 * d.estimate)
            lo.append(100 * float(clipped(d.low, -1, 1)))
            hi.append(100 * float(clipped(d.high, -1, 1)))
    fig, ax = figure(6.4, max(4.2, 2.2 + 0.2 * len(labels)))
    y = np.arange(len(labels))
    ax.errorbar(est, y, xerr=[np.array(est) - lo, np.array(hi) - est], fmt="o", capsize=3)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("accuracy difference (points)")
    ax.set_title(f"{title}: control tokens\n{seq.n_problems} problems x {seq.n_seeds} seeds; "
                 "95% paired t over problems", fontsize=8)
    return save(fig, out / "control_tokens")


def seed_strip(df: pd.DataFrame | Samples, out: Path, title: str) -> list[Path]:
    """Per-seed accuracy of every cell (strip plot): the seed-to-seed spread at a glance."""
    samples = Samples.of(df)
    cells = list(samples.by_cell())
    fig, ax = figure(max(6.4, 1.2 + 0.22 * len(cells)), 4.2)
    names = []
    for i, (_cid, g) in enumerate(cells):
        accs = 100 * per_seed_accuracy(g.accuracy_matrix().to_numpy(float))
        first = g.cell
        names.append((f"par n={first.n_samples} " if first.method == "parallel" else "")
                     + f"cap {_cap_label(first.cap)} ig {first.n_ignore}")
        jitter = np.linspace(-0.15, 0.15, len(accs)) if len(accs) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), accs, s=14, alpha=0.8)
        ax.hlines(accs.mean(), i - 0.3, i + 0.3, color="black", linewidth=1)
    many = len(names) > 12  # upright labels need less room apart than slanted ones
    ax.set_xticks(range(len(names)), names, rotation=90 if many else 45, ha="center" if many else "right", fontsize=7)
    ax.set_ylabel("accuracy of one seed (%)")
    ax.set_title(f"{title}: seed variance\n{samples.n_problems} problems x {samples.n_seeds} seeds; "
                 "dots: seeds, bar: mean", fontsize=8)
    return save(fig, out / "seed_variance")


def heatmap(df: pd.DataFrame | Samples, out: Path, title: str) -> list[Path]:
    """Problems x budgets: per-problem accuracy (over seeds) of the unforced-ignore sequential cells."""
    seq = _sequential(df)
    seq = seq.where(seq.n_ignore == seq.n_ignore.min())
    mat = seq.accuracy_matrix(columns=Col.CAP)
    mat = mat.loc[mat.mean(axis=1).sort_values(ascending=False).index]
    fig, ax = figure(4.8, float(np.clip(2.0 + 0.06 * len(mat), 3.6, 8.0)))  # rows thin out, the figure stops at 8 in
    im = ax.imshow(100 * mat.to_numpy(float), aspect="auto", cmap="viridis", vmin=0, vmax=100, interpolation="nearest")
    ax.set_xticks(range(mat.shape[1]), [_cap_label(c) for c in mat.columns], fontsize=7)
    ax.set_yticks([])
    ax.set_xlabel("thinking cap")
    ax.set_ylabel(f"{len(mat)} problems (sorted by accuracy)")
    fig.colorbar(im, ax=ax, label="accuracy over seeds (%)")
    ax.set_title(f"{title}: problems x budgets\n{len(mat)} problems x {seq.n_seeds} seeds; "
                 f"ignores = {int(seq.n_ignore.min())}; no interval (per-problem means)", fontsize=8)
    return save(fig, out / "problem_heatmap")


def all_figures(df: pd.DataFrame | Samples, out: Path, title: str) -> list[Path]:
    paths: list[Path] = []
    samples = Samples.of(df)
    if samples.has_method("sequential"):
        paths += scaling_curve(samples, out, title)
        paths += control_tokens(samples, out, title) or []
        paths += heatmap(samples, out, title)
    paths += seed_strip(samples, out, title)
    if samples.has_method("sequential") and samples.has_method("parallel"):
        x = mt.default_x(samples)
        try:
            m, arrs = mt.compare(samples, x)
            paths += mt.plot(m, arrs, x, out / f"matched_{x}", title=title)
        except ValueError:
            pass
    return paths
