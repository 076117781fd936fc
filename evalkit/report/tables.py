"""Per-cell accuracy tables: accuracy, Wilson 95% CI, across-seed SD, mean thinking tokens, n."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.analyze import seed_summary, wilson

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
    accuracy: float
    ci_low: float
    ci_high: float
    seed_sd: float
    mean_thinking: float
    forced_frac: float
    no_answer_frac: float


def _cap(v: object) -> str:
    return "none" if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v) else str(int(v))


def cell_table(df: pd.DataFrame) -> list[CellRow]:
    """One row per cell of a results frame (as :meth:`ResultStore.read_rows` returns)."""
    out = []
    if df.empty:
        return out
    for cid, g in df.groupby("cell_id", sort=False):
        first = g.iloc[0]
        mat = g.pivot_table(index="problem_id", columns="seed", values="correct", aggfunc="first")
        summary = seed_summary(mat.to_numpy(dtype=float))
        k, n = int(g["correct"].sum()), len(g)
        ci = wilson(k, n, CONF)
        out.append(
            CellRow(
                cell_id=str(cid),
                task=str(first["task"]),
                model=str(first["model"]),
                cap=_cap(first["cap"]),
                n_ignore=int(first["n_ignore"]),
                control=str(first["control"]) or "-",
                min_tokens=int(first["min_tokens"]),
                n_problems=int(g["problem_id"].nunique()),
                n_seeds=int(g["seed"].nunique()),
                n=n,
                correct=k,
                accuracy=ci.estimate,
                ci_low=ci.low,
                ci_high=ci.high,
                seed_sd=summary.seed_sd,
                mean_thinking=float(g["thinking_tokens"].mean()),
                forced_frac=float(g["forced_end"].mean()),
                no_answer_frac=float(g["extracted"].isna().mean()),
            )
        )
    out.sort(key=lambda r: (r.task, r.model, r.cap != "none", int(r.cap) if r.cap != "none" else 0,
                            r.n_ignore, r.control, r.min_tokens))
    return out


HEADERS = ["task", "cap", "ignore", "control", "problems", "seeds", "n", "accuracy", "Wilson 95% CI",
           "seed SD", "mean thinking tok", "forced", "no answer"]


def _cells(r: CellRow) -> list[str]:
    sd = "-" if np.isnan(r.seed_sd) else f"{100 * r.seed_sd:.1f}"
    return [r.task, r.cap, str(r.n_ignore), r.control, str(r.n_problems), str(r.n_seeds), str(r.n),
            f"{100 * r.accuracy:.1f}%", f"[{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]", sd,
            f"{r.mean_thinking:.0f}", f"{100 * r.forced_frac:.0f}%", f"{100 * r.no_answer_frac:.0f}%"]


NOTE = ("Accuracy pools problems x seeds; the Wilson 95% interval treats the n samples as independent, "
        "which understates uncertainty when seeds of one problem are correlated (seed SD is the "
        "sample SD of the per-seed accuracies, in points).")


def render_markdown(rows: list[CellRow], title: str = "") -> str:
    lines = [f"# {title}" if title else "# Results", ""]
    models = sorted({r.model for r in rows})
    for m in models:
        lines += [f"## {m}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows if r.model == m]
        lines.append("")
    lines += [NOTE, ""]
    return "\n".join(lines)


def render_rich(rows: list[CellRow], title: str = ""):  # noqa: ANN201 - rich.table.Table
    from rich.table import Table

    t = Table(title=title or None, caption=NOTE, caption_justify="left")
    for h in HEADERS:
        t.add_column(h, justify="left" if h in ("task", "control") else "right")
    for r in rows:
        t.add_row(*_cells(r))
    return t
