"""Read-only, column-projected reads of a results directory's parts, for readers that must not hold
every row (or any text) in memory: the parts of some cells and seeds found from the layout alone
(no file opened), one table of some columns with a row filter pushed down to Parquet, or record
batches streamed with a bounded size.

Every function takes the columns it reads: a caller that asks for no text column reads none (the
viewer's index, its problem pages), and one that does reads them a batch at a time (search, export).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from evalkit.store.row import ROW_SCHEMA
from evalkit.store.texts import STORED_SCHEMA, contains, resolve, root_of, wanted

_GLOB = "part-*.parquet"
COMPACT = "part-compact-"  # a cell's compacted part: samples/<cell>/part-compact-<digest>.parquet
REPLACES = b"evalkit.replaces"  # its metadata: the parts it replaces (paths relative to the cell's directory)


def replaced(compacted: Path) -> set[str]:
    """The parts (relative to its cell's directory) that a compacted part replaces."""
    meta = pq.read_schema(compacted).metadata or {}
    return set(json.loads(meta.get(REPLACES, b"[]")))


def live_parts(root: Path, cells: Iterable[str] | None = None, seeds: Iterable[int] | None = None) -> list[Path]:
    """The parts that hold the rows of ``cells`` x ``seeds`` (every one where None), found from the layout:
    a cell's compacted part (all its seeds; filter rows by seed when ``seeds`` is given) and the parts in
    ``samples/<cell_id>/seed=<s>/``, so a few seeds of a large sweep list only their own directories. A part
    that a compacted part replaces is not listed (a compaction killed before it deleted the part); that
    is read from the compacted part's footer only where both are present."""
    base = root / "samples"
    if cells is None:
        dirs = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    else:
        dirs = [base / c for c in sorted(set(cells))]
    out: list[Path] = []
    for d in dirs:
        if seeds is None:
            parts = sorted(d.glob(f"seed=*/{_GLOB}"))
        else:
            parts = sorted(p for s in sorted({int(s) for s in seeds}) for p in (d / f"seed={s}").glob(_GLOB))
        compacted = sorted(d.glob(f"{COMPACT}*.parquet"))
        if compacted and (parts or len(compacted) > 1):
            gone = set().union(*(replaced(c) for c in compacted))
            compacted = [c for c in compacted if c.name not in gone]
            parts = [p for p in parts if p.relative_to(d).as_posix() not in gone]
        out += compacted + parts
    return out


def part_files(root: Path, cells: Iterable[str] | None = None, seeds: Iterable[int] | None = None) -> list[Path]:
    """The parts that may hold rows of ``cells`` x ``seeds`` (:func:`live_parts`). A compacted part holds
    every seed of its cell: a reader of some seeds filters its rows by seed (:func:`equal` ``seed=``)."""
    return live_parts(root, cells, seeds)


def dataset(files: Sequence[Path | str]) -> ds.Dataset:
    """The parts as one pyarrow dataset of the stored schema (rows and text references; no file is opened
    until it is read). A dataset keeps the footer of every file it has read: for many parts, read them with
    :func:`read_table` / :func:`scan_batches`, which hold one part's at a time."""
    return ds.dataset([str(f) for f in files], schema=STORED_SCHEMA, format="parquet")


def _read_one(f: Path | str, columns: list[str], where: ds.Expression | None) -> pa.Table:
    names = [*columns, *wanted(columns)]
    if where is None:  # the plain reader: about half the time of a one-file dataset
        pf = pq.ParquetFile(f, pre_buffer=False)
        have = set(pf.schema_arrow.names)
        table = pf.read(columns=[n for n in names if n in have], use_threads=False)
        for n in columns:
            if n not in have:
                table = table.append_column(ROW_SCHEMA.field(n), pa.nulls(len(table), ROW_SCHEMA.field(n).type))
    else:
        table = pq.read_table(f, columns=names, filters=where, schema=STORED_SCHEMA, use_threads=False)
    return resolve(table, root_of(f)).select(columns)


def read_table(files: Sequence[Path | str], columns: Sequence[str], where: ds.Expression | None = None,
               threads: int = 4) -> pa.Table:
    """``columns`` of the rows of ``files`` that satisfy ``where`` (Parquet reads only those columns and
    skips row groups the filter rules out), part by part on ``threads`` threads; a text stored by
    reference is rebuilt (only when a text column is asked for)."""
    cols = list(columns)
    if not files:
        return ROW_SCHEMA.empty_table().select(cols)
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(files)))) as pool:
        tables = list(pool.map(lambda f: _read_one(f, cols, where), files))
    return pa.concat_tables(tables)


def scan_batches(files: Sequence[Path | str], columns: Sequence[str], where: ds.Expression | None = None,
                 batch_rows: int = 1024) -> Iterator[pa.RecordBatch]:
    """``columns`` of the rows satisfying ``where``, a record batch of at most ``batch_rows`` rows at a
    time, part by part in order (memory bounded by a batch and one part's footer, not by the sweep)."""
    cols = list(columns)
    for f in files:
        scanner = dataset([f]).scanner(columns=[*cols, *wanted(cols)], filter=where, batch_size=batch_rows,
                                       batch_readahead=2)
        root = root_of(f)
        for batch in scanner.to_batches():
            if batch.num_rows:
                yield resolve(batch, root).select(cols)


def find(files: Sequence[Path | str], needle: str, texts: Sequence[str], keys: Sequence[str],
         where: ds.Expression | None = None) -> Iterator[pa.Table]:
    """The ``keys`` columns of the rows (satisfying ``where``) whose columns ``texts`` hold ``needle``, a
    table per part with a hit, part by part in order. A text stored by reference is searched in
    its text file, each distinct text once (:func:`~evalkit.store.texts.contains`): a trajectory that 30
    cells share is searched once, and no row's text is rebuilt."""
    cols = [*dict.fromkeys([*keys, *texts]), *wanted(texts)]
    for f in files:  # a part at a time, whole: its key, tail and reference columns are small
        t = pq.read_table(f, columns=cols, filters=where, schema=STORED_SCHEMA, use_threads=False)
        if not t.num_rows:
            continue
        hit = np.zeros(t.num_rows, dtype=bool)
        for c in texts:
            hit |= contains(t, c, needle, root_of(f))
        if hit.any():
            yield t.select(list(keys)).filter(pa.array(hit))


def equal(**values: object) -> ds.Expression | None:
    """The filter ``column == value`` for every keyword (a list or tuple value: membership); None if none."""
    cond = None
    for k, v in values.items():
        c = ds.field(k).isin(list(v)) if isinstance(v, list | tuple) else ds.field(k) == v
        cond = c if cond is None else cond & c
    return cond
