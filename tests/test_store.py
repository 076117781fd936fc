"""The stored row: one record, its schema, and results directories written before it existed."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evalkit.store import FIELDS, ROW_SCHEMA, ResultsError, ResultStore, SampleRow, open_results

OLD = Path(__file__).parent / "data" / "results_v2" / "v2_fixture"


def test_schema_is_derived_from_the_record() -> None:
    assert [f.name for f in ROW_SCHEMA] == list(FIELDS) == [f.name for f in dataclasses.fields(SampleRow)]
    types = {f.name: str(f.type) for f in ROW_SCHEMA}
    assert types["seed"] == "int64" and types["correct"] == "bool" and types["wall_s"] == "double"
    assert types["response"] == "string" and types["cap"] == "int64"


def test_old_results_directory_reads_exactly(tmp_path: Path) -> None:
    store = open_results(OLD)
    for f in store.shard_files():
        assert pq.read_schema(f).remove_metadata().equals(ROW_SCHEMA)  # written before the record existed
        raw = pq.read_table(f).to_pylist()
        assert [r.to_dict() for r in store.read_part(f)] == raw
    recs = store.read_records()
    df = store.read_rows()
    assert len(recs) == len(df) == 24
    assert [r.to_dict() for r in recs] == df.astype(object).where(df.notna(), None).to_dict("records")
    assert {r.method for r in recs} == {"sequential", "parallel"}


def test_reports_and_regrade_on_an_old_directory(tmp_path: Path) -> None:
    from evalkit import regrade, report

    d = tmp_path / "v2_fixture"
    shutil.copytree(OLD, d)
    before = ResultStore(d).read_records()
    rep = report.build(d)
    assert "math500" in rep.markdown and "Parallel sampling" in rep.markdown
    r = regrade(d)
    assert r.rows == 24 and r.changed == 0
    after = ResultStore(d).read_records()
    from evalkit.grade import GRADER_VERSION

    assert {a.grader_version for a in after} == {GRADER_VERSION}
    # written by ek-0.3: the current grader gives every row the same verdict, answer and vote class
    keep = [(a.correct, a.extracted, a.answer_class) for a in after]
    assert keep == [(b.correct, b.extracted, b.answer_class) for b in before]
    assert [a.replace(grader_version="", grade_reason=None) for a in after] == \
        [b.replace(grader_version="", grade_reason=None) for b in before]
    journal = [json.loads(x) for x in (d / "journal" / "regrade.jsonl").read_text().splitlines()]
    assert len(journal) == len(ResultStore(d).shard_files()) and {e["event"] for e in journal} == {"regrade"}


def test_write_part_refuses_rows_of_another_unit(tmp_path: Path) -> None:
    rows = open_results(OLD).read_records()
    store = ResultStore(tmp_path / "x")
    r = rows[0]
    with pytest.raises(ValueError, match="a row of cell"):
        store.write_part(r.cell_id, r.seed + 1, "p", [r])
    path = store.write_part(r.cell_id, r.seed, "p", [r])
    assert store.read_part(path) == [r]
    with pytest.raises(ValueError, match="must keep the part's samples"):
        store.rewrite_part(path, [r.replace(sample=5)])
    store.rewrite_part(path, [r.replace(correct=not r.correct)])
    assert store.read_part(path)[0].correct is (not r.correct)


def test_unknown_columns_and_missing_directories_are_named(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="not a column of the results schema: colour"):
        SampleRow.from_dict({**open_results(OLD).read_records()[0].to_dict(), "colour": "red"})
    with pytest.raises(ResultsError, match="not a results directory"):
        open_results(tmp_path)


def _stalled_writer(target: Path):
    """A process that stops inside atomic_write_bytes after its temporary file is written (before the rename)."""
    import subprocess
    import sys
    import time

    code = ("import os, time, sys\nfrom pathlib import Path\nfrom evalkit.store import atomic_write_bytes\n"
            "os.replace = lambda *a: time.sleep(600)\natomic_write_bytes(Path(sys.argv[1]), b'x' * 1000)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)])
    while proc.poll() is None:  # the event: its temporary file exists (the process then sleeps for 600 s)
        if list(target.parent.glob(".*.tmp")):
            return proc
        time.sleep(0.05)
    raise AssertionError(f"the writer exited ({proc.returncode}) before it wrote its temporary file")


def test_a_resume_removes_the_temporary_files_of_killed_writers_only(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    live = _stalled_writer(tmp_path / "samples" / "c" / "seed=0" / "part-a.parquet")
    dead = _stalled_writer(tmp_path / "samples" / "c" / "seed=1" / "part-b.parquet")
    try:
        dead.kill()
        dead.wait()
        foreign = tmp_path / "samples" / "c" / "seed=2" / ".part-c.parquet.~other-node~1~abc.tmp"
        foreign.parent.mkdir(parents=True)
        foreign.write_bytes(b"y")  # another node's writer: its liveness cannot be seen from here
        assert store.remove_orphans() == 1
        left = sorted(p.parent.name for p in tmp_path.rglob(".*.tmp"))
        assert left == ["seed=0", "seed=2"]  # the live writer's file and the other node's stay
    finally:
        live.kill()
        live.wait()
    assert store.remove_orphans() == 1 and [p.parent.name for p in tmp_path.rglob(".*.tmp")] == ["seed=2"]


def test_a_journal_line_torn_by_a_kill_is_skipped_and_never_swallows_the_next(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.record_decision({"round": 1, "seeds": [0, 1], "stop": False})
    with open(store.journal_dir / "adaptive.jsonl", "a") as f:
        f.write('{"event": "decision", "round": 2, "se')  # the writer was killed mid-append
    store.record_decision({"round": 2, "seeds": [0, 1, 2, 3], "stop": True})
    assert [(d["round"], d["stop"]) for d in store.decisions()] == [(1, False), (2, True)]
    assert len((store.journal_dir / "adaptive.jsonl").read_text().splitlines()) == 3
