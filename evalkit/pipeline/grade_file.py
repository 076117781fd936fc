"""Grading a JSONL file of responses or already extracted answers (``evalkit grade``), with an optional
audit against plain math-verify and an LLM-judge hook."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.grade import GradeCache, GraderConfig, Item, grade_cached, grade_many
from evalkit.grade.stated import stated
from evalkit.grade.verifiers import load_verifier
from evalkit.records import AnswerType
from evalkit.spec.tasks import answer_types
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
    unparsable_golds: dict[str, int] = field(default_factory=dict)  # gold -> records graded gold_unparsable


def _check_record(rec: dict[str, Any], where: str, types: dict[str, AnswerType]) -> str:
    """The key holding the text to grade (``response`` or ``answer``: exactly one); a clear error otherwise.
    ``types``: what ``task`` may name (:func:`evalkit.spec.tasks.answer_types`)."""
    for key in ("task", "gold"):
        if key not in rec:
            raise GradeFileError(f"{where}: missing key {key!r}")
    text_keys = [k for k in ("response", "answer") if k in rec]
    if len(text_keys) != 1:
        raise GradeFileError(f"{where}: needs exactly one of 'response' (a model's text) or 'answer' (an extracted "
                             f"answer), found {' and '.join(map(repr, text_keys)) or 'neither'}")
    for key in ("task", "gold", text_keys[0]):
        if not isinstance(rec[key], str):
            raise GradeFileError(f"{where}: {key!r} must be a string")
    if rec["task"] not in types:
        raise GradeFileError(f"{where}: task {rec['task']!r} is not one of {', '.join(types)}")
    return text_keys[0]


def read_responses(infile: Path) -> tuple[list[dict[str, Any]], list]:
    """The records of a JSONL file (task, gold and response or answer) and their grading items."""
    if not infile.exists():
        raise GradeFileError(f"{infile}: no such file")
    records, items, types = [], [], answer_types()
    for n, rec in json_objects(infile, GradeFileError):
        key = _check_record(rec, f"{infile}:{n}", types)
        records.append(rec)
        items.append(Item(rec[key], rec["gold"], types[rec["task"]], is_answer=key == "answer"))
    return records, items


def _answers(item: Item, grade: Any, cfg: GraderConfig) -> dict[str, str | None]:
    """What a person reads of an extracted answer: ``extracted``, the model's own text (``0.5`` for
    ``\\boxed{0.5}``), and ``normalized``, the grader's form of it (``\\frac{1}{2}``, as stored in
    results)."""
    return {"extracted": stated(item, grade, cfg), "normalized": grade.extracted}


def _audit(records: list[dict[str, Any]], items: list, grades: list, audit: Path, judge: str | None,
           workers: int, timeout: float, cfg: GraderConfig) -> int:
    """Grade again with plain math-verify (simple-evals' letter pattern for multiple choice), and the
    judge; write every disagreement. Returns their number."""
    base = grade_many(items, GraderConfig(timeout_s=timeout, reference=True), workers=workers, timeout_s=timeout)
    judged = None
    if judge:
        fn = load_verifier(judge)
        judged = [bool(fn(it)) for it in items]
    rows = []
    for i, (r, full, mv) in enumerate(zip(records, grades, base, strict=True)):
        verdicts = {"evalkit": full.correct, "reference": mv.correct}
        if judged is not None:
            verdicts["judge"] = judged[i]
        if len(set(verdicts.values())) > 1:
            rows.append(
                json.dumps(
                    {
                        "line": i + 1,
                        "task": r["task"],
                        "gold": r["gold"],
                        **_answers(items[i], full, cfg),
                        "verdicts": verdicts,
                        "reasons": {"evalkit": full.reason_text, "reference": mv.reason_text},
                        "response_tail": r.get("response", r.get("answer", ""))[-300:],
                    },
                    ensure_ascii=False,
                )
            )
    atomic_write_bytes(audit, ("\n".join(rows) + ("\n" if rows else "")).encode())
    return len(rows)


def grade_file(infile: Path, out: Path, *, workers: int = 1, timeout: float = 5.0, think_end: str | None = None,
               cache: bool = True, audit: Path | None = None, judge: str | None = None,
               unit_letters: bool = False) -> GradeFileResult:
    """Grade every record of ``infile`` (a ``response``, or an already extracted ``answer``); each output
    record is the input plus correct, extracted (the answer as the model wrote it), normalized (the
    grader's form of it), reason and grader_version. Golds that do not parse whole
    are graded ``gold_unparsable`` and counted per gold in ``unparsable_golds`` (the CLI warns)."""

    records, items = read_responses(infile)
    items = [it if it.is_answer else replace(it, think_end=think_end) for it in items]
    cfg = GraderConfig(timeout_s=timeout, unit_letters=unit_letters)
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
    lines = [json.dumps({**r, "correct": g.correct, **_answers(it, g, cfg), "reason": g.reason_text,
                         "grader_version": g.grader_version}, ensure_ascii=False)
             for r, it, g in zip(records, items, grades, strict=True)]
    atomic_write_bytes(out, ("\n".join(lines) + "\n").encode())
    n_dis = _audit(records, items, grades, audit, judge, workers, timeout, cfg) if audit is not None else None
    unparsable = Counter(it.gold for it, g in zip(items, grades, strict=True) if g.reason == "gold_unparsable")
    return GradeFileResult(len(items), sum(g.correct for g in grades), hits, dt, n_dis, dict(unparsable))
