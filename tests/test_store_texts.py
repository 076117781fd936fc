"""The store at scale (issue #37, build 4): a trajectory's text shared by many cells is stored once and
read back exactly; a cell's parts are compacted into one file, with the same rows, and a compaction
killed at any point loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from evalkit.pipeline import run_sweep, scripted_resolve
from evalkit.pipeline.observer import Collect
from evalkit.spec import build_plan, parse_spec
from evalkit.store import ResultStore, SampleRow, open_results
from evalkit.store.compact import compact
from evalkit.store.scan import COMPACT, live_parts, part_files, read_table, scan_batches
from evalkit.store.texts import MIN_SHARED, SHARED, TEXT_FILE, encode
from evalkit.view import SweepData

OLD = Path(__file__).parent / "data" / "results_v2" / "v2_fixture"
SPEC = """\
name: texts
model: {id: scripted, engine: {p_end: 0.004}}
tasks:
  - name: math500
    where: {level: [1, 2]}
    limit: 6
seeds: [0, 1, 2]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [200, 600, 1500], ignores: [0, 1, 2]}
parallel: {n: 2, caps: [200]}
executor: {chunk_size: 2, retries: 0}
"""


def _sweep(root: Path) -> ResultStore:
    run_sweep(build_plan(parse_spec(SPEC)), root, engine="scripted", resolve=scripted_resolve, observer=Collect())
    return ResultStore(root / "texts")


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> ResultStore:
    return _sweep(tmp_path_factory.mktemp("texts"))


def _inline_bytes(rows: list[SampleRow]) -> int:
    return sum(len(getattr(r, c).encode()) for r in rows for c in SHARED)


def test_a_trees_texts_are_stored_once_and_read_back_exactly(swept: ResultStore) -> None:
    rows = swept.read_records()
    long = [r for r in rows if len(r.thinking_text) >= MIN_SHARED]
    assert len(long) > 50  # the scripted trajectories are long enough to be shared
    parts = [pq.read_table(f) for f in swept.shard_files()]
    referenced = sum(t.column(TEXT_FILE).null_count < len(t) for t in parts if TEXT_FILE in t.schema.names)
    assert referenced > 0
    # the stored text columns of a referenced row are empty; the text files hold each trajectory once
    texts = sorted((swept.root / "texts").rglob("*.parquet"))
    blob_bytes = sum(len(t.encode()) for f in texts for t in pq.read_table(f).column("text").to_pylist())
    assert blob_bytes < _inline_bytes(rows) / 5
    # every reader gives the texts as generated: records, frame, column-projected table, batches
    frame = swept.read_rows()
    assert frame["response"].tolist() == [r.response for r in rows]
    assert frame["thinking_text"].tolist() == [r.thinking_text for r in rows]
    files = swept.shard_files()
    table = read_table(files, ["cell_id", "seed", "problem_id", "sample", "response"]).to_pandas()
    got = {(c, s, p, k): t for c, s, p, k, t in table.itertuples(index=False, name=None)}
    assert got == {(r.cell_id, r.seed, r.problem_id, r.sample): r.response for r in rows}
    streamed = [t for b in scan_batches(files, ["thinking_text"], batch_rows=7) for t in b.column(0).to_pylist()]
    assert sorted(streamed) == sorted(r.thinking_text for r in rows)


def test_references_rebuild_any_text_exactly() -> None:
    """Prefixes that differ at a character (a token decoded at a cut), unicode, equal and unrelated texts."""
    trunk = "é∑ step " * 200
    texts = [trunk, trunk[:700], trunk[:700] + "\ufffd and more" * 40, trunk[:MIN_SHARED - 1], "unrelated " * 60,
             trunk[:300] + "<|im_start|>answer\nFinal Answer: 7"]
    rows = [{"response": t, "thinking_text": texts[(i + 1) % len(texts)]} for i, t in enumerate(texts)]
    enc = encode(rows, ["p"] * len(rows))
    assert 1 <= len(enc.blobs) <= 3
    for r, refs in zip(rows, enc.refs, strict=True):
        for c in SHARED:
            if refs[c] is None:
                assert len(r[c]) < MIN_SHARED or r[c] in [b for _, b in enc.blobs]
                continue
            b, n, tail = refs[c]
            assert enc.blobs[b][1][:n] + tail == r[c]


def test_old_directories_read_as_before_and_compact(tmp_path: Path) -> None:
    before = open_results(OLD).read_rows()
    copy = tmp_path / "old"
    shutil.copytree(OLD, copy)
    done = compact(ResultStore(copy))
    assert done.cells >= 1
    assert ResultStore(copy).read_rows().equals(before)


def _frame(store: ResultStore) -> pd.DataFrame:
    return store.read_rows()


def test_compaction_keeps_every_row_and_the_viewer_finds_a_sample_and_a_problem(swept: ResultStore,
                                                                                  tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "texts")
    shutil.copytree(swept.root, store.root)
    before, parts = _frame(store), len(store.shard_files())
    done = compact(store)
    after = store.shard_files()
    assert done.parts == parts and len(after) == len({f.parent for f in after}) < parts
    assert all(f.name.startswith(COMPACT) for f in after)
    assert _frame(store).equals(before)
    # the viewer reads one sample and one problem page from the compacted files (filtered by seed)
    data, old = SweepData(store.root), SweepData(swept.root)
    r = data.index.iloc[len(data.index) // 2]
    key = f"{r.cell_id}~{r.seed}~{r.problem_id}~{r['sample']}"
    assert data.sample(key)["response"] == old.sample(key)["response"]
    assert data.problem(r.task, r.problem_id)["samples"] == old.problem(r.task, r.problem_id)["samples"]
    # a regrade rewrites a compacted part in place and keeps what it replaces and its text references
    part = after[0]
    meta = pq.read_schema(part).metadata
    store.rewrite_part(part, store.read_part(part))
    assert pq.read_schema(part).metadata == meta and _frame(store).equals(before)
    # a second compaction has nothing to do; a part written after it is read beside it, then folded in
    assert compact(store).cells == 0
    extra = [x.replace(seed=9) for x in store.read_part(part)[:2]]
    store.write_part(extra[0].cell_id, 9, "late", extra)
    assert len(store.read_rows()) == len(before) + 2
    assert compact(store).cells == 1 and len(store.read_rows()) == len(before) + 2
    assert len(part_files(store.root, cells=[extra[0].cell_id], seeds=[9])) == 1


KILLER = """
import os, signal, sys
from pathlib import Path
import pyarrow.parquet as pq
from evalkit.store import ResultStore
from evalkit.store.compact import compact
point, n = sys.argv[2], int(sys.argv[3])
calls = 0
def kill_on_call(real):
    def f(*a, **kw):
        global calls
        calls += 1
        if calls == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*a, **kw)
    return f
if point == "write":
    pq.ParquetWriter.write_table = kill_on_call(pq.ParquetWriter.write_table)
elif point == "rename":
    os.replace = kill_on_call(os.replace)
else:
    Path.unlink = kill_on_call(Path.unlink)
compact(ResultStore(sys.argv[1]))
"""


@pytest.mark.parametrize(("point", "n"), [("write", 1), ("rename", 1), ("unlink", 1), ("unlink", 4),
                                          ("rename", 3)])
def test_a_compaction_killed_anywhere_loses_and_duplicates_nothing(swept: ResultStore, tmp_path: Path,
                                                                    point: str, n: int) -> None:
    store = ResultStore(tmp_path / "texts")
    shutil.copytree(swept.root, store.root)
    before = _frame(store)
    p = subprocess.run([sys.executable, "-c", KILLER, str(store.root), point, str(n)], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert _frame(store).equals(before)  # killed mid-way: the same rows, none twice
    assert SweepData(store.root).index.shape[0] == len(before)
    compact(store)  # the next compaction finishes the work and removes the killed writer's temporary file
    assert _frame(store).equals(before)
    assert not list(store.root.rglob("*.tmp"))
    assert all(f.name.startswith(COMPACT) for f in live_parts(store.root))
    assert not [f for f in (store.root / "samples").rglob("part-*.parquet") if not f.name.startswith(COMPACT)]


def test_a_sweep_of_many_parts_ends_compacted_and_a_rerun_reads_it(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import evalkit.pipeline.sweep as sweep_mod

    monkeypatch.setattr(sweep_mod, "AUTO_PARTS", 4)  # this small sweep's cells have 9 parts each
    store = _sweep(tmp_path)
    files = store.shard_files()
    assert files and all(f.name.startswith(COMPACT) for f in files)
    journal = store.read_journal("compact")
    assert journal and journal[-1]["parts"] > len(files)
    rows = len(store.read_rows())
    res = run_sweep(build_plan(parse_spec(SPEC)), tmp_path, engine="scripted", resolve=scripted_resolve,
                    observer=Collect())
    assert res.samples == 0 and len(store.read_rows()) == rows and store.shard_files() == files


def test_a_search_finds_what_the_rebuilt_texts_hold_without_rebuilding_them(swept: ResultStore) -> None:
    """Needles inside a shared prefix, across a prefix's end into a row's tail, only in some rows' tails,
    and nowhere: the rows found are those whose texts (rebuilt) contain the needle."""
    from evalkit.store.scan import find

    rows = swept.read_records()
    files = swept.shard_files()
    r = max(rows, key=lambda x: len(x.thinking_text))
    cut = len(r.thinking_text)
    # short and long (over OVERLAP + 1 characters) needles, across the end of a cut, at the end
    needles = [r.thinking_text[100:120], r.response[cut - 6: cut + 6], r.response[-12:], "Wait",
               r.response[cut - 60: cut + 40], r.thinking_text[-150:], r.response[cut - 120: cut + 5],
               "no such text"]
    rng = random.Random(7)  # and texts cut from random rows at random places, 1 to 200 characters long
    for x in rng.sample(rows, 25):
        at, size = rng.randrange(len(x.response)), rng.randint(1, 200)
        needles.insert(0, x.response[at: at + size])
    keys = ["cell_id", "seed", "problem_id", "sample"]
    for needle in needles:
        want = {(x.cell_id, x.seed, x.problem_id, x.sample) for x in rows
                if needle in x.response or needle in (x.extracted or "")}
        got = {tuple(d[k] for k in keys) for t in find(files, needle, ["response", "extracted"], keys)
               for d in t.to_pylist()}
        assert got == want, needle
    assert want == set()  # the last needle is in no text
