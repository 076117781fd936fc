"""What ``evalkit view`` shows, as JSON-ready dicts, read straight from a results directory.

A sample index (every column but the texts) is read once; texts are read only for the problem or
sample on screen (Parquet column projection and a row filter), so a sweep of any size opens at once.
The per-cell table is :func:`evalkit.report.tables.cell_table` / :func:`cell_strings`: the numbers
are the report's, by the same code.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from evalkit.grade.stated import stated_answer
from evalkit.report.tables import (
    HEADERS,
    NOTE,
    VOTE_HEADERS,
    cell_strings,
    cell_table,
    vote_strings,
    vote_table,
)
from evalkit.spec import TaskError, load_problems
from evalkit.store import FIELDS, TEXTS, Col, Samples, check_frame, open_results

TEXT = TEXTS
META = tuple(f for f in FIELDS if f not in TEXT)
# what the page's sample filters see of every sample
INDEX_COLUMNS = [Col.CELL_ID, Col.TASK, Col.PROBLEM_ID, Col.SEED, Col.SAMPLE, Col.CORRECT, Col.GRADE_REASON,
                 Col.FORCED_END, Col.THINKING_END, Col.N_IGNORED, Col.THINKING_TOKENS, Col.EXTRACTED, Col.METHOD]


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if np.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NA:
        return None
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in r.items()} for r in df.to_dict("records")]


def sample_key(r: dict[str, Any]) -> str:
    """The id of a sample in URLs and file names."""
    return f"{r[Col.CELL_ID]}~{int(r[Col.SEED])}~{r[Col.PROBLEM_ID]}~{int(r[Col.SAMPLE])}"


class SweepData:
    def __init__(self, root: str | Path) -> None:
        self.store = open_results(root, need_rows=True)
        self.root = self.store.root
        self.files = [str(f) for f in self.store.shard_files()]
        self.dataset = ds.dataset(self.files, format="parquet")

    @cached_property
    def index(self) -> pd.DataFrame:
        df = self.dataset.to_table(columns=[*META, Col.PROVENANCE]).to_pandas()  # texts are read per sample
        order = [Col.TASK, Col.PROBLEM_ID, Col.CELL_ID, Col.SEED, Col.SAMPLE]
        return check_frame(df.sort_values(order, kind="stable", ignore_index=True))

    @cached_property
    def cells(self) -> dict[str, Any]:
        return self.store.read_cells()

    def _rows(self, columns: list[str] | None = None, **eq: Any) -> pd.DataFrame:
        """Rows matching the equalities (all columns, texts included, unless ``columns``)."""
        cond = None
        for k, v in eq.items():
            c = ds.field(k) == v
            cond = c if cond is None else cond & c
        df = self.dataset.to_table(columns=columns, filter=cond).to_pandas()
        return df.sort_values([Col.CELL_ID, Col.SEED, Col.SAMPLE], kind="stable", ignore_index=True)

    def overview(self) -> dict[str, Any]:
        m = self.store.read_manifest()
        rows, votes = cell_table(self.index), vote_table(self.index)
        figs = sorted(p.name for p in (self.root / "figures").glob("*.png")) if (self.root / "figures").is_dir() else []
        return {
            "sweep": m.get("sweep", self.root.name), "grader_version": m.get("grader_version"),
            "versions": m.get("versions", {}), "models": m.get("models", {}), "spec": m.get("spec", {}),
            "hardware": m.get("hardware", {}), "created": m.get("created"), "updated": m.get("updated"),
            "table": {"headers": HEADERS, "rows": [[r.cell_id, *cell_strings(r)] for r in rows], "note": NOTE},
            "votes": {"headers": VOTE_HEADERS, "rows": [[v.cell_id, *vote_strings(v)] for v in votes]},
            "figures": figs, "grid": self.grid(), "samples": len(self.index),
        }

    def grid(self) -> dict[str, Any]:
        """Per-problem accuracy (over seeds and samples) of every cell; problems hardest first."""
        acc = Samples(self.index).accuracy_matrix(index=(Col.TASK, Col.PROBLEM_ID), columns=Col.CELL_ID)
        order = acc.mean(axis=1).sort_values(kind="stable").index
        acc = acc.loc[order]
        labels = {cid: c.get("label", cid) for cid, c in self.cells.items()}
        return {"cells": [[cid, labels.get(cid, cid)] for cid in acc.columns],
                "problems": [[t, p] for t, p in acc.index],
                "acc": [[None if np.isnan(x) else round(float(x), 4) for x in row] for row in acc.to_numpy()]}

    def sample_index(self) -> dict[str, Any]:
        """Every sample's metadata, column-wise (compact), for filters in the page."""
        cols = INDEX_COLUMNS
        idx = Samples(self.index)
        return {"columns": cols, "data": {c: [_clean(v) for v in idx.column(c).tolist()] for c in cols},
                "labels": {cid: c.get("label", cid) for cid, c in self.cells.items()}}

    def problem(self, task: str, pid: str) -> dict[str, Any]:
        idx = Samples(self.index)
        df = idx.where((idx.task == task) & (idx.problem_id == pid)).frame  # no texts: the page lists and draws trees
        if df.empty:
            raise KeyError(f"no samples of problem {task}/{pid}")
        rows = [dict(r, key=sample_key(r)) for r in _records(df)]
        return {"task": task, "problem_id": pid, "gold": rows[0][Col.GOLD], "text": self._problem_text(task, pid),
                "labels": {cid: c.get("label", cid) for cid, c in self.cells.items()}, "samples": rows,
                "trees": trees(rows)}

    def sample(self, key: str) -> dict[str, Any]:
        cid, seed, pid, k = key.split("~")
        df = self._rows(cell_id=cid, seed=int(seed), problem_id=pid, sample=int(k))
        if df.empty:
            raise KeyError(f"no sample {key}")
        r = _records(df)[0]
        # the answer as the model wrote it (derived here from the stored answer text; the stored
        # ``extracted`` is the grader's normalised form and stays as it is)
        stated = stated_answer(r[Col.ANSWER_TEXT] or "", r[Col.EXTRACTED], r[Col.ANSWER_TYPE])
        return {**r, "key": key, "label": self.cells.get(cid, {}).get("label", cid), "segments": segments(r),
                "stated": stated, Col.PROVENANCE: json.loads(r[Col.PROVENANCE] or "{}")}

    def pair(self, a: str, b: str) -> dict[str, Any]:
        sa, sb = self.sample(a), self.sample(b)
        n = 0
        for x, y in zip(sa[Col.RESPONSE], sb[Col.RESPONSE], strict=False):
            if x != y:
                break
            n += 1
        return {"a": sa, "b": sb, "common_chars": n}

    def _problem_text(self, task: str, pid: str) -> str | None:
        entry = next((t for t in self.store.read_manifest().get("spec", {}).get("tasks", [])
                      if isinstance(t, dict) and t.get("name") == task), {})
        try:
            probs = load_problems(task, data_path=entry.get("data_path"))
        except (TaskError, KeyError, ValueError):
            return None
        return next((p.prompt for p in probs if p.problem_id == pid), None)


def segments(r: dict[str, Any]) -> list[dict[str, Any]]:
    """A sample's text as segments: thinking (with the injected control strings told apart), the
    forced delimiter (+ answer prefix) and the answer."""
    think, resp, ans = r[Col.THINKING_TEXT] or "", r[Col.RESPONSE] or "", r[Col.ANSWER_TEXT] or ""
    raw = r.get(Col.PROVENANCE)
    prov = json.loads(raw or "{}") if isinstance(raw, str) else (raw or {})
    spans = [tuple(s[2:4]) for s in prov.get("controls", [])]
    exact = "controls" in prov
    n_ignored, control = r.get(Col.N_IGNORED) or 0, r.get(Col.CONTROL)
    if not exact and n_ignored > 0 and control:  # results written before the spans were
        spans = _find_controls(think, control.split("|"), int(n_ignored))
    out, pos = [], 0
    for s, e in sorted(spans):
        if s > pos:
            out.append({"kind": "thinking", "text": think[pos:s]})
        out.append({"kind": "control", "text": think[s:e], "exact": exact})
        pos = e
    if pos < len(think):
        out.append({"kind": "thinking", "text": think[pos:]})
    forced = resp[len(think): len(resp) - len(ans)] if resp.startswith(think) and resp.endswith(ans) else ""
    if forced:
        out.append({"kind": "forced", "text": forced})
    if ans:
        out.append({"kind": "answer", "text": ans})
    return out


def _find_controls(think: str, controls: list[str], n: int) -> list[tuple[int, int]]:
    """Where ``n`` injected controls most probably are (old results: the last occurrences, in order)."""
    found: list[tuple[int, int]] = []
    end = len(think)
    for i in reversed(range(n)):
        c = controls[i % len(controls)]
        at = think.rfind(c, 0, end)
        if at < 0:
            break
        found.append((at, at + len(c)))
        end = at
    return found


def _branch(m: dict[str, Any]) -> dict[str, Any]:
    """One branch of a tree as the page draws it."""
    return {"key": m["key"], "cap": m[Col.CAP], "n_ignore": m[Col.N_IGNORE], "tokens": m[Col.THINKING_TOKENS],
            "end": m[Col.THINKING_END], "correct": m[Col.CORRECT], "extracted": m[Col.EXTRACTED]}


def trees(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sequential samples of a problem grouped by the trajectory tree they branch from (per seed
    and control sequence): the trunk's length and control positions, and each branch's cut."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        if r[Col.METHOD] != "sequential":
            continue
        prov = json.loads(r[Col.PROVENANCE] or "{}")
        key = (r[Col.SEED], r[Col.SAMPLE], tuple(prov.get("tree_controls", [])), prov.get("tree_cap"))
        groups.setdefault(key, []).append({**r, "_prov": prov})
    out = []
    for (seed, sample, controls, cap), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2])):
        trunk = max(members, key=lambda m: (m[Col.THINKING_TOKENS] or 0, m[Col.N_IGNORED] or 0))
        length = max(int(trunk["_prov"].get("tree_thinking_tokens") or 0), int(trunk[Col.THINKING_TOKENS] or 0), 1)
        out.append({"seed": seed, "sample": sample, "controls": list(controls), "tree_cap": cap, "length": length,
                    "end": trunk["_prov"].get("tree_end"),
                    "marks": [s[0] for s in trunk["_prov"].get("controls", [])],
                    "branches": [_branch(m) for m in sorted(members, key=lambda m: (m[Col.CAP] or 1e12,
                                                                                      m[Col.N_IGNORE]))]})
    for r in rows:
        r.pop(Col.PROVENANCE, None)
    return out
