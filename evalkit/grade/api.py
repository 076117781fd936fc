"""The grader's API: one item in-process, or many in sandboxed worker processes."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.grade.config import GraderConfig
from evalkit.grade.sandbox import Item, SandboxGrader
from evalkit.records import Grade


def grade_many(items: Sequence[Item], cfg: GraderConfig | None = None, *, workers: int = 1,
               timeout_s: float | None = None, max_memory_mb: int | None = 2048) -> list[Grade]:
    """Grade items in ``workers`` sandboxed processes (hard per-item timeout, memory cap)."""
    with SandboxGrader(cfg, workers=workers, timeout_s=timeout_s, max_memory_mb=max_memory_mb) as sb:
        return sb.grade(items)
