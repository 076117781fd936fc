"""Reports on the clean subset: every metric without the problems of an exclude list, plus the paired
difference between clean and full accuracy per cell.

The clean subset is a subset of the same problems x seeds, so full and clean accuracy are not two
independent samples: the difference is (1 - K/P)(kept - excluded), estimated with
:func:`evalkit.analyze.subset_difference` (MOVER on the two groups' problem-clustered intervals),
which gives a much tighter and correct interval than comparing two separate intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.table import Table

from evalkit.analyze import accuracy_interval, subset_difference
from evalkit.records import cap_label
from evalkit.spec.exclude import ExcludeEntry
from evalkit.store import CellColumns, Samples

CONF = 0.95


def exclude_mask(df: pd.DataFrame | Samples, entries: list[ExcludeEntry]) -> pd.Series:
    """True for rows whose (task, problem_id) is listed."""
    keys = {(e.task, e.problem_id) for e in entries}
    s = Samples.of(df)
    if s.empty or not keys:
        return pd.Series(False, index=s.frame.index)
    return pd.Series([(t, p) in keys for t, p in zip(s.task, s.problem_id, strict=True)], index=s.frame.index)


@dataclass
class CleanRow:
    cell_id: str
    label: str
    task: str
    problems: int
    excluded: int
    seeds: int
    full: float
    clean: float
    full_low: float
    full_high: float
    clean_low: float
    clean_high: float
    diff: float  # clean - full
    diff_low: float
    diff_high: float


def _label(first: CellColumns) -> str:
    cap = cap_label(first.cap)
    if first.method == "parallel":
        return f"parallel n={first.n_samples} cap={cap}"
    if first.method == "rejection":
        return f"rejection cap={cap}"
    ctl = first.control if first.n_ignore else "-"
    return f"cap={cap} ignore={first.n_ignore} control={ctl}"


def full_vs_clean(df: pd.DataFrame | Samples, entries: list[ExcludeEntry], n_boot: int = 2_000) -> list[CleanRow]:
    """One row per cell that has at least one listed problem and at least two clean ones."""
    out: list[CleanRow] = []
    samples = Samples.of(df)
    if samples.empty:
        return out
    for cid, g in samples.by_cell():
        mat = g.accuracy_matrix()
        first = g.cell
        listed = {e.problem_id for e in entries if e.task == first.task}
        keep = np.array([p not in listed for p in mat.index])
        if keep.all() or keep.sum() < 2 or len(keep) < 2:
            continue
        c = mat.to_numpy(dtype=float)
        d = subset_difference(c, keep, confidence=CONF)
        full = accuracy_interval(c, CONF)
        clean = accuracy_interval(c[keep], CONF)
        out.append(CleanRow(cid, _label(first), first.task, len(keep), int((~keep).sum()), c.shape[1],
                            full.estimate, clean.estimate, full.low, full.high, clean.low, clean.high,
                            d.estimate, d.low, d.high))
    out.sort(key=lambda r: (r.task, r.label))
    return out


HEADERS = ["task", "cell", "problems", "excluded", "seeds", "full", "full 95% CI", "clean", "clean 95% CI",
           "clean - full", "paired 95% CI"]
NOTE = (
    "Accuracy is the mean over problems of each problem's accuracy over seeds (in %). clean: without the "
    "excluded problems. Intervals are for the population of problems: full and clean by the problem-clustered "
    "score interval; clean - full = (1 - K/P)(kept - excluded) by Welch's t interval on kept vs excluded "
    "problems, the interval of the difference itself. An interval excluding 0 means the excluded problems score "
    "differently from the rest."
)


def _cells(r: CleanRow) -> list[str]:
    return [r.task, r.label, str(r.problems), str(r.excluded), str(r.seeds), f"{100 * r.full:.1f}%",
            f"[{100 * r.full_low:.1f}, {100 * r.full_high:.1f}]", f"{100 * r.clean:.1f}%",
            f"[{100 * r.clean_low:.1f}, {100 * r.clean_high:.1f}]", f"{100 * r.diff:+.1f}",
            f"[{100 * r.diff_low:+.1f}, {100 * r.diff_high:+.1f}]"]


def render_markdown(rows: list[CleanRow], source: str, n_excluded: int) -> str:
    lines = [f"## Full vs clean accuracy ({source}: {n_excluded} problems listed)", ""]
    if not rows:
        return "\n".join(lines + ["No cell has a listed problem.", ""])
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines + ["", NOTE, ""])


def render_rich(rows: list[CleanRow], source: str) -> Table:
    t = Table(title=f"full vs clean accuracy (excluding the problems of {source})", caption=NOTE,
              caption_justify="left")
    for h in HEADERS:
        t.add_column(h, justify="left" if h in ("task", "cell") else "right")
    for r in rows:
        t.add_row(*_cells(r))
    return t
