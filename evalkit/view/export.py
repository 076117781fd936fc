"""``evalkit view --export``: the page as static files that open from disk, in time linear in the rows.

The overview, the sample list (one file per problem) and the problem pages (one file per problem and
page of seeds) come from metadata alone, each part read once; the texts are read in one streaming pass
per cell, a record batch at a time, and grouped one file per (cell, problem), each holding the samples
of every seed. The number of files grows with cells x problems, not with samples.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from evalkit.grade import Item
from evalkit.store import FIELDS, Col
from evalkit.store.scan import equal, part_files, read_table, scan_batches
from evalkit.view.data import INDEX_COLUMNS, PAGE_ROWS, PAGE_SEEDS, PROBLEM_COLUMNS, SweepData, sample_key
from evalkit.view.server import STATIC, ReferenceGrader

OPEN_FILES = 256  # problems written at once in a cell's pass (more problems: more passes over that cell)
HEAD = "window.EVALKIT_DATA = window.EVALKIT_DATA || {};\n"
DROPPED = (Col.RESPONSE, Col.THINKING_TEXT, Col.ANSWER_TEXT, Col.PROVENANCE)  # the segments carry the text


def _hex(s: str) -> str:
    return s.encode().hex()


class JsMap:
    """A data file ``data/<name>.js`` that sets ``window.EVALKIT_DATA[name]`` to a JSON object, written
    one entry at a time (the object never held in memory)."""

    def __init__(self, out: Path, name: str) -> None:
        self.f: IO[str] = open(out / "data" / f"{name}.js", "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.f.write(f"{HEAD}window.EVALKIT_DATA[{json.dumps(name)}] = {{")
        self.first = True

    def add(self, key: str, obj: Any) -> None:
        self.f.write(("" if self.first else ",\n") + json.dumps(key) + ": " + json.dumps(obj, default=str))
        self.first = False

    def close(self) -> int:
        self.f.write("};\n")
        n = self.f.tell()
        self.f.close()
        return n


def write_js(out: Path, name: str, obj: Any) -> int:
    body = f"{HEAD}window.EVALKIT_DATA[{json.dumps(name)}] = " + json.dumps(obj, default=str) + ";\n"
    (out / "data" / f"{name}.js").write_text(body, encoding="utf-8")
    return len(body)


def _index(out: Path, data: SweepData) -> int:
    """The list's metadata (``index``) and its rows, one file per problem (``rows-<task~problem>``)."""
    idx, problems = data.index, []
    n = 0
    for (task, pid), pos in data.by_problem.items():
        n += write_js(out, "rows-" + _hex(f"{task}~{pid}"), data.page_columns(idx.iloc[pos]))
        problems.append([task, pid, len(pos)])
    meta = {"columns": INDEX_COLUMNS, "total": len(idx), "labels": data.labels, "options": data.options,
            "page_rows": PAGE_ROWS, "problems": problems}
    return n + write_js(out, "index", meta)


def _problem_pages(out: Path, data: SweepData) -> int:
    """Every problem's pages of trajectory trees: for each set of seeds on a page, the parts of those seeds
    are read once (no text) for every problem that has that page."""
    idx = data.index
    pages: dict[tuple[int, ...], list[tuple[str, str, int, int, int]]] = {}
    for (task, pid), pos in data.by_problem.items():
        seeds = sorted(int(s) for s in idx[Col.SEED].iloc[pos].unique())
        n_pages = max(1, math.ceil(len(seeds) / PAGE_SEEDS))
        for p in range(n_pages):
            pages.setdefault(tuple(seeds[p * PAGE_SEEDS: (p + 1) * PAGE_SEEDS]), []).append(
                (task, pid, p, n_pages, len(seeds)))
    n = 0
    for seeds, todo in pages.items():
        rows = read_table(part_files(data.root, seeds=seeds), PROBLEM_COLUMNS,
                          equal(problem_id=sorted({pid for _, pid, *_ in todo}), seed=list(seeds))).to_pandas()
        groups = rows.groupby([Col.TASK, Col.PROBLEM_ID], sort=False).indices
        for task, pid, p, n_pages, n_seeds in todo:
            df = rows.iloc[groups.get((task, pid), [])]
            page = data.problem_page(task, pid, df, p, n_pages, list(seeds), n_seeds)
            n += write_js(out, "problem-" + _hex(f"{p}~{task}~{pid}"), page)
    return n


def _references(data: SweepData) -> dict[Item, bool | None]:
    """Plain math-verify's verdict on every distinct answer (one pass over three short columns)."""
    items: set[Item] = set()
    for b in scan_batches(data.files, [Col.ANSWER_TEXT, Col.GOLD, Col.ANSWER_TYPE], batch_rows=65536):
        for a, g, t in zip(*(b.column(i).to_pylist() for i in range(3)), strict=True):
            items.add(Item(a or "", g, t))
    todo = sorted(items, key=lambda it: (it.gold, it.response, it.answer_type))
    grader = ReferenceGrader()
    try:
        return dict(zip(todo, grader.verdicts(todo), strict=True))
    finally:
        grader.close()


def _mates(data: SweepData) -> dict[tuple[str, str, int], list[list[str]]]:
    """[key, label] of the first sample of each cell, per (task, problem, seed): the paired view's choices."""
    first = data.index[data.index[Col.SAMPLE] == 0]
    out: dict[tuple[str, str, int], list[list[str]]] = {}
    cols = [Col.TASK, Col.PROBLEM_ID, Col.SEED, Col.CELL_ID]
    for task, pid, seed, cid in first[cols].itertuples(index=False, name=None):
        key = sample_key({Col.CELL_ID: cid, Col.SEED: seed, Col.PROBLEM_ID: pid, Col.SAMPLE: 0})
        out.setdefault((task, pid, int(seed)), []).append([key, data.labels.get(cid, cid)])
    return out


def _payload(data: SweepData, r: dict[str, Any], refs: dict[Item, bool | None],
             mates: dict[tuple[str, str, int], list[list[str]]]) -> dict[str, Any]:
    """A sample as its page needs it: metadata and segments; the response only where the segments do not
    spell it out."""
    key = sample_key(r)
    s = data.sample_payload(r, mates=[m for m in mates.get((r[Col.TASK], r[Col.PROBLEM_ID], int(r[Col.SEED])), [])
                                      if m[0] != key])
    s["reference"] = refs.get(Item(r[Col.ANSWER_TEXT] or "", r[Col.GOLD], r[Col.ANSWER_TYPE]))
    whole = "".join(seg["text"] for seg in s["segments"]) == (r[Col.RESPONSE] or "")
    for c in DROPPED:
        s.pop(c, None)
    if not whole:
        s[Col.RESPONSE] = r[Col.RESPONSE]
    return s


def _texts(out: Path, data: SweepData, refs: dict[Item, bool | None]) -> int:
    """Every sample's page, one file per (cell, problem), from one streaming pass over each cell's parts
    (more than ``OPEN_FILES`` problems: one pass per group of that many)."""
    idx, mates, n = data.index, _mates(data), 0
    for cid in data.options["cell"]:
        pids = idx.loc[idx[Col.CELL_ID] == cid, Col.PROBLEM_ID].unique().tolist()
        files = part_files(data.root, cells=[cid])
        for start in range(0, len(pids), OPEN_FILES):
            group = pids[start: start + OPEN_FILES]
            where = None if len(pids) <= OPEN_FILES else equal(problem_id=group)
            maps: dict[str, JsMap] = {}
            try:
                for b in scan_batches(files, FIELDS, where):
                    for r in b.to_pylist():
                        m = maps.get(r[Col.PROBLEM_ID]) or maps.setdefault(
                            r[Col.PROBLEM_ID], JsMap(out, "texts-" + _hex(f"{cid}~{r[Col.PROBLEM_ID]}")))
                        m.add(sample_key(r), _payload(data, r, refs, mates))
            finally:
                n += sum(m.close() for m in maps.values())
    return n


def export(results_dir: Path, out: Path, say: Callable[[str], None] = print) -> Path:
    """Write the page and the data of every page (overview, sample list, problem pages, samples) as static
    files under ``out``; ``out/index.html`` opens from disk. Written to a temporary directory renamed
    at the end."""
    data = SweepData(results_dir)
    tmp = out.with_name(f".{out.name}.export-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "data").mkdir(parents=True)
    shutil.copytree(STATIC, tmp / "static")
    html = (
        (STATIC / "index.html").read_text().replace("<!--STATIC-->", "<script>window.EVALKIT_STATIC = true;</script>")
    )
    (tmp / "index.html").write_text(html)
    if (data.root / "figures").is_dir():
        shutil.copytree(data.root / "figures", tmp / "figures")
    n = write_js(tmp, "overview", data.overview()) + _index(tmp, data) + _problem_pages(tmp, data)
    n += _texts(tmp, data, _references(data))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    say(f"exported {len(data.index)} samples ({n / 1e6:.1f} MB of data) to {out}; open {out / 'index.html'}")
    return out
