"""Results on disk: ``results/<sweep>/`` with Parquet parts per (cell, seed, batch), a completion
journal, failure records, a cell index and a manifest.

Every file is written atomically (temporary file, fsync, rename), so a killed sweep never leaves a
half-written result; the temporary file of a writer killed before its rename names the writer's host and
pid, and the next pass removes it once that writer is gone. A journal line torn by a kill is skipped.
The parts on disk are the truth about what is done: a resumed sweep regenerates exactly the
(cell, seed, problem) samples that no part holds, so nothing is lost or duplicated.
The journal (one JSON line per written part, per writer process) is the log of when and by whom."""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evalkit.errors import EvalkitError
from evalkit.store.frame import NUMBERS, SAMPLE_KEY, TEXTS, CellColumns, Col, Samples, check_frame
from evalkit.store.row import FIELDS, ROW_SCHEMA, SampleRow, from_table, rows_of, to_table
from evalkit.store.scan import live_parts
from evalkit.store.texts import (
    REF_NAMES,
    SHARED,
    STORED_SCHEMA,
    TEXT_FILE,
    blobs_table,
    encode,
    ref_arrays,
    ref_columns,
    resolve,
    root_of,
    texts_path,
    wanted,
)

SCHEMA_VERSION = 2  # the columns of SampleRow; directories written since schema 2 read unchanged

__all__ = [
    "FIELDS",
    "NUMBERS",
    "ROW_SCHEMA",
    "SAMPLE_KEY",
    "SCHEMA_VERSION",
    "TEXTS",
    "CellColumns",
    "Col",
    "ResultStore",
    "ResultsError",
    "SampleRow",
    "Samples",
    "atomic_write_bytes",
    "atomic_write_json",
    "check_frame",
    "open_results",
    "write_parquet",
]


class ResultsError(EvalkitError, ValueError):
    """A path that is not a usable results directory (or has no samples where some are needed)."""

# column statistics (min/max in the footer) for the small columns only: a text column's are useless to a
# filter and cost about 0.1 MB a part to read back
STATISTICS = [n for n in [*FIELDS, *REF_NAMES] if n not in TEXTS and not n.endswith("_tail") and n != TEXT_FILE]


def write_parquet(path: Path, table: pa.Table, row_group_size: int | None = None) -> None:
    """``table`` as one zstd Parquet file at ``path``, atomically."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=row_group_size,
                   write_statistics=[n for n in STATISTICS if n in table.schema.names])
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _with_refs(table: pa.Table, refs: dict[str, pa.Array]) -> pa.Table:
    """``table`` (of :data:`ROW_SCHEMA`) with the reference columns ``refs`` appended, each shared text that
    a reference rebuilds emptied (null); no reference at all: ``table`` as it is (the layout before texts
    were shared)."""
    if refs[TEXT_FILE].null_count == len(table):
        return table
    for c in SHARED:
        has = refs[ref_columns(c)[0]].is_valid()
        i = table.schema.get_field_index(c)
        table = table.set_column(i, ROW_SCHEMA.field(c), pc.if_else(has, pa.scalar(None, pa.string()), table.column(c)))
    for name in REF_NAMES:
        table = table.append_column(STORED_SCHEMA.field(name), refs[name])
    return table


def _read_columns(path: Path, names: list[str]) -> pa.Table:
    """The named columns of a part, in that order; a column an older part lacks is read as nulls; a text
    stored by reference (:mod:`evalkit.store.texts`) is rebuilt."""
    pf = pq.ParquetFile(path)  # one open for the schema and the columns (read_table opens twice, at twice the cost)
    have = set(pf.schema_arrow.names)
    table = pf.read(columns=[n for n in [*names, *wanted(names)] if n in have])
    table = resolve(table, root_of(path))
    for n in names:
        if n not in have:
            table = table.append_column(ROW_SCHEMA.field(n), pa.nulls(len(table), ROW_SCHEMA.field(n).type))
    return table.select(names)


READ_GROUP = 256  # parts read, then joined into one contiguous table, at a time


def _read_many(files: Sequence[Path], names: list[str]) -> pa.Table:
    """The named columns of many parts as one table, in file order. Parts are joined into contiguous
    tables a group at a time: thousands of small tables held at once cost far more than their data
    (about 77 KB each in buffers and pool slack at 41 columns; 420 against 220 MB for 10^5 rows)."""
    groups, tables = [], []
    for f in files:
        tables.append(_read_columns(f, names))
        if len(tables) == READ_GROUP:
            groups.append(_joined(tables))
            tables = []
            pa.default_memory_pool().release_unused()
    groups += [_joined(tables)] if tables else []
    return pa.concat_tables(groups, promote_options="default")


def _joined(tables: list[pa.Table]) -> pa.Table:
    """Tables as one; made contiguous only where they are small (many small chunks cost more than their
    data; a compacted cell's part is already large, and copying it would hold it twice)."""
    table = pa.concat_tables(tables, promote_options="default")
    return table.combine_chunks() if table.num_rows < 4096 * len(tables) else table


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_HOST = socket.gethostname().replace("~", "-")
_TEMP = re.compile(r"~(?P<host>[^~/]+)~(?P<pid>\d+)~[^/]*\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphan_temps(root: Path) -> list[Path]:
    """Temporary files under ``root`` left by writers that died mid-write (SIGKILL, node loss) on this host:
    the writer's host and pid are in the name, so a live writer's file (another process, another node) is
    never among them."""
    out = []
    for f in root.rglob(".*.tmp") if root.exists() else ():
        m = _TEMP.search(f.name)
        if m and m["host"] == _HOST and not _alive(int(m["pid"])):
            out.append(f)
    return out


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in ``path``'s directory, made if missing (again if a compaction removed it, empty,
    between the two calls)."""
    for attempt in range(3):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.~{_HOST}~{os.getpid()}~", suffix=".tmp")
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


class ResultStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # layout
    def part_path(self, cell_id: str, seed: int, part: str) -> Path:
        return self.root / "samples" / cell_id / f"seed={seed}" / f"part-{part}.parquet"

    @property
    def journal_dir(self) -> Path:
        return self.root / "journal"

    @property
    def failures_dir(self) -> Path:
        return self.root / "failures"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def cells_path(self) -> Path:
        return self.root / "cells.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def remove_orphans(self) -> int:
        """Delete the temporary files of writers that were killed mid-write; returns how many."""
        orphans = orphan_temps(self.root)
        for f in orphans:
            f.unlink(missing_ok=True)
        return len(orphans)

    def write_part(self, cell_id: str, seed: int, part: str, rows: Iterable[SampleRow], writer: str = "local") -> Path:
        """Write one part (atomically) and journal it. Every row must belong to ``cell_id`` and ``seed``."""
        return self.write_batch(seed, part, {cell_id: rows_of(rows)}, writer)[0]

    def write_batch(self, seed: int, part: str, by_cell: dict[str, list[SampleRow]],
                    writer: str = "local") -> list[Path]:
        """Write a batch's parts, one per cell (each atomically, each journaled). The long texts its rows
        share (a trajectory that every cap and ignore count of a tree cuts) are written once, to a text file
        written before the parts that refer to it (:mod:`evalkit.store.texts`): a writer killed at any point
        leaves whole parts, each with its texts, or none."""
        for cid, rows in by_cell.items():
            wrong = [r for r in rows if r.cell_id != cid or r.seed != seed]
            if wrong:
                raise ValueError(f"part {part} of cell {cid} seed {seed}: a row of cell {wrong[0].cell_id} "
                                 f"seed {wrong[0].seed}")
        flat = [r for rows in by_cell.values() for r in rows]
        enc = encode([{c: getattr(r, c) for c in SHARED} for r in flat], [r.problem_id for r in flat])
        rel = texts_path(self.root, seed, part, enc.digest) if enc.blobs else None
        if rel is not None:
            write_parquet(self.root / rel, blobs_table(enc))
        paths, start = [], 0
        for cid, rows in by_cell.items():
            path = self.part_path(cid, seed, part)
            refs = ref_arrays(enc, range(start, start + len(rows)), rel)
            start += len(rows)
            write_parquet(path, _with_refs(to_table(rows), refs))
            self._journal(writer, {"event": "part", "cell_id": cid, "seed": seed, "part": part, "rows": len(rows),
                                   "problems": sorted({r.problem_id for r in rows})})
            paths.append(path)
        return paths

    def read_part(self, path: Path) -> list[SampleRow]:
        return from_table(_read_columns(path, list(FIELDS)))

    def rewrite_part(self, path: Path, rows: Sequence[SampleRow], writer: str = "regrade",
                     event: str = "rewrite") -> None:
        """Replace a part's rows in place (atomically; same samples, new verdicts) and journal it. A text the
        part stored by reference keeps its reference where the row's text is unchanged."""
        raw = pq.read_table(path)
        old = from_table(resolve(raw, root_of(path)).select(list(FIELDS)))
        where = {(r.problem_id, r.sample): i for i, r in enumerate(old)}
        new = {(r.problem_id, r.sample) for r in rows}
        if set(where) != new or len(rows) != len(old):
            raise ValueError(f"{path}: a rewrite must keep the part's samples ({len(old)} before, {len(new)} after)")
        table = to_table(list(rows))
        if TEXT_FILE in raw.schema.names:
            cols = {n: raw.column(n).to_pylist() for n in REF_NAMES}
            refs: dict[str, list[Any]] = {n: [] for n in REF_NAMES}
            for r in rows:
                i = where[(r.problem_id, r.sample)]
                same = all(getattr(r, c) == getattr(old[i], c) for c in SHARED)
                for n in REF_NAMES:
                    refs[n].append(cols[n][i] if same else None)
            table = _with_refs(table, {n: pa.array(v, type=STORED_SCHEMA.field(n).type) for n, v in refs.items()})
        write_parquet(path, table.replace_schema_metadata(raw.schema.metadata))  # a compacted part keeps its own
        seeds = sorted({r.seed for r in rows})
        self._journal(writer, {"event": event, "part": path.stem.removeprefix("part-"),
                               "cell_id": rows[0].cell_id if rows else None,
                               "seed": seeds[0] if len(seeds) == 1 else seeds, "rows": len(rows)})

    def append_journal(self, name: str, entry: dict[str, Any]) -> None:
        """Append one JSON line to ``journal/<name>.jsonl`` (fsynced). A line torn by a writer killed
        mid-append is closed off first, so it never swallows the next entry."""
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
        with open(self.journal_dir / f"{name}.jsonl", "a+b") as f:
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = b"\n" + line
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def read_journal(self, name: str) -> list[dict[str, Any]]:
        """The entries of ``journal/<name>.jsonl``, oldest first; a line torn by a killed writer is skipped
        (what it recorded is recomputed from the parts on disk)."""
        path = self.journal_dir / f"{name}.jsonl"
        if not path.exists():
            return []
        out = []
        for x in path.read_text(errors="replace").splitlines():
            try:
                e = json.loads(x)
            except json.JSONDecodeError:
                continue
            if isinstance(e, dict):
                out.append(e)
        return out

    def _journal(self, writer: str, entry: dict[str, Any]) -> None:
        # one file per writer: no interleaving
        self.append_journal(writer, {"time": datetime.now(UTC).isoformat(timespec="seconds"), **entry})

    def record_decision(self, entry: dict[str, Any]) -> None:
        """Journal an adaptive sweep's decision at a round (``journal/adaptive.jsonl``)."""
        self._journal("adaptive", {"event": "decision", **entry})

    def decisions(self) -> list[dict[str, Any]]:
        """The adaptive decisions journaled so far, oldest first (empty for a fixed-seed sweep)."""
        return [e for e in self.read_journal("adaptive") if e.get("event") == "decision"]

    def completed(self) -> set[tuple[str, int, str]]:
        """(cell_id, seed, problem_id) of every sample unit held by a part on disk."""
        done: set[tuple[str, int, str]] = set()
        for f in self.shard_files():
            t = pq.read_table(f, columns=[Col.CELL_ID, Col.SEED, Col.PROBLEM_ID])
            for c, s, p in zip(*(t.column(i).to_pylist() for i in range(3)), strict=True):
                done.add((c, int(s), p))
        return done

    def record_failure(self, batch_id: str, attempt: int, error: str, writer: str = "local") -> None:
        atomic_write_bytes(self.failures_dir / f"{batch_id}.attempt{attempt}.txt", error.encode())
        self._journal(writer, {"event": "failure", "batch": batch_id, "attempt": attempt,
                               "error": error.strip().splitlines()[-1] if error.strip() else ""})

    def clear_failures(self, batch_id: str) -> None:
        for f in self.failures_dir.glob(f"{batch_id}.attempt*.txt"):
            f.unlink()

    def failures(self) -> list[Path]:
        return sorted(self.failures_dir.glob("*.txt")) if self.failures_dir.exists() else []

    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {}
        return cast("dict[str, Any]", json.loads(self.manifest_path.read_text()))

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        manifest = dict(manifest, schema_version=SCHEMA_VERSION)
        atomic_write_json(self.manifest_path, manifest)

    def read_cells(self) -> dict[str, Any]:
        if not self.cells_path.exists():
            return {}
        return cast("dict[str, Any]", json.loads(self.cells_path.read_text()))

    def write_cells(self, cells: dict[str, Any]) -> None:
        atomic_write_json(self.cells_path, cells)

    def shard_files(self) -> list[Path]:
        """The parts that hold the stored rows (a compacted cell's file, and the parts written since)."""
        return live_parts(self.root)

    def read_records(self, cell_ids: Iterable[str] | None = None) -> list[SampleRow]:
        """Every stored row as a record, in the order of :meth:`read_rows`."""
        rows = [r for f in self._files(cell_ids) for r in self.read_part(f)]
        return sorted(rows, key=lambda r: (r.cell_id, r.seed, r.problem_id, r.sample))

    def _files(self, cell_ids: Iterable[str] | None) -> list[Path]:
        files = self.shard_files()
        if cell_ids is not None:
            keep = set(cell_ids)
            files = [f for f in files if f.parent.parent.name in keep]
        return files

    def read_rows(self, cell_ids: Iterable[str] | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every stored row as a frame (one column per :class:`SampleRow` field, vocabularies checked),
        sorted by cell, seed, problem and sample; read it through :class:`Samples`. ``columns``: only these
        (plus the sample key), read from the files column by column: statistics pass :data:`NUMBERS` and
        never load a text (memory then grows with rows, not with text length)."""
        files = self._files(cell_ids)
        wanted = set(FIELDS if columns is None else [*SAMPLE_KEY, *columns])
        unknown = sorted(wanted - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown columns {unknown}; stored columns: {', '.join(FIELDS)}")
        names = [n for n in FIELDS if n in wanted]  # in the stored order
        if not files:
            return pd.DataFrame({n: pd.Series(dtype=ROW_SCHEMA.field(n).type.to_pandas_dtype()) for n in names})
        table = _read_many(files, names)
        order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in SAMPLE_KEY])  # stable, as before
        # sorted column by column (the unsorted column released as its sorted copy is made), then converted
        # releasing each column's Arrow buffers as it goes and keeping a block per column (no consolidating
        # copy): the rows are held about once, not three times
        cols = []
        for name in names:
            cols.append(table.column(name).take(order))
            table = table.drop_columns([name])
        table = pa.table(dict(zip(names, cols, strict=True)))
        del cols
        df = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
        pa.default_memory_pool().release_unused()
        return check_frame(df)


def open_results(results_dir: str | Path, *, need_rows: bool = False) -> ResultStore:
    """The store of an existing results directory; :class:`ResultsError` naming the path otherwise."""
    store = ResultStore(results_dir)
    if not Path(results_dir).exists():
        raise ResultsError(f"{results_dir}: does not exist")
    if not store.exists():
        raise ResultsError(f"{results_dir}: not a results directory (no manifest.json)")
    if need_rows and not store.shard_files():
        raise ResultsError(f"{results_dir}: no samples yet")
    return store
