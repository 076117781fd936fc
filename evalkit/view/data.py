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

from evalkit.store import FIELDS, open_results

TEXT = ("response", "thinking_text", "answer_text", "provenance")
META = tuple(f for f in FIELDS if f not in TEXT)


def _clean(v: Any) -> Any:  # noqa: ANN401 - JSON-ready scalars (NaN and pandas NA become None)
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
    return f"{r['cell_id']}~{int(r['seed'])}~{r['problem_id']}~{int(r['sample'])}"


class SweepData:
    def __init__(self, root: str | Path) -> None:
        self.store = open_results(root, need_rows=True)
        self.root = self.store.root
        self.files = [str(f) for f in self.store.shard_files()]
        self.dataset = ds.dataset(self.files, format="parquet")

    @cached_property
    def index(self) -> pd.DataFrame:
        df = self.dataset.to_table(columns=[*META, "provenance"]).to_pandas()  # texts are read per sample
        return df.sort_values(["task", "problem_id", "cell_id", "seed", "sample"], kind="stable", ignore_index=True)

    @cached_property
    def cells(self) -> dict[str, Any]:
        return self.store.read_cells()

    def _rows(self, columns: list[str] | None = None, **eq: Any) -> pd.DataFrame:  # noqa: ANN401
        """Rows matching the equalities (all columns, texts included, unless ``columns``)."""
        cond = None
        for k, v in eq.items():
            c = ds.field(k) == v
            cond = c if cond is None else cond & c
        df = self.dataset.to_table(columns=columns, filter=cond).to_pandas()
        return df.sort_values(["cell_id", "seed", "sample"], kind="stable", ignore_index=True)

    def overview(self) -> dict[str, Any]:
        from evalkit.report.tables import (
            HEADERS,
            NOTE,
            VOTE_HEADERS,
            cell_strings,
            cell_table,
            vote_strings,
            vote_table,
        )

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
        idx = self.index
        acc = idx.pivot_table(index=["task", "problem_id"], columns="cell_id", values="correct", aggfunc="mean")
        order = acc.mean(axis=1).sort_values(kind="stable").index
        acc = acc.loc[order]
        labels = {cid: c.get("label", cid) for cid, c in self.cells.items()}
        return {"cells": [[cid, labels.get(cid, cid)] for cid in acc.columns],
                "problems": [[t, p] for t, p in acc.index],
                "acc": [[None if np.isnan(x) else round(float(x), 4) for x in row] for row in acc.to_numpy()]}

    def sample_index(self) -> dict[str, Any]:
        """Every sample's metadata, column-wise (compact), for filters in the page."""
        cols = ["cell_id", "task", "problem_id", "seed", "sample", "correct", "grade_reason", "forced_end",
                "thinking_end", "n_ignored", "thinking_tokens", "extracted", "method"]
        idx = self.index
        return {"columns": cols, "data": {c: [_clean(v) for v in idx[c].tolist()] for c in cols},
                "labels": {cid: c.get("label", cid) for cid, c in self.cells.items()}}

    def problem(self, task: str, pid: str) -> dict[str, Any]:
        idx = self.index
        df = idx[(idx["task"] == task) & (idx["problem_id"] == pid)]  # no texts: the page lists and draws trees
        if df.empty:
            raise KeyError(f"no samples of problem {task}/{pid}")
        rows = [dict(r, key=sample_key(r)) for r in _records(df)]
        return {"task": task, "problem_id": pid, "gold": rows[0]["gold"], "text": self._problem_text(task, pid),
                "labels": {cid: c.get("label", cid) for cid, c in self.cells.items()}, "samples": rows,
                "trees": trees(rows)}

    def sample(self, key: str) -> dict[str, Any]:
        cid, seed, pid, k = key.split("~")
        df = self._rows(cell_id=cid, seed=int(seed), problem_id=pid, sample=int(k))
        if df.empty:
            raise KeyError(f"no sample {key}")
        r = _records(df)[0]
        return {**r, "key": key, "label": self.cells.get(cid, {}).get("label", cid), "segments": segments(r),
                "provenance": json.loads(r["provenance"] or "{}")}

    def pair(self, a: str, b: str) -> dict[str, Any]:
        sa, sb = self.sample(a), self.sample(b)
        n = 0
        for x, y in zip(sa["response"], sb["response"], strict=False):
            if x != y:
                break
            n += 1
        return {"a": sa, "b": sb, "common_chars": n}

    def _problem_text(self, task: str, pid: str) -> str | None:
        from evalkit.spec import TaskError, load_problems

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
    think, resp, ans = r["thinking_text"] or "", r["response"] or "", r["answer_text"] or ""
    prov = json.loads(r["provenance"] or "{}") if isinstance(r.get("provenance"), str) else (r.get("provenance") or {})
    spans = [tuple(s[2:4]) for s in prov.get("controls", [])]
    exact = "controls" in prov
    if not exact and (r.get("n_ignored") or 0) > 0 and r.get("control"):  # results written before the spans were
        spans = _find_controls(think, r["control"].split("|"), int(r["n_ignored"]))
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


def trees(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sequential samples of a problem grouped by the trajectory tree they branch from (per seed
    and control sequence): the trunk's length and control positions, and each branch's cut."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        if r["method"] != "sequential":
            continue
        prov = json.loads(r["provenance"] or "{}")
        key = (r["seed"], r["sample"], tuple(prov.get("tree_controls", [])), prov.get("tree_cap"))
        groups.setdefault(key, []).append({**r, "_prov": prov})
    out = []
    for (seed, sample, controls, cap), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2])):
        trunk = max(members, key=lambda m: (m["thinking_tokens"] or 0, m["n_ignored"] or 0))
        length = max(int(trunk["_prov"].get("tree_thinking_tokens") or 0), int(trunk["thinking_tokens"] or 0), 1)
        out.append({"seed": seed, "sample": sample, "controls": list(controls), "tree_cap": cap, "length": length,
                    "end": trunk["_prov"].get("tree_end"),
                    "marks": [s[0] for s in trunk["_prov"].get("controls", [])],
                    "branches": [{"key": m["key"], "cap": m["cap"], "n_ignore": m["n_ignore"],
                                  "tokens": m["thinking_tokens"], "end": m["thinking_end"], "correct": m["correct"],
                                  "extracted": m["extracted"]} for m in sorted(members, key=lambda m: (
                                      m["cap"] or 1e12, m["n_ignore"]))]})
    for r in rows:
        r.pop("provenance", None)
    return out
