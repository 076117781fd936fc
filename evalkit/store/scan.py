"""Read-only, column-projected reads of a results directory's parts, for readers that must not hold
every row (or any text) in memory: the parts of some cells and seeds found from the layout alone
(no file opened), one table of some columns with a row filter pushed down to Parquet, or record
batches streamed with a bounded size.

Every function takes the columns it reads: a caller that asks for no text column reads none (the
viewer's index, its problem pages), and one that does reads them a batch at a time (search, export).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

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
    """The parts as one pyarrow dataset of the stored row schema (no file is opened until it is read)."""
    return ds.dataset([str(f) for f in files], schema=ROW_SCHEMA, format="parquet")


def read_table(files: Sequence[Path | str], columns: Sequence[str], where: ds.Expression | None = None) -> pa.Table:
    """``columns`` of the rows of ``files`` that satisfy ``where`` (Parquet reads only those columns)."""
    if not files:
        return ROW_SCHEMA.empty_table().select(list(columns))
    return dataset(files).to_table(columns=list(columns), filter=where)


def scan_batches(files: Sequence[Path | str], columns: Sequence[str], where: ds.Expression | None = None,
                 batch_rows: int = 256) -> Iterator[pa.RecordBatch]:
    """``columns`` of the rows satisfying ``where``, a record batch of at most ``batch_rows`` rows at a
    time, file by file in order (memory bounded by a batch, not by the sweep)."""
    if not files:
        return
    scanner = dataset(files).scanner(columns=list(columns), filter=where, batch_size=batch_rows,
                                     batch_readahead=1, fragment_readahead=2)
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
