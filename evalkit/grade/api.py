"""The grader's API: one item in-process, or many in sandboxed worker processes."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.grade.config import GraderConfig
from evalkit.grade.mathverify import grade_response
from evalkit.grade.sandbox import Item, SandboxGrader
from evalkit.records import Grade

TASK_TYPES = {"aime24": "integer", "aime25": "integer", "math500": "math", "gpqa": "mc", "gpqa_diamond": "mc",
              "math": "math", "integer": "integer", "mc": "mc"}


def grade_item_inprocess(item: Item, cfg: GraderConfig) -> Grade:
    if cfg.reference:
        from evalkit.grade.baseline import plain_verdict
        from evalkit.grade.equivalence import GRADER_VERSION

        text = item.response
        if item.think_end:
            pos = text.rfind(item.think_end)
            if pos < 0 and cfg.unclosed_thinking == "no_answer":
                return Grade(False, None, "unclosed_thinking", GRADER_VERSION)
            text = text if pos < 0 else text[pos + len(item.think_end):]
        ok = plain_verdict(text, item.gold, item.answer_type)
        return Grade(ok, None, "equivalent" if ok else "not_equivalent", f"reference+{GRADER_VERSION}")
    return grade_response(item.response, item.gold, item.answer_type, think_end=item.think_end,
                          unclosed_thinking=cfg.unclosed_thinking, cfg=cfg)


def grade_many(items: Sequence[Item], cfg: GraderConfig | None = None, *, workers: int = 1,
               timeout_s: float | None = None, max_memory_mb: int | None = 2048) -> list[Grade]:
    """Grade items in ``workers`` sandboxed processes (hard per-item timeout, memory cap)."""
    with SandboxGrader(cfg, workers=workers, timeout_s=timeout_s, max_memory_mb=max_memory_mb) as sb:
        return sb.grade(items)
