"""Results on disk: ``results/<sweep>/`` with Parquet parts per (cell, seed, batch), a completion
journal, failure records, a cell index and a manifest.

Every file is written atomically (temporary file, fsync, rename), so a killed sweep never leaves a
half-written result. The parts on disk are the truth about what is done: a resumed sweep regenerates
exactly the (cell, seed, problem) samples that no part holds, so nothing is lost or duplicated.
The journal (one JSON line per written part, per writer process) is the log of when and by whom."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION = 2

ROW_SCHEMA = pa.schema(
    [
        ("sweep", pa.string()),
        ("cell_id", pa.string()),
        ("task", pa.string()),
        ("model", pa.string()),
        ("think_format", pa.string()),
        ("method", pa.string()),
        ("problem_id", pa.string()),
        ("seed", pa.int64()),
        ("sample", pa.int64()),
        ("n_samples", pa.int64()),
        ("cap", pa.int64()),
        ("n_ignore", pa.int64()),
        ("control", pa.string()),
        ("min_tokens", pa.int64()),
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("prompt_tokens", pa.int64()),
        ("thinking_tokens", pa.int64()),
        ("control_tokens", pa.int64()),
        ("forced_tokens", pa.int64()),
        ("answer_tokens", pa.int64()),
        ("n_ignored", pa.int64()),
        ("n_suppressed", pa.int64()),  # end-of-thinking tokens masked by min_tokens (null: engine cannot tell)
        ("forced_end", pa.bool_()),
        ("thinking_end", pa.string()),
        ("answer_finish", pa.string()),
        ("oov_ids", pa.int64()),
        ("rounds", pa.int64()),
        ("attempts", pa.int64()),  # rejection sampling: samples drawn until one fit (1 otherwise)
        ("wall_s", pa.float64()),
        ("flops_naive", pa.float64()),
        ("flops_prefix_cached", pa.float64()),
        ("flops_kv_read", pa.float64()),
        ("flops_prompt", pa.float64()),  # prefill of the whole prompt (for re-accounting shared prompts)
        ("gold", pa.string()),
        ("answer_type", pa.string()),
        ("response", pa.string()),
        ("thinking_text", pa.string()),
        ("answer_text", pa.string()),
        ("extracted", pa.string()),
        ("correct", pa.bool_()),
        ("answer_class", pa.int64()),
        ("verifier_score", pa.float64()),  # parallel cells with a verifier: best-of-n  # equivalence class among the samples of one (problem, seed)
        ("grade_reason", pa.string()),
        ("grader_version", pa.string()),
        ("provenance", pa.string()),
    ]
)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
    def __init__(self, root: str | Path):
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

    def write_part(self, cell_id: str, seed: int, part: str, rows: list[dict[str, Any]], writer: str = "local") -> Path:
        table = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        path = self.part_path(cell_id, seed, part)
        atomic_write_bytes(path, sink.getvalue().to_pybytes())
        self._journal(writer, {"event": "part", "cell_id": cell_id, "seed": seed, "part": part, "rows": len(rows),
                               "problems": sorted({r["problem_id"] for r in rows})})
        return path

    def _journal(self, writer: str, entry: dict[str, Any]) -> None:
        from datetime import UTC, datetime

        self.journal_dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": datetime.now(UTC).isoformat(timespec="seconds"), **entry}, sort_keys=True)
        with open(self.journal_dir / f"{writer}.jsonl", "a") as f:  # one file per writer: no interleaving
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def completed(self) -> set[tuple[str, int, str]]:
        """(cell_id, seed, problem_id) of every sample unit held by a part on disk."""
        done: set[tuple[str, int, str]] = set()
        for f in self.shard_files():
            t = pq.read_table(f, columns=["cell_id", "seed", "problem_id"])
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
        return json.loads(self.manifest_path.read_text())

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        manifest = dict(manifest, schema_version=SCHEMA_VERSION)
        atomic_write_json(self.manifest_path, manifest)

    def read_cells(self) -> dict[str, Any]:
        if not self.cells_path.exists():
            return {}
        return json.loads(self.cells_path.read_text())

    def write_cells(self, cells: dict[str, Any]) -> None:
        atomic_write_json(self.cells_path, cells)

    def shard_files(self) -> list[Path]:
        return sorted((self.root / "samples").glob("*/seed=*/part-*.parquet"))

    def read_rows(self, cell_ids: Iterable[str] | None = None) -> pd.DataFrame:
        files = self.shard_files()
        if cell_ids is not None:
            keep = set(cell_ids)
            files = [f for f in files if f.parent.parent.name in keep]
        if not files:
            return pd.DataFrame({f.name: pd.Series(dtype=f.type.to_pandas_dtype()) for f in ROW_SCHEMA})
        df = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
        return df.sort_values(["cell_id", "seed", "problem_id", "sample"], kind="stable", ignore_index=True)
