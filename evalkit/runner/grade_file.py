"""Grading a JSONL file of responses (``evalkit grade``), with an optional audit against plain
math-verify and an LLM-judge hook."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.store import atomic_write_bytes
from evalkit.store.jsonl import json_objects


class GradeFileError(EvalkitError, ValueError):
    """A responses file evalkit cannot read; the message names file, line and key."""


@dataclass(frozen=True)
class GradeFileResult:
    items: int
    correct: int
    cached: int
    seconds: float
    disagreements: int | None = None  # with an audit


def read_responses(infile: Path) -> tuple[list[dict[str, Any]], list]:
    """The records of a JSONL file (task, gold, response) and their grading items."""
    from evalkit.grade import TASK_TYPES, Item

    if not infile.exists():
        raise GradeFileError(f"{infile}: no such file")
    records, items = [], []
    for n, rec in json_objects(infile, GradeFileError):
        for key in ("task", "gold", "response"):
            if key not in rec:
                raise GradeFileError(f"{infile}:{n}: missing key {key!r}")
            if not isinstance(rec[key], str):
                raise GradeFileError(f"{infile}:{n}: {key!r} must be a string")
        if rec["task"] not in TASK_TYPES:
            raise GradeFileError(f"{infile}:{n}: task {rec['task']!r} is not one of {', '.join(TASK_TYPES)}")
        records.append(rec)
        items.append((rec["response"], rec["gold"], TASK_TYPES[rec["task"]]))
    return records, [Item(*it) for it in items]


def _audit(records: list[dict[str, Any]], items: list, grades: list, audit: Path, judge: str | None,
           workers: int, timeout: float) -> int:
    """Grade again with plain math-verify (simple-evals' letter pattern for multiple choice), and the
    judge; write every disagreement. Returns their number."""
    from evalkit.grade import GraderConfig, grade_many

    base = grade_many(items, GraderConfig(timeout_s=timeout, reference=True), workers=workers, timeout_s=timeout)
    judged = None
    if judge:
        from evalkit.grade.verifiers import load_verifier

        fn = load_verifier(judge)
        judged = [bool(fn(it)) for it in items]
    rows = []
    for i, (r, full, mv) in enumerate(zip(records, grades, base, strict=True)):
        verdicts = {"evalkit": full.correct, "reference": mv.correct}
        if judged is not None:
            verdicts["judge"] = judged[i]
        if len(set(verdicts.values())) > 1:
            rows.append(json.dumps({"line": i + 1, "task": r["task"], "gold": r["gold"], "extracted": full.extracted,
                                    "verdicts": verdicts, "reasons": {"evalkit": full.reason, "reference": mv.reason},
                                    "response_tail": r["response"][-300:]}, ensure_ascii=False))
    atomic_write_bytes(audit, ("\n".join(rows) + ("\n" if rows else "")).encode())
    return len(rows)


def grade_file(infile: Path, out: Path, *, workers: int = 1, timeout: float = 5.0, think_end: str | None = None,
               cache: bool = True, audit: Path | None = None, judge: str | None = None) -> GradeFileResult:
    """Grade every response of ``infile``; each output record is the input plus correct, extracted,
    reason and grader_version."""
    from dataclasses import replace

    from evalkit.grade import GradeCache, GraderConfig, grade_cached, grade_many

    records, items = read_responses(infile)
    items = [replace(it, think_end=think_end) for it in items]
    cfg = GraderConfig(timeout_s=timeout)
    t0 = time.perf_counter()
    if cache:
        gc = GradeCache(cfg=cfg)
        try:
            grades, hits = grade_cached(items, cfg, workers=workers, cache=gc, timeout_s=timeout)
        finally:
            gc.close()
    else:
        grades, hits = grade_many(items, cfg, workers=workers, timeout_s=timeout), 0
    dt = time.perf_counter() - t0
    lines = [json.dumps({**r, "correct": g.correct, "extracted": g.extracted, "reason": g.reason,
                         "grader_version": g.grader_version}, ensure_ascii=False)
             for r, g in zip(records, grades, strict=True)]
    atomic_write_bytes(out, ("\n".join(lines) + "\n").encode())
    n_dis = _audit(records, items, grades, audit, judge, workers, timeout) if audit is not None else None
    return GradeFileResult(len(items), sum(g.correct for g in grades), hits, dt, n_dis)
