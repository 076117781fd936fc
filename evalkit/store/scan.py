"""Read-only, column-projected reads of a results directory's parts, for readers that must not hold
every row (or any text) in memory: the parts of some cells and seeds found from the layout alone
(no file opened), one table of some columns with a row filter pushed down to Parquet, or record
batches streamed with a bounded size.

Every function takes the columns it reads: a caller that asks for no text column reads none (the
viewer's index, its problem pages), and one that does reads them a batch at a time (search, export).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from evalkit.store.row import ROW_SCHEMA

_GLOB = "part-*.parquet"


def part_files(root: Path, cells: Iterable[str] | None = None, seeds: Iterable[int] | None = None) -> list[Path]:
    """The parts of ``cells`` x ``seeds`` (every one where None), sorted; found from the directory layout
    ``samples/<cell_id>/seed=<s>/``, so a few seeds of a large sweep list only their own directories."""
    base = root / "samples"
    cell_dirs = ["*"] if cells is None else sorted(set(cells))
    seed_dirs = ["seed=*"] if seeds is None else [f"seed={int(s)}" for s in sorted(set(seeds))]
    out: set[Path] = set()
    for c in cell_dirs:
        for s in seed_dirs:
            out.update(base.glob(f"{c}/{s}/{_GLOB}"))
    return sorted(out)


def dataset(files: Sequence[Path | str]) -> ds.Dataset:
    """The parts as one pyarrow dataset of the stored row schema (no file is opened until it is read).
    A dataset keeps the footer of every file it has read (statistics of the text columns included, about
    0.1 MB a part): for many parts, read them with :func:`read_table` / :func:`scan_batches`, which hold
    one part's at a time."""
    return ds.dataset([str(f) for f in files], schema=ROW_SCHEMA, format="parquet")


def _read_one(f: Path | str, columns: list[str], where: ds.Expression | None) -> pa.Table:
    if where is None:  # the plain reader: about half the time of a one-file dataset
        return pq.ParquetFile(f, pre_buffer=False).read(columns=columns, use_threads=False)
    return pq.read_table(f, columns=columns, filters=where, schema=ROW_SCHEMA, use_threads=False)


def read_table(files: Sequence[Path | str], columns: Sequence[str], where: ds.Expression | None = None,
               threads: int = 4) -> pa.Table:
    """``columns`` of the rows of ``files`` that satisfy ``where`` (Parquet reads only those columns and
    skips row groups the filter rules out), part by part on ``threads`` threads."""
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
    for f in files:
        scanner = dataset([f]).scanner(columns=list(columns), filter=where, batch_size=batch_rows,
                                       batch_readahead=2)
        for batch in scanner.to_batches():
            if batch.num_rows:
                yield batch


def equal(**values: object) -> ds.Expression | None:
    """The filter ``column == value`` for every keyword (a list or tuple value: membership); None if none."""
    cond = None
    for k, v in values.items():
        c = ds.field(k).isin(list(v)) if isinstance(v, list | tuple) else ds.field(k) == v
        cond = c if cond is None else cond & c
    return cond
