"""Per-cell accuracy tables: accuracy (problems weighted equally) with its problem-clustered 95% interval,
the fixed-problem-set interval, across-seed SD, mean thinking tokens, n."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.table import Table

from evalkit.analyze import (
    accuracy_interval,
    best_of_k,
    fixed_set_interval,
    maj_at_k,
    pass_at_k,
    seed_summary,
)
from evalkit.records import cap_label
from evalkit.store import Col, Samples

CONF = 0.95


@dataclass
class CellRow:
    cell_id: str
    task: str
    model: str
    cap: str
    n_ignore: int
    control: str
    min_tokens: int
    n_problems: int
    n_seeds: int
    n: int
    correct: int
    accuracy: float  # mean over problems of each problem's accuracy over its seeds
    ci_low: float  # problem-clustered interval (estimand: the population of problems)
    ci_high: float
    fixed_low: float  # this problem set, seed noise only (nan with one seed)
    fixed_high: float
    seed_sd: float
    mean_thinking: float
    forced_frac: float
    no_answer_frac: float


_cap = cap_label


def cell_table(df: pd.DataFrame | Samples) -> list[CellRow]:
    """One row per cell of a results frame (as :meth:`ResultStore.read_rows` returns)."""
    out = []
    samples = Samples.of(df)
    if samples.empty:
        return out
    for cid, g in samples.by_cell():
        first = g.cell
        mat_np = g.accuracy_matrix().to_numpy(dtype=float)
        summary = seed_summary(mat_np)
        k, n = int(g.correct.sum()), len(g)
        ci = accuracy_interval(mat_np, CONF) if mat_np.shape[0] > 1 else None
        # the fixed-set interval needs a problem with two or more seeds (seed noise estimable); the seed SD
        # needs every problem on every seed (per-seed accuracies over different problems are not comparable)
        seeded = mat_np.shape[0] > 1 and bool(np.any(np.sum(~np.isnan(mat_np), axis=1) >= 2))
        fixed = fixed_set_interval(mat_np, CONF) if seeded else None
        seed_sd = summary.seed_sd if not np.isnan(mat_np).any() else float("nan")
        out.append(
            CellRow(
                cell_id=cid,
                task=first.task,
                model=first.model,
                cap=_cap(first.cap),
                n_ignore=first.n_ignore,
                control=(first.control or "-") if first.method != "parallel" else f"parallel n={first.n_samples}",
                min_tokens=first.min_tokens,
                n_problems=g.n_problems,
                n_seeds=g.n_seeds,
                n=n,
                correct=k,
                accuracy=summary.mean,
                ci_low=ci.low if ci else float("nan"),
                ci_high=ci.high if ci else float("nan"),
                fixed_low=fixed.low if fixed else float("nan"),
                fixed_high=fixed.high if fixed else float("nan"),
                seed_sd=seed_sd,
                mean_thinking=float(g.thinking_tokens.mean()),
                forced_frac=float(g.forced_end.mean()),
                no_answer_frac=float(g.extracted.isna().mean()),
            )
        )
    out.sort(key=lambda r: (r.task, r.model, r.cap != "none", int(r.cap) if r.cap != "none" else 0,
                            r.n_ignore, r.control, r.min_tokens))
    return out


HEADERS = ["task", "cap", "ignore", "control", "problems", "seeds", "n", "accuracy", "95% CI (problems)",
           "95% CI (these problems)", "seed SD", "mean thinking tok", "forced", "no answer"]


def _iv(lo: float, hi: float) -> str:
    return "-" if np.isnan(lo) else f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def cell_strings(r: CellRow) -> list[str]:
    """The printed columns of one cell (HEADERS): what the report, the terminal and the viewer show."""
    sd = "-" if np.isnan(r.seed_sd) else f"{100 * r.seed_sd:.1f}"
    return [
        r.task,
        r.cap,
        str(r.n_ignore),
        r.control,
        str(r.n_problems),
        str(r.n_seeds),
        str(r.n),
        f"{100 * r.accuracy:.1f}%",
        _iv(r.ci_low, r.ci_high),
        _iv(r.fixed_low, r.fixed_high),
        sd,
        "-" if np.isnan(r.mean_thinking) else f"{r.mean_thinking:.0f}",
        f"{100 * r.forced_frac:.0f}%",
        f"{100 * r.no_answer_frac:.0f}%",
    ]


NOTE = ("Accuracy: mean over problems of each problem's accuracy over its seeds (in %). 95% CI (problems): "
        "for the population of problems the benchmark stands for (what 'A beats B' is about): Wilson's score "
        "interval on the problem-clustered effective sample size (Korn-Graubard). 95% CI (these problems): "
        "for this fixed problem set, seed noise only (pooled within-problem variance; a problem with one seed "
        "counts with the binomial bound of its group); '-' where no problem has two seeds (seed noise is not "
        "estimable). Coverage of both: README, statistics. Seed SD: sample SD of the per-seed accuracies, in "
        "points; '-' with one seed, or when some problem lacks some seed (per-seed accuracies over different "
        "problems do not measure seed noise).")


def render_markdown(rows: list[CellRow], title: str = "", votes: list[VoteRow] | None = None) -> str:
    lines = [f"# {title}" if title else "# Results", ""]
    models = sorted({r.model for r in rows})
    for m in models:
        lines += [f"## {m}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(cell_strings(r)) + " |" for r in rows if r.model == m]
        lines.append("")
    lines += [NOTE, ""]
    if votes:
        lines += ["## Parallel sampling: majority vote", "", "| " + " | ".join(VOTE_HEADERS) + " |",
                  "|" + "---|" * len(VOTE_HEADERS)]
        lines += ["| " + " | ".join(vote_strings(v)) + " |" for v in votes]
        lines += ["", VOTE_NOTE, ""]
    return "\n".join(lines)


def render_rich(rows: list[CellRow], title: str = "") -> Table:
    t = Table(title=title or None, caption=NOTE, caption_justify="left")
    for h in HEADERS:
        t.add_column(h, justify="left" if h in ("task", "control") else "right")
    for r in rows:
        t.add_row(*cell_strings(r))
    return t


def render_votes_rich(votes: list[VoteRow]) -> Table:
    t = Table(title="parallel sampling: majority vote", caption=VOTE_NOTE, caption_justify="left")
    for h in VOTE_HEADERS:
        t.add_column(h, justify="left" if h == "task" else "right")
    for v in votes:
        t.add_row(*vote_strings(v))
    return t


@dataclass
class VoteRow:
    cell_id: str
    task: str
    model: str
    cap: str
    n_samples: int
    k: int
    n_problems: int
    n_seeds: int
    maj: float
    maj_low: float
    maj_high: float
    pass_k: float
    best_k: float = float("nan")  # best-of-k by the verifier's score (nan without a verifier)


def vote_sizes(n: int) -> list[int]:
    """The k of maj@k reported for n samples: powers of two below n, and n."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n]


def vote_classes(rows: Samples) -> tuple[list[int | None], list[int], int | None]:
    """The vote of one (problem, seed)'s samples: each sample's answer class (None: no answer), the
    classes, and the index among them of the correct answer's class (None if no sample is correct)."""
    labels = [None if pd.isna(x) else int(x) for x in rows.answer_class]
    classes = sorted({x for x in labels if x is not None})
    good = {int(x) for x, ok in zip(rows.answer_class, rows.correct, strict=True) if ok and not pd.isna(x)}
    return labels, classes, classes.index(min(good)) if good else None


def vote_table(df: pd.DataFrame | Samples) -> list[VoteRow]:
    """maj@k (exact expectation over k-subsets, ties split) and unbiased pass@k for parallel cells,
    k = 1, 2, 4, ..., n; maj@k with the problem-clustered interval."""
    out: list[VoteRow] = []
    samples = Samples.of(df)
    if samples.empty or not samples.has_method("parallel"):
        return out
    for cid, g in samples.of_method("parallel").by_cell():
        first = g.cell
        n = first.n_samples
        groups = list(g.by(Col.PROBLEM_ID, Col.SEED))
        problems = sorted({p for (p, _), _ in groups})
        seeds = sorted({s for (_, s), _ in groups})
        for k in vote_sizes(n):
            maj = np.full((len(problems), len(seeds)), np.nan)
            pk = np.full_like(maj, np.nan)
            bk = np.full_like(maj, np.nan)
            for (pid, seed), rows in groups:
                labels, classes, idx = vote_classes(rows)
                counts = [labels.count(c) for c in classes]
                i, j = problems.index(pid), seeds.index(seed)
                if len(labels) >= k:
                    maj[i, j] = maj_at_k(counts, idx, k, labels.count(None))
                    pk[i, j] = pass_at_k(len(labels), int(rows.correct.sum()), k)
                    if rows.has(Col.VERIFIER_SCORE) and rows.verifier_score.notna().all():
                        bk[i, j] = best_of_k(rows.verifier_score.to_numpy(), rows.correct.to_numpy(), k)
            boot = accuracy_interval(maj, CONF) if len(problems) > 1 else None
            out.append(VoteRow(cid, first.task, first.model, _cap(first.cap), n, k,
                               len(problems), len(seeds), float(np.nanmean(maj)),
                               boot.low if boot else float("nan"), boot.high if boot else float("nan"),
                               float(np.nanmean(pk)),
                               float(np.nanmean(bk)) if not np.isnan(bk).all() else float("nan")))
    return out


VOTE_HEADERS = ["task", "cap", "n", "k", "problems", "seeds", "maj@k", "95% CI (problems)", "pass@k",
                "best-of-k"]


def vote_strings(r: VoteRow) -> list[str]:
    return [r.task, r.cap, str(r.n_samples), str(r.k), str(r.n_problems), str(r.n_seeds), f"{100 * r.maj:.1f}%",
            f"[{100 * r.maj_low:.1f}, {100 * r.maj_high:.1f}]", f"{100 * r.pass_k:.1f}%",
            "-" if np.isnan(r.best_k) else f"{100 * r.best_k:.1f}%"]


VOTE_NOTE = ("maj@k: expected accuracy of a majority vote over k of the n samples (all k-subsets, exactly; "
             "answers vote by equivalence class; ties split evenly). pass@k: unbiased estimator of Chen et al. "
             "(2021). best-of-k: expected accuracy of the verifier's top pick among k samples (exact; ties at random). "
             "Interval: problem-clustered score interval of maj@k (population of problems).")
