"""What ``evalkit view`` shows, as JSON-ready dicts, read straight from a results directory.

The index holds a few small columns of every sample (never a text: no response, thinking or answer
text, no provenance) and answers the sample list a page at a time, filtered. A problem page reads only
its own rows of the seeds on the page (the parts of those seeds, found from the layout, with a row
filter), a sample only its own (cell, seed) parts, and a text search streams record batches of the
needed columns and stops at a page of hits: a sweep of any size opens at once and memory does not grow
with text length. The per-cell table is :func:`evalkit.report.tables.cell_table` / :func:`cell_strings`:
the numbers are the report's, by the same code.
"""

from __future__ import annotations

import json
import math
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from evalkit.grade.stated import stated_answer
from evalkit.report.provenance import banner_text, test_doubles
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
from evalkit.store import FIELDS, SAMPLE_KEY, TEXTS, Col, Samples, check_frame, open_results
from evalkit.store.provenance import model_sources
from evalkit.store.scan import equal, find, part_files, read_table

TEXT = TEXTS
META = tuple(f for f in FIELDS if f not in TEXT)
# what the page's sample list shows and filters on, for every sample
INDEX_COLUMNS = [Col.CELL_ID, Col.TASK, Col.PROBLEM_ID, Col.SEED, Col.SAMPLE, Col.CORRECT, Col.GRADE_REASON,
                 Col.FORCED_END, Col.THINKING_END, Col.N_IGNORED, Col.THINKING_TOKENS, Col.EXTRACTED, Col.METHOD]
# ... plus what the overview's tables need (cell columns, answer classes and verifier scores for votes)
INDEX_READ = [*INDEX_COLUMNS, Col.MODEL, Col.N_SAMPLES, Col.CAP, Col.N_IGNORE, Col.CONTROL, Col.MIN_TOKENS,
              Col.FORCED_TOKENS, Col.ANSWER_TOKENS, Col.ANSWER_CLASS, Col.VERIFIER_SCORE]
# a problem page: what the index lacks of its rows (the trees' provenance, the gold), no text
PROBLEM_COLUMNS = [Col.TASK, *SAMPLE_KEY, Col.GOLD, Col.PROVENANCE]
SEARCH_COLUMNS = [*SAMPLE_KEY, Col.RESPONSE, Col.EXTRACTED]
PAGE_ROWS = 500  # samples per page of the list
PAGE_SEEDS = 4  # seeds per page of a problem's trajectory trees


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


def parse_key(key: str) -> tuple[str, int, str, int]:
    """(cell, seed, problem, sample) of a sample key; KeyError naming it if it is not one."""
    cid, _, rest = key.partition("~")
    seed, _, rest = rest.partition("~")
    pid, _, k = rest.rpartition("~")
    try:
        return cid, int(seed), pid, int(k)
    except ValueError:
        raise KeyError(f"not a sample key: {key!r} (cell~seed~problem~sample)") from None


def parse_query(arg: str | None) -> dict[str, str]:
    """The sample list's query string (cell, seed, correct, reason, end, q, offset) as a dict."""
    return {k: v[0] for k, v in parse_qs(arg or "", keep_blank_values=False).items()}


def _int(q: dict[str, str], name: str, default: int = 0) -> int:
    try:
        return int(q.get(name, default))
    except ValueError:
        raise KeyError(f"{name}: not an integer: {q[name]!r}") from None


def query_filter(q: dict[str, str]) -> ds.Expression | None:
    """The list's filters as a Parquet row filter (pushed down when a search scans texts)."""
    cond = equal(**{k: v for k, v in ((Col.CELL_ID, q.get("cell")), (Col.GRADE_REASON, q.get("reason"))) if v})
    parts = [] if cond is None else [cond]
    if q.get("seed"):
        parts.append(ds.field(Col.SEED) == _int(q, "seed"))
    if q.get("correct"):
        parts.append(ds.field(Col.CORRECT) == (q["correct"] == "1"))
    if q.get("end") == "forced":
        parts.append(ds.field(Col.FORCED_END) == True)  # noqa: E712 - an expression, not a comparison
    elif q.get("end"):
        parts.append((ds.field(Col.FORCED_END) == False) | ds.field(Col.FORCED_END).is_null())  # noqa: E712
    out = None
    for c in parts:
        out = c if out is None else out & c
    return out


class SweepData:
    def __init__(self, root: str | Path) -> None:
        self.store = open_results(root, need_rows=True)
        self.root = self.store.root
        self.files = self.store.shard_files()

    @cached_property
    def index(self) -> pd.DataFrame:
        """A few small columns of every sample (no text), sorted by task, problem, cell, seed, sample."""
        df = read_table(self.files, INDEX_READ).to_pandas()
        order = [Col.TASK, Col.PROBLEM_ID, Col.CELL_ID, Col.SEED, Col.SAMPLE]
        return check_frame(df.sort_values(order, kind="stable", ignore_index=True))

    @cached_property
    def by_problem(self) -> dict[tuple[str, str], np.ndarray]:
        """The index positions of each (task, problem)'s samples."""
        return {k: v for k, v in self.index.groupby([Col.TASK, Col.PROBLEM_ID], sort=False).indices.items()}

    @cached_property
    def cells(self) -> dict[str, Any]:
        return self.store.read_cells()

    @cached_property
    def labels(self) -> dict[str, str]:
        return {cid: c.get("label", cid) for cid, c in self.cells.items()}

    @cached_property
    def options(self) -> dict[str, list[Any]]:
        """The values the list's filters offer (cells, seeds, grade reasons)."""
        idx = self.index
        return {"cell": sorted(idx[Col.CELL_ID].dropna().unique().tolist()),
                "seed": sorted(int(s) for s in idx[Col.SEED].dropna().unique()),
                "reason": sorted(idx[Col.GRADE_REASON].dropna().unique().tolist())}

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
            "banner": banner_text(test_doubles(model_sources(m, [str(x) for x in self.index[Col.MODEL].unique()]))),
        }

    def grid(self) -> dict[str, Any]:
        """Per-problem accuracy (over seeds and samples) of every cell; problems hardest first."""
        acc = Samples(self.index).accuracy_matrix(index=(Col.TASK, Col.PROBLEM_ID), columns=Col.CELL_ID)
        order = acc.mean(axis=1).sort_values(kind="stable").index
        acc = acc.loc[order]
        return {"cells": [[cid, self.labels.get(cid, cid)] for cid in acc.columns],
                "problems": [[t, p] for t, p in acc.index],
                "acc": [[None if np.isnan(x) else round(float(x), 4) for x in row] for row in acc.to_numpy()]}

    def mask(self, q: dict[str, str]) -> np.ndarray:
        """The index rows that pass the list's filters (all but the text search)."""
        idx = self.index
        m = np.ones(len(idx), dtype=bool)
        if q.get("cell"):
            m &= (idx[Col.CELL_ID] == q["cell"]).to_numpy()
        if q.get("seed"):
            m &= (idx[Col.SEED] == _int(q, "seed")).to_numpy()
        if q.get("correct"):
            m &= (idx[Col.CORRECT].fillna(False).astype(bool) == (q["correct"] == "1")).to_numpy()
        if q.get("reason"):
            m &= (idx[Col.GRADE_REASON] == q["reason"]).to_numpy()
        if q.get("end"):
            m &= (idx[Col.FORCED_END].fillna(False).astype(bool) == (q["end"] == "forced")).to_numpy()
        return m

    def page_columns(self, rows: pd.DataFrame) -> dict[str, list[Any]]:
        return {c: [_clean(v) for v in rows[c].tolist()] for c in INDEX_COLUMNS}

    def sample_index(self, q: dict[str, str] | None = None) -> dict[str, Any]:
        """One page of the sample list (``q``: its filters, ``q`` the text searched, ``offset``), column-wise:
        how many samples pass (None while a search has not scanned everything), the page, the filters' options."""
        q = q or {}
        offset, idx = max(0, _int(q, "offset")), self.index
        out = {"columns": INDEX_COLUMNS, "total": len(idx), "offset": offset, "labels": self.labels,
               "options": self.options, "page_rows": PAGE_ROWS}
        if q.get("q"):
            keys, complete = self.search(q["q"], q, limit=offset + PAGE_ROWS + 1)
            hits = pd.DataFrame(keys, columns=list(SAMPLE_KEY)) if keys else pd.DataFrame(columns=list(SAMPLE_KEY))
            rows = idx.merge(hits.astype(idx[list(SAMPLE_KEY)].dtypes.to_dict()), on=list(SAMPLE_KEY))
            page = rows.iloc[offset: offset + PAGE_ROWS]
            return {**out, "matched": len(rows) if complete else None, "more": len(rows) > offset + PAGE_ROWS,
                    "data": self.page_columns(page)}
        pos = np.flatnonzero(self.mask(q))
        page = idx.iloc[pos[offset: offset + PAGE_ROWS]]
        return {**out, "matched": len(pos), "more": len(pos) > offset + PAGE_ROWS, "data": self.page_columns(page)}

    def search(self, text: str, q: dict[str, str] | None = None,
               limit: int = PAGE_ROWS) -> tuple[list[dict[str, Any]], bool]:
        """The keys (as dicts) of samples whose response or extracted answer contains ``text`` and that pass
        the filters ``q``: record batches of the key and the two text columns, only of the parts of the
        filtered cell / seed, stopping at ``limit`` hits. Returns (keys, whether every sample was scanned)."""
        q = q or {}
        if q.get("cell") and q["cell"] not in self.options["cell"]:
            return [], True
        files = part_files(self.root, cells=[q["cell"]] if q.get("cell") else None,
                           seeds=[_int(q, "seed")] if q.get("seed") else None)
        keys: list[dict[str, Any]] = []
        for t in find(files, text, [Col.RESPONSE, Col.EXTRACTED], SAMPLE_KEY, query_filter(q)):
            keys.extend(t.to_pylist())
            if len(keys) >= limit:
                return keys[:limit], False
        return keys, True

    def problem(self, task: str, pid: str, page: int = 0) -> dict[str, Any]:
        """A problem's trajectory trees and samples, ``PAGE_SEEDS`` seeds a page: reads the rows of this problem
        in the parts of those seeds only (no text column)."""
        pos = self.by_problem.get((task, pid))
        if pos is None:
            raise KeyError(f"no samples of problem {task}/{pid}")
        sub = self.index.iloc[pos]
        seeds = sorted(int(s) for s in sub[Col.SEED].unique())
        pages = max(1, math.ceil(len(seeds) / PAGE_SEEDS))
        if not 0 <= page < pages:
            raise KeyError(f"problem {task}/{pid} has {pages} pages of seeds, not a page {page}")
        on_page = seeds[page * PAGE_SEEDS: (page + 1) * PAGE_SEEDS]
        files = part_files(self.root, cells=sub[Col.CELL_ID].unique().tolist(), seeds=on_page)
        df = read_table(files, PROBLEM_COLUMNS, equal(task=task, problem_id=pid, seed=on_page)).to_pandas()
        return self.problem_page(task, pid, df, page, pages, on_page, len(seeds))

    def problem_page(self, task: str, pid: str, df: pd.DataFrame, page: int, pages: int, seeds: list[int],
                     n_seeds: int) -> dict[str, Any]:
        """The problem page of ``df`` (the problem's rows of the page's seeds: ``PROBLEM_COLUMNS``), with
        the rest of their columns from the index."""
        sub = self.index.iloc[self.by_problem.get((task, pid), [])]
        df = sub.merge(df.drop(columns=[Col.TASK]), on=list(SAMPLE_KEY))
        df = df.sort_values([Col.CELL_ID, Col.SEED, Col.SAMPLE], kind="stable", ignore_index=True)
        rows = [dict(r, key=sample_key(r)) for r in _records(df)]
        return {"task": task, "problem_id": pid, "gold": rows[0][Col.GOLD] if rows else None,
                "text": self.problem_text(task, pid), "labels": self.labels, "samples": rows, "trees": trees(rows),
                "page": page, "pages": pages, "seeds": seeds, "n_seeds": n_seeds}

    def mates(self, task: str, pid: str, seed: int, cid: str) -> list[list[str]]:
        """[key, label] of the first sample of every other cell on the same problem and seed (the paired view)."""
        pos = self.by_problem.get((task, pid))
        if pos is None:
            return []
        sub = self.index.iloc[pos]
        sub = sub[(sub[Col.SEED] == seed) & (sub[Col.SAMPLE] == 0) & (sub[Col.CELL_ID] != cid)]
        return [[sample_key(r), self.labels.get(r[Col.CELL_ID], r[Col.CELL_ID])] for r in _records(sub)]

    def sample(self, key: str) -> dict[str, Any]:
        """One sample, texts included: reads its (cell, seed) parts only."""
        cid, seed, pid, k = parse_key(key)
        if cid not in self.options["cell"]:
            raise KeyError(f"no sample {key}")
        files = part_files(self.root, cells=[cid], seeds=[seed])
        df = read_table(files, FIELDS, equal(problem_id=pid, sample=k, seed=seed)).to_pandas()
        if df.empty:
            raise KeyError(f"no sample {key}")
        return self.sample_payload(_records(df)[0])

    def sample_payload(self, r: dict[str, Any], mates: list[list[str]] | None = None) -> dict[str, Any]:
        """What the sample page shows of a stored row (texts included); ``mates``: the paired view's choices
        if known (else looked up in the index). ``stated``: the answer as the model wrote it (derived here
        from the stored answer text; the stored ``extracted`` is the grader's normalised form)."""
        if mates is None:
            mates = self.mates(r[Col.TASK], r[Col.PROBLEM_ID], int(r[Col.SEED]), r[Col.CELL_ID])
        stated = stated_answer(r[Col.ANSWER_TEXT] or "", r[Col.EXTRACTED], r[Col.ANSWER_TYPE])
        return {**r, "key": sample_key(r), "label": self.labels.get(r[Col.CELL_ID], r[Col.CELL_ID]),
                "segments": segments(r), "stated": stated, Col.PROVENANCE: json.loads(r[Col.PROVENANCE] or "{}"),
                "mates": mates}

    def pair(self, a: str, b: str) -> dict[str, Any]:
        sa, sb = self.sample(a), self.sample(b)
        n = 0
        for x, y in zip(sa[Col.RESPONSE], sb[Col.RESPONSE], strict=False):
            if x != y:
                break
            n += 1
        return {"a": sa, "b": sb, "common_chars": n}

    @cached_property
    def _task_entries(self) -> dict[str, dict[str, Any]]:
        return {t["name"]: t for t in self.store.read_manifest().get("spec", {}).get("tasks", [])
                if isinstance(t, dict) and "name" in t}

    @cached_property
    def _texts(self) -> dict[str, dict[str, str]]:
        return {}

    def problem_text(self, task: str, pid: str) -> str | None:
        """A problem's text (None if its task's data cannot be loaded); each task's problems loaded once."""
        if task not in self._texts:
            try:
                probs = load_problems(task, data_path=self._task_entries.get(task, {}).get("data_path"))
                self._texts[task] = {p.problem_id: p.prompt for p in probs}
            except (TaskError, KeyError, ValueError):
                self._texts[task] = {}
        return self._texts[task].get(pid)


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
