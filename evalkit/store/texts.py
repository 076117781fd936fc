"""Texts stored once: the long text columns of a batch's rows as references into one text file.

A trajectory tree serves every cap and ignore count of a family: on the s1 grid its 30 cells' thinking
texts are prefixes of one trajectory, and each response is that prefix and a short answer. Stored per
row, a 16k-token trajectory is written 60 times. Here a batch's texts of one problem are reduced to a few
*blobs* (the longest texts; every other text that shares a long prefix with one of them refers to it):
a row stores, per shared column, the blob's number, the length of the prefix it shares and its own tail,
so ``text == blob[:length] + tail`` exactly (checked as it is encoded). The blobs are written to
``texts/seed=<s>/<batch>-<digest>.parquet`` (named by their content, written before the rows that refer
to them), and the row's ``text_file`` names that file. A text shorter than :data:`MIN_SHARED` characters,
or one that shares no long prefix, stays in its column (as in every directory written before).

Readers see the columns as they always were: :func:`resolve` puts the texts back into a table read
with the reference columns (:data:`STORED_SCHEMA`), and a reader that asks for no text column reads no
reference either.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from threading import Lock
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evalkit.store.row import ROW_SCHEMA

SHARED = ("response", "thinking_text")  # the columns stored by reference (each row's copy of a trajectory)
TEXT_FILE = "text_file"  # the text file of a row's references, relative to the results directory
MIN_SHARED = 256  # characters: a shorter text, or a shorter common prefix, stays in the row
# A row's tail starts this many characters before the end of the prefix it shares with its blob, so a
# searched text of up to OVERLAP + 1 characters that straddles the prefix's end lies within the shared
# prefix or within the tail: a search reads the blobs and the tails, never a row's text rebuilt.
OVERLAP = 64


def ref_columns(col: str) -> tuple[str, str, str]:
    """The reference columns of a shared text column: the blob's number, the prefix length, the tail."""
    return f"{col}_blob", f"{col}_len", f"{col}_tail"


REF_FIELDS = [pa.field(TEXT_FILE, pa.string())] + [
    f for c in SHARED for f in (pa.field(ref_columns(c)[0], pa.int32()), pa.field(ref_columns(c)[1], pa.int64()),
                                pa.field(ref_columns(c)[2], pa.string()))]
REF_NAMES = tuple(f.name for f in REF_FIELDS)
STORED_SCHEMA = pa.schema([*ROW_SCHEMA, *REF_FIELDS])  # a part as written: the row and its references
TEXTS_SCHEMA = pa.schema([("problem_id", pa.string()), ("text", pa.large_string())])


def _common(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (slice comparisons: C speed)."""
    if b.startswith(a):
        return len(a)
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # a[:lo] == b[:lo] and a[:hi+1] != b[:hi+1] narrowed to one
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class Encoded:
    """A batch's blobs and, per row, its references (``refs[i][col]``: (blob, length, tail) or None)."""

    def __init__(self) -> None:
        self.blobs: list[tuple[str, str]] = []  # (problem_id, text)
        self.refs: list[dict[str, tuple[int, int, str] | None]] = []

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for pid, text in self.blobs:
            h.update(f"{len(pid)}:{pid}{len(text)}:".encode())
            h.update(text.encode())
        return h.hexdigest()[:16]


def encode(rows: Sequence[dict[str, str]], problems: Sequence[str]) -> Encoded:
    """References for the shared columns of ``rows`` (each a mapping with the :data:`SHARED` columns), the
    blobs chosen among the texts of each problem (``problems[i]``: row i's): longest first, a text
    referring to the blob with which it shares the longest prefix when that is at least
    :data:`MIN_SHARED` characters, else becoming a blob itself."""
    out = Encoded()
    by_problem: dict[str, list[int]] = {}
    for i, pid in enumerate(problems):
        by_problem.setdefault(pid, []).append(i)
    out.refs = [dict.fromkeys(SHARED) for _ in rows]
    for pid, idx in by_problem.items():
        texts = sorted({rows[i][c] for i in idx for c in SHARED if len(rows[i][c] or "") >= MIN_SHARED},
                       key=lambda t: (-len(t), t))
        mine: list[int] = []  # this problem's blobs
        ref: dict[str, tuple[int, int]] = {}
        for t in texts:
            best, at = 0, -1
            for b in mine:
                blob = out.blobs[b][1]
                if blob[:MIN_SHARED] != t[:MIN_SHARED]:
                    continue
                n = _common(t, blob)
                if n > best:
                    best, at = n, b
            if best < MIN_SHARED:
                out.blobs.append((pid, t))
                mine.append(len(out.blobs) - 1)
                best, at = len(t), len(out.blobs) - 1
            ref[t] = (at, best - OVERLAP)  # the tail repeats the shared prefix's last OVERLAP characters
        for i in idx:
            for c in SHARED:
                t = rows[i][c]
                if t in ref:
                    b, n = ref[t]
                    if out.blobs[b][1][:n] + t[n:] != t:  # by construction; checked, as the contract is exact
                        raise AssertionError(f"text reference of problem {pid} does not rebuild its text")
                    out.refs[i][c] = (b, n, t[n:])
    return out


def texts_path(root: Path, seed: int, batch: str, digest: str) -> str:
    """The text file of a batch, relative to the results directory ``root``."""
    return f"texts/seed={int(seed)}/{batch}-{digest}.parquet"


def blobs_table(enc: Encoded) -> pa.Table:
    return pa.table({"problem_id": [p for p, _ in enc.blobs], "text": [t for _, t in enc.blobs]}, schema=TEXTS_SCHEMA)


def ref_arrays(enc: Encoded, rows: Sequence[int], rel: str | None) -> dict[str, pa.Array]:
    """The reference columns of ``rows`` (indices into ``enc.refs``); ``rel`` the text file's name."""
    cols: dict[str, list[Any]] = {n: [] for n in REF_NAMES}
    for i in rows:
        refs = enc.refs[i]
        cols[TEXT_FILE].append(rel if any(refs.values()) else None)
        for c in SHARED:
            r = refs[c]
            for name, v in zip(ref_columns(c), r or (None, None, None), strict=True):
                cols[name].append(v)
    return {f.name: pa.array(cols[f.name], type=f.type) for f in REF_FIELDS}


# ---- reading


class _Blobs:
    """The blobs of recently read text files (a text file never changes: its name is its content's digest)."""

    def __init__(self, size: int = 32) -> None:
        self.size, self.files, self.lock = size, OrderedDict[str, list[str]](), Lock()

    def get(self, path: Path) -> list[str]:
        key = str(path)
        with self.lock:
            if key in self.files:
                self.files.move_to_end(key)
                return self.files[key]
        try:
            texts = pq.ParquetFile(path).read(columns=["text"]).column(0).to_pylist()
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: the text file that stored rows refer to is missing") from None
        with self.lock:
            self.files[key] = texts
            while len(self.files) > self.size:
                self.files.popitem(last=False)
        return cast("list[str]", texts)


BLOBS = _Blobs()


def root_of(part: Path | str) -> Path:
    """The results directory of a part: ``<root>/samples/<cell>/seed=<s>/part-*.parquet``, or a cell's
    compacted part ``<root>/samples/<cell>/part-compact-*.parquet``."""
    p = Path(part)
    return p.parents[3] if p.parent.name.startswith("seed=") else p.parents[2]


def wanted(columns: Sequence[str]) -> list[str]:
    """The reference columns to read beside ``columns``: those of its shared text columns."""
    shared = [c for c in SHARED if c in columns]
    return [TEXT_FILE, *[n for c in shared for n in ref_columns(c)]] if shared else []


def resolve(table: pa.Table | pa.RecordBatch, root: Path) -> pa.Table | pa.RecordBatch:
    """``table`` with its shared text columns rebuilt from their references, and the reference columns
    dropped (a table with no reference column is returned as it is, minus nothing)."""
    names = list(table.schema.names)
    if TEXT_FILE not in names:
        return table
    files = table.column(TEXT_FILE)
    keep = [n for n in names if n not in REF_NAMES]
    if files.null_count == len(files):
        return table.select(keep)
    by_file: dict[str, list[int]] = {}  # rows by text file: each file read once, however the rows are ordered
    for i, f in enumerate(files.to_pylist()):
        if f is not None:
            by_file.setdefault(f, []).append(i)
    cols = {n: table.column(n) for n in names}
    shared = [c for c in SHARED if c in names]
    refs = {c: [cols[n].to_pylist() for n in ref_columns(c)] for c in shared}
    vals = {c: cols[c].to_pylist() for c in shared}
    for f, rows in by_file.items():
        blobs = BLOBS.get(root / f)
        for c in shared:
            b_col, n_col, t_col = refs[c]
            for i in rows:
                if b_col[i] is not None:
                    vals[c][i] = blobs[b_col[i]][: n_col[i]] + t_col[i]
    for c in shared:
        cols[c] = pa.array(vals[c], type=ROW_SCHEMA.field(c).type)
    arrays = [cols[n] for n in keep]
    if isinstance(table, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(arrays, names=keep)
    return pa.Table.from_arrays(arrays, names=keep)


class _First:
    """Where a searched text first occurs in each blob of a text file (-1: nowhere), for the files of the
    last few searched texts (a search reads each text file once: a blob's texts are matched in Arrow, and
    only the blobs that hold the text are searched in Python)."""

    def __init__(self, needles: int = 4) -> None:
        self.needles, self.found, self.lock = needles, OrderedDict[str, dict[str, np.ndarray]](), Lock()

    def get(self, path: str, needle: str) -> np.ndarray:
        with self.lock:
            files = self.found.setdefault(needle, {})
            self.found.move_to_end(needle)
            while len(self.found) > self.needles:
                self.found.popitem(last=False)
            if path in files:
                return files[path]
        texts = pq.ParquetFile(path).read(columns=["text"]).column(0)
        first = np.full(len(texts), -1, dtype=np.int64)
        for i in np.flatnonzero(pc.match_substring(texts, needle).to_numpy(zero_copy_only=False)):
            first[i] = texts[int(i)].as_py().find(needle)
        with self.lock:
            files[path] = first
        return first


FIRST = _First()


def contains(table: pa.Table | pa.RecordBatch, col: str, needle: str, root: Path) -> np.ndarray:
    """Which rows' ``col`` contains ``needle``, from a table read with the reference columns
    (:func:`wanted`) and not resolved; a text stored by reference is searched in its text file, each
    distinct text once, and in its tail, never rebuilt. ``blob[:length] + tail`` holds ``needle`` where the
    blob's first occurrence ends within the prefix the row shares with it (``length + OVERLAP``), or in the
    tail (which starts ``OVERLAP`` characters before that prefix's end, so it holds any occurrence of a
    text of up to ``OVERLAP + 1`` characters across it); a longer text is checked across the prefix's end."""
    hit = pc.match_substring(pc.fill_null(table.column(col), ""), needle).to_numpy(zero_copy_only=False).copy()
    if col not in SHARED or TEXT_FILE not in table.schema.names or not needle:
        return cast("np.ndarray", hit)
    b_name, n_name, t_name = ref_columns(col)
    files = table.column(TEXT_FILE)
    has = np.asarray(pc.and_(files.is_valid(), table.column(b_name).is_valid()).to_numpy(zero_copy_only=False))
    if not has.any():
        return cast("np.ndarray", hit)
    hit |= has & pc.fill_null(pc.match_substring(table.column(t_name), needle), False).to_numpy(zero_copy_only=False)
    blob = pc.fill_null(table.column(b_name), 0).to_numpy(zero_copy_only=False)
    length = pc.fill_null(table.column(n_name), 0).to_numpy(zero_copy_only=False)
    # each row's blob's first occurrence, gathered at once: the text files as a dictionary, their blobs'
    # first occurrences laid end to end
    codes = pc.dictionary_encode(pc.fill_null(files, ""))
    codes = codes.combine_chunks() if isinstance(codes, pa.ChunkedArray) else codes
    base = f"{root}/"
    firsts = [FIRST.get(base + f, needle) if f else np.zeros(1, dtype=np.int64) for f in codes.dictionary.to_pylist()]
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in firsts])[:-1]]).astype(np.int64)
    index = offsets[codes.indices.to_numpy(zero_copy_only=False)] + np.where(has, blob, 0)
    first = np.where(has, np.concatenate(firsts)[index], -1)
    names = codes.dictionary.to_pylist()
    n = len(needle)
    hit |= has & (first >= 0) & (first <= length + OVERLAP - n)
    if n > OVERLAP + 1:  # a long text across the prefix's end: the prefix's last characters and the tail
        tails = table.column(t_name).to_pylist()
        file_of = codes.indices.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(has & ~hit):
            f, b, end = names[file_of[i]], int(blob[i]), int(length[i])
            hit[i] = needle in BLOBS.get(root / f)[b][max(0, end - n + 1): end] + (tails[i] or "")
    return cast("np.ndarray", hit)
