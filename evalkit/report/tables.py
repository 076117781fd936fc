"""Per-cell accuracy tables: accuracy (problems weighted equally) with its problem-clustered 95% interval,
the fixed-problem-set interval, across-seed SD, mean thinking tokens, n."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.table import Table

from evalkit.analyze import (
    accuracy_interval,
    fixed_set_interval,
    seed_summary,
)
from evalkit.claims.compute import vote_matrices_of, vote_sizes
from evalkit.records import cap_label
from evalkit.store import Samples
from evalkit.store.provenance import SETTING

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
    setting: str = ""  # the settings that tell this cell from others read with it ("" in one experiment)


_cap = cap_label


def setting_of(g: Samples) -> str:
    """The derived setting label of a one-cell group ("" when the frame has none)."""
    return str(g.frame[SETTING].iloc[0]) if SETTING in g.frame else ""


def setting_columns(labels: list[str]) -> tuple[str, list[str]] | None:
    """The header and the per-row values of the setting column (``temperature`` / ``1.0``; several settings
    joined by ``; ``), or None when no row has a setting."""
    if not any(labels):
        return None
    pairs = [[kv.split("=", 1) for kv in lab.split("; ")] if lab else [] for lab in labels]
    names = next(([k for k, _ in p] for p in pairs if p), [])
    return "; ".join(names), ["; ".join(v for _, v in p) if p else "-" for p in pairs]


def _insert_setting(headers: list[str], rows: list[list[str]], labels: list[str]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows with the setting column after the task (unchanged when no row has a setting)."""
    col = setting_columns(labels)
    if col is None:
        return headers, rows
    return [headers[0], col[0], *headers[1:]], [[r[0], v, *r[1:]] for r, v in zip(rows, col[1], strict=True)]


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
                setting=setting_of(g),
            )
        )
    out.sort(key=lambda r: (r.task, r.model, r.setting, r.cap != "none", int(r.cap) if r.cap != "none" else 0,
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


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + ["| " + " | ".join(r) + " |"
                                                                            for r in rows]


def render_markdown(rows: list[CellRow], title: str = "", votes: list[VoteRow] | None = None,
                    headings: dict[str, str] | None = None, banner: str = "") -> str:
    """The report's tables in Markdown; ``headings``: model id -> its heading (default: the id);
    ``banner``: a warning printed above everything (rows of a test double)."""
    lines = [f"# {title}" if title else "# Results", ""] + ([banner, ""] if banner else [])
    models = sorted({r.model for r in rows})
    for m in models:
        mine = [r for r in rows if r.model == m]
        hs, body = _insert_setting(HEADERS, [cell_strings(r) for r in mine], [r.setting for r in mine])
        lines += [f"## {(headings or {}).get(m, m)}", "", *_md_table(hs, body), ""]
    lines += [NOTE, ""]
    if votes:
        hs, body = _insert_setting(VOTE_HEADERS, [vote_strings(v) for v in votes], [v.setting for v in votes])
        lines += ["## Parallel sampling: majority vote", "", *_md_table(hs, body), "", VOTE_NOTE, ""]
    return "\n".join(lines)


def _rich(base: list[str], rows: list[list[str]], settings: list[str], title: str | None, caption: str,
          left: tuple[str, ...]) -> Table:
    t = Table(title=title, caption=caption, caption_justify="left")
    headers, body = _insert_setting(base, rows, settings)
    for i, h in enumerate(headers):
        setting = len(headers) > len(base) and i == 1
        t.add_column(h, justify="left" if h in left or setting else "right")
    for r in body:
        t.add_row(*r)
    return t


def render_rich(rows: list[CellRow], title: str = "") -> Table:
    return _rich(HEADERS, [cell_strings(r) for r in rows], [r.setting for r in rows], title or None, NOTE,
                 ("task", "control"))


def render_votes_rich(votes: list[VoteRow]) -> Table:
    return _rich(VOTE_HEADERS, [vote_strings(v) for v in votes], [v.setting for v in votes],
                 "parallel sampling: majority vote", VOTE_NOTE, ("task",))


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
    setting: str = ""  # as CellRow.setting


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
        v = vote_matrices_of(g, vote_sizes(n))
        for k in vote_sizes(n):
            maj, pk, bk = v.maj[k], v.pass_k[k], v.best[k]
            boot = accuracy_interval(maj, CONF) if len(v.problems) > 1 else None
            out.append(VoteRow(cid, first.task, first.model, _cap(first.cap), n, k,
                               len(v.problems), len(v.seeds), float(np.nanmean(maj)),
                               boot.low if boot else float("nan"), boot.high if boot else float("nan"),
                               float(np.nanmean(pk)),
                               float(np.nanmean(bk)) if not np.isnan(bk).all() else float("nan"), setting_of(g)))
    if any(v.setting for v in out):
        out.sort(key=lambda v: v.setting)  # stable: the cells' order within a setting
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
