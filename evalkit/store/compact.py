"""Compaction: a cell's many small parts (one per seed and batch) rewritten as one file.

A sweep writes a part per (cell, seed, batch): 30 cells x 1,000 seeds is 30,000 files, and every reader of
the whole sweep pays for opening each file, whatever it holds (benchmarks/scale.py measures it).
:func:`compact` rewrites each cell's parts as ``samples/<cell>/part-compact-<digest>.parquet``:

- the rows in the order the parts listed them (a reader sees the same rows in the same order), in row
  groups of :data:`ROW_GROUP` rows with min/max statistics on the small columns, so a reader of one seed or
  one problem (the viewer's sample and problem pages) skips the row groups that cannot hold it;
- texts stored by reference keep their references (the text files are not touched);
- the file's footer lists the parts it replaces (:data:`~evalkit.store.scan.REPLACES`).

Crash safety: the compacted file is written to a temporary file and renamed, then the parts it replaces
are deleted. Killed before the rename, nothing changed (the temporary file is an orphan the next pass
removes); killed after it, the readers skip the replaced parts that are still there
(:func:`~evalkit.store.scan.live_parts`), and the next compaction finishes the deletion. Parts written
after a compaction (a resumed or extended sweep) are read beside it, and the next compaction folds them
in. Compactions of one directory are serialised by a lock file (``samples/.compact.lock``, ``flock``:
processes of one host).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.store import _HOST, STATISTICS, ResultStore, _fsync_dir
from evalkit.store.row import ROW_SCHEMA
from evalkit.store.scan import COMPACT, REPLACES, live_parts, replaced
from evalkit.store.texts import REF_NAMES, STORED_SCHEMA

ROW_GROUP = 1024  # rows per row group of a compacted part (a sample page reads one)
AUTO_PARTS = 32  # a sweep that ends compacts the cells with at least this many parts


@dataclass
class Compacted:
    cells: int = 0  # cells compacted
    parts: int = 0  # parts replaced
    rows: int = 0


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns in its order (a column it lacks as nulls)."""
    cols = [table.column(f.name) if f.name in table.schema.names else pa.nulls(len(table), f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def _delete_replaced(cell_dir: Path) -> None:
    """Delete what a compacted part of the cell replaces and a killed compaction left behind."""
    compacted = sorted(cell_dir.glob(f"{COMPACT}*.parquet"))
    if not compacted:
        return
    gone = set().union(*(replaced(c) for c in compacted))
    for rel in sorted(gone):
        (cell_dir / rel).unlink(missing_ok=True)
    _fsync_dir(cell_dir)


def compact_cell(cell_dir: Path, min_parts: int = 2) -> tuple[int, int]:
    """Rewrite the live parts of one cell as one compacted part (when there are at least ``min_parts``);
    returns (parts replaced, rows)."""
    root = cell_dir.parents[1]
    _delete_replaced(cell_dir)
    parts = live_parts(root, cells=[cell_dir.name])
    if len(parts) < max(2, min_parts):
        return 0, 0
    names = [p.relative_to(cell_dir).as_posix() for p in parts]
    refs = any(set(REF_NAMES) & set(pq.read_schema(p).names) for p in parts)
    schema = STORED_SCHEMA if refs else ROW_SCHEMA
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    out = cell_dir / f"{COMPACT}{digest}.parquet"
    schema = schema.with_metadata({REPLACES: json.dumps(names).encode()})
    fd, tmp = tempfile.mkstemp(dir=cell_dir, prefix=f".{out.name}.~{_HOST}~{os.getpid()}~", suffix=".tmp")
    os.close(fd)
    rows = 0
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd",
                              write_statistics=[n for n in STATISTICS if n in schema.names]) as w:
            pending: list[pa.Table] = []
            for p in parts:
                t = _conform(pq.read_table(p), schema)
                pending.append(t)
                rows += len(t)
                if sum(len(x) for x in pending) >= ROW_GROUP:
                    w.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
                    pending = []
            if pending:
                w.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
        _fsync_dir(cell_dir)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for p in parts:
        if p != out:
            p.unlink(missing_ok=True)
            _fsync_dir(p.parent)
            if p.parent != cell_dir:  # an empty seed directory goes (listing 30,000 of them costs a reader
                # time); one not empty (a part written since) stays; a writer creating a part in it at this
                # moment makes it again (atomic_write_bytes)
                with contextlib.suppress(OSError):
                    p.parent.rmdir()
    return len(parts), rows


def compact(store: ResultStore, min_parts: int = 2, say: Callable[[str], None] | None = None) -> Compacted:
    """Compact every cell of ``store`` with at least ``min_parts`` live parts (see the module's doc)."""
    done = Compacted()
    base = store.root / "samples"
    if not base.is_dir():
        return done
    with open(base / ".compact.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        store.remove_orphans()
        for d in sorted(p for p in base.iterdir() if p.is_dir()):
            n, rows = compact_cell(d, min_parts)
            if n:
                done.cells, done.parts, done.rows = done.cells + 1, done.parts + n, done.rows + rows
        if done.cells:
            store.append_journal("compact", {"event": "compact", "cells": done.cells, "parts": done.parts,
                                             "rows": done.rows})
    if say and done.cells:
        say(f"{store.root}: compacted {done.parts} parts of {done.cells} cells into one file each ({done.rows} rows)")
    return done
