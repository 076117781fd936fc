"""The stored sample: one frozen record per (cell, problem, seed, sample), and the Parquet schema
derived from it.

A row is built from the records the stages pass along (cell, problem, generation, grade) by
:meth:`SampleRow.build`; everything downstream (reports, regrade, lm-eval export) reads these
records back. The column order, names and types are those of results directories written since
schema 2, so old directories read unchanged (``tests/data/results_v2``).

The vocabulary columns are typed with the vocabularies of :mod:`evalkit.records` (``method``,
``thinking_end``, ``answer_finish``: Literals; ``grade_reason``: a GradeReason or a GradeError) and
checked whenever a row is built or read; they are stored as the same text as ever (``error:<kind>``
for a grader exception), so the Parquet bytes do not change.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, cast

import pyarrow as pa

from evalkit.records import (
    ANSWER_FINISHES,
    METHODS,
    THINKING_ENDS,
    AnswerFinish,
    Cell,
    Generation,
    Grade,
    GradeError,
    Method,
    Problem,
    Reason,
    ThinkingEnd,
    check_vocabulary,
    parse_reason,
    reason_text,
)


@dataclass(frozen=True)
class SampleRow:
    """One stored sample. Measurement fields are None where nothing measured them (an imported
    lm-eval log has no engine counters; a model without a FLOPs config has no FLOPs)."""

    sweep: str
    cell_id: str
    task: str
    model: str
    think_format: str
    method: Method
    problem_id: str
    seed: int
    sample: int
    n_samples: int
    cap: int | None
    n_ignore: int
    control: str  # the control strings joined by "|" ("" when the cell ignores nothing)
    min_tokens: int
    temperature: float
    top_p: float
    prompt_tokens: int | None = None
    thinking_tokens: int | None = None
    control_tokens: int | None = None
    forced_tokens: int | None = None
    answer_tokens: int | None = None
    n_ignored: int | None = None
    n_suppressed: int | None = None  # end-of-thinking tokens masked by min_tokens (None: engine cannot tell)
    forced_end: bool | None = None
    thinking_end: ThinkingEnd | None = None
    answer_finish: AnswerFinish | None = None
    oov_ids: int | None = None
    rounds: int | None = None
    attempts: int | None = None  # rejection sampling: samples drawn until one fit (1 otherwise)
    wall_s: float | None = None
    flops_naive: float | None = None
    flops_prefix_cached: float | None = None
    flops_kv_read: float | None = None
    flops_prompt: float | None = None  # prefill of the whole prompt (for re-accounting shared prompts)
    gold: str = ""
    answer_type: str = ""
    response: str = ""
    thinking_text: str = ""
    answer_text: str = ""
    extracted: str | None = None
    correct: bool | None = None
    answer_class: int | None = None  # equivalence class among the samples of one (problem, seed)
    verifier_score: float | None = None  # parallel cells with a verifier: best-of-n
    grade_reason: Reason | None = None  # stored as text: the GradeReason's value, or error:<kind>
    grader_version: str | None = None
    provenance: str | None = None  # JSON: the trajectory this row branches from, or the import source

    def __post_init__(self) -> None:
        """Every vocabulary column checked (an error names the field and the allowed values); a stored
        grade reason is parsed into its type."""
        check_vocabulary("method", self.method, METHODS)
        check_vocabulary("thinking_end", self.thinking_end, THINKING_ENDS, optional=True)
        check_vocabulary("answer_finish", self.answer_finish, ANSWER_FINISHES, optional=True)
        if self.grade_reason is not None:
            object.__setattr__(self, "grade_reason", parse_reason(self.grade_reason, "grade_reason"))

    @property
    def grade(self) -> Grade | None:
        """The row's verdict (None for a row not graded yet)."""
        if self.grade_reason is None or self.correct is None:
            return None
        return Grade(self.correct, self.extracted, self.grade_reason, self.grader_version or "")

    @classmethod
    def cell_fields(cls, cell: Cell) -> dict[str, Any]:
        """The columns a cell determines."""
        f, s = cell.forcing, cell.sampling
        return {"cell_id": cell.cell_id, "task": cell.task, "model": cell.model, "think_format": cell.think_format,
                "method": cell.method, "n_samples": cell.n_samples, "cap": f.cap, "n_ignore": f.n_ignore,
                "control": cell.control_label, "min_tokens": f.min_tokens, "temperature": s.temperature,
                "top_p": s.top_p}

    @classmethod
    def build(cls, sweep: str, cell: Cell, problem: Problem, gen: Generation, grade: Grade,
              **extra: Any) -> SampleRow:
        """The row of one generation and its verdict; ``extra`` sets what later steps compute
        (``answer_class``, ``verifier_score``, the FLOPs columns)."""
        return cls(
            sweep=sweep, **cls.cell_fields(cell), problem_id=problem.problem_id, seed=gen.seed, sample=gen.sample,
            prompt_tokens=gen.prompt_tokens, thinking_tokens=gen.thinking_tokens, control_tokens=gen.control_tokens,
            forced_tokens=gen.forced_tokens, answer_tokens=gen.answer_tokens, n_ignored=gen.n_ignored,
            n_suppressed=gen.n_suppressed, forced_end=gen.forced_end, thinking_end=gen.thinking_end,
            answer_finish=gen.answer_finish, oov_ids=gen.oov_ids, rounds=gen.rounds,
            attempts=gen.provenance.get("attempts", 1), wall_s=gen.wall_s, gold=problem.gold,
            answer_type=problem.answer_type, response=gen.response, thinking_text=gen.thinking_text,
            answer_text=gen.answer_text, extracted=grade.extracted, correct=grade.correct,
            grade_reason=grade.reason, grader_version=grade.grader_version,
            provenance=json.dumps(gen.provenance, sort_keys=True), **extra)

    def with_grade(self, grade: Grade) -> SampleRow:
        return dataclasses.replace(self, correct=grade.correct, extracted=grade.extracted,
                                   grade_reason=grade.reason, grader_version=grade.grader_version)

    def replace(self, **changes: Any) -> SampleRow:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The row as stored (a typed value as its stored text)."""
        return {name: _stored(getattr(self, name)) for name in FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SampleRow:
        """A row from a stored mapping (a Parquet row); unknown keys are refused by name."""
        extra = set(d) - set(FIELDS)
        if extra:
            raise KeyError(f"not a column of the results schema: {', '.join(sorted(extra))}")
        return cls(**d)


def _stored(value: Any) -> Any:
    """A field's value as stored: a grade reason as its text; everything else as it is."""
    return reason_text(value) if isinstance(value, Enum | GradeError) else value  # type: ignore[arg-type]  # any Enum is stored as its .value, which is all reason_text reads


_ARROW = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def _stored_type(t: Any) -> type:
    """The Python type a field is stored as: a vocabulary (Literal, str enum) or a GradeError is text."""
    if typing.get_origin(t) is Literal:
        kinds = {type(v) for v in typing.get_args(t)}
        return kinds.pop() if len(kinds) == 1 else object
    if t is GradeError or (isinstance(t, type) and issubclass(t, str)):
        return str
    return cast("type", t)


def _arrow_type(hint: Any) -> pa.DataType:
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    args = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    stored = {_stored_type(a) for a in args}
    if len(stored) != 1 or next(iter(stored)) not in _ARROW:
        raise TypeError(f"no Parquet type for {hint!r}")
    return _ARROW[stored.pop()]


_HINTS = typing.get_type_hints(SampleRow)
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SampleRow))
ROW_SCHEMA = pa.schema([(name, _arrow_type(_HINTS[name])) for name in FIELDS])


def to_table(rows: Sequence[SampleRow]) -> pa.Table:
    return pa.table({name: [_stored(getattr(r, name)) for r in rows] for name in FIELDS}, schema=ROW_SCHEMA)


def from_table(table: pa.Table) -> list[SampleRow]:
    return [SampleRow.from_dict(d) for d in table.to_pylist()]


def rows_of(items: Iterable[SampleRow | dict[str, Any]]) -> list[SampleRow]:
    return [r if isinstance(r, SampleRow) else SampleRow.from_dict(r) for r in items]
