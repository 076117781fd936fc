"""Stored samples as a frame, read through one typed layer: the column names (:class:`Col`, one
constant per :class:`SampleRow` field, checked against it) and :class:`Samples`, a thin wrapper over a
results frame (as :meth:`ResultStore.read_rows` returns) with a typed accessor per column, the cell
columns of a group as a record (:class:`CellColumns`), and the groupings and matrices reports use.

Reports and the viewer read rows only through this module, so a column is named in one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from evalkit.records import (
    ANSWER_FINISHES,
    ERROR_PREFIX,
    METHODS,
    THINKING_ENDS,
    GradeReason,
    Method,
    VocabularyError,
)
from evalkit.store.row import FIELDS


class Col:
    """The name of every stored column (a :class:`SampleRow` field)."""

    SWEEP = "sweep"
    CELL_ID = "cell_id"
    TASK = "task"
    MODEL = "model"
    THINK_FORMAT = "think_format"
    METHOD = "method"
    PROBLEM_ID = "problem_id"
    SEED = "seed"
    SAMPLE = "sample"
    N_SAMPLES = "n_samples"
    CAP = "cap"
    N_IGNORE = "n_ignore"
    CONTROL = "control"
    MIN_TOKENS = "min_tokens"
    TEMPERATURE = "temperature"
    TOP_P = "top_p"
    PROMPT_TOKENS = "prompt_tokens"
    THINKING_TOKENS = "thinking_tokens"
    CONTROL_TOKENS = "control_tokens"
    FORCED_TOKENS = "forced_tokens"
    ANSWER_TOKENS = "answer_tokens"
    N_IGNORED = "n_ignored"
    N_SUPPRESSED = "n_suppressed"
    FORCED_END = "forced_end"
    THINKING_END = "thinking_end"
    ANSWER_FINISH = "answer_finish"
    OOV_IDS = "oov_ids"
    ROUNDS = "rounds"
    ATTEMPTS = "attempts"
    WALL_S = "wall_s"
    FLOPS_NAIVE = "flops_naive"
    FLOPS_PREFIX_CACHED = "flops_prefix_cached"
    FLOPS_KV_READ = "flops_kv_read"
    FLOPS_PROMPT = "flops_prompt"
    GOLD = "gold"
    ANSWER_TYPE = "answer_type"
    RESPONSE = "response"
    THINKING_TEXT = "thinking_text"
    ANSWER_TEXT = "answer_text"
    EXTRACTED = "extracted"
    CORRECT = "correct"
    ANSWER_CLASS = "answer_class"
    VERIFIER_SCORE = "verifier_score"
    GRADE_REASON = "grade_reason"
    GRADER_VERSION = "grader_version"
    PROVENANCE = "provenance"


_NAMES = tuple(v for k, v in vars(Col).items() if k.isupper())
if _NAMES != FIELDS:  # the constants are the record's fields, in order: a new field needs its constant
    raise TypeError(f"Col differs from SampleRow's fields: {sorted(set(_NAMES) ^ set(FIELDS))}")

TEXTS = (Col.RESPONSE, Col.THINKING_TEXT, Col.ANSWER_TEXT, Col.PROVENANCE)  # the large columns
NUMBERS = tuple(c for c in FIELDS if c not in TEXTS)  # what statistics read: every column but the texts
SAMPLE_KEY = (Col.CELL_ID, Col.SEED, Col.PROBLEM_ID, Col.SAMPLE)  # what identifies a stored sample
_VOCABULARIES = {Col.METHOD: METHODS, Col.THINKING_END: THINKING_ENDS, Col.ANSWER_FINISH: ANSWER_FINISHES}


def check_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` unchanged, after checking its vocabulary columns (:class:`VocabularyError` naming the
    column, the values outside the vocabulary and the allowed ones)."""
    for name, allowed in _VOCABULARIES.items():
        if name in frame:
            col = frame[name]
            bad = col[col.notna() & ~col.isin(allowed)]
            if len(bad):
                raise VocabularyError(f"{name}: {sorted(set(map(str, bad)))} not one of {', '.join(allowed)}")
    if Col.GRADE_REASON in frame:
        col = frame[Col.GRADE_REASON]
        known = col.isna() | col.isin([r.value for r in GradeReason]) | col.astype(str).str.startswith(ERROR_PREFIX)
        if not known.all():
            raise VocabularyError(f"{Col.GRADE_REASON}: {sorted(set(map(str, col[~known])))} not one of "
                                  f"{', '.join(GradeReason)} (or {ERROR_PREFIX}<exception>)")
    return frame


def _int_or_none(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


@dataclass(frozen=True)
class CellColumns:
    """The columns a cell determines (the same in every row of the cell), typed."""

    cell_id: str
    task: str
    model: str
    method: Method
    n_samples: int
    cap: int | None
    n_ignore: int
    control: str
    min_tokens: int

    @classmethod
    def of_row(cls, row: pd.Series) -> CellColumns:
        return cls(cell_id=str(row[Col.CELL_ID]), task=str(row[Col.TASK]), model=str(row[Col.MODEL]),
                   method=str(row[Col.METHOD]), n_samples=int(row[Col.N_SAMPLES]),  # type: ignore[arg-type]  # pandas: a stored method string is one of Method (the store writes no other)
                   cap=_int_or_none(row[Col.CAP]), n_ignore=int(row[Col.N_IGNORE]), control=str(row[Col.CONTROL]),
                   min_tokens=int(row[Col.MIN_TOKENS]))


class _Column:
    """A column of the wrapped frame, as a Series."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Samples | None, owner: type | None = None) -> pd.Series:
        if obj is None:  # looked up on the class (help(), introspection)
            return self
        return obj.frame[self.name]


class Samples:
    """A results frame read through typed accessors (``s.correct``, ``s.cell``, ``s.by_cell()``...).

    ``Samples.of(df)`` wraps a frame (or returns a :class:`Samples` as it is); ``frame`` is the frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    @classmethod
    def of(cls, rows: pd.DataFrame | Samples) -> Samples:
        return rows if isinstance(rows, Samples) else cls(rows)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def empty(self) -> bool:
        return cast("bool", self.frame.empty)

    def has(self, name: str) -> bool:
        """The frame has the column (a frame of some columns only, such as the viewer's index)."""
        return name in self.frame

    def column(self, name: str) -> pd.Series:
        """A column chosen at run time (e.g. the compute measure of a comparison)."""
        if name not in FIELDS:
            raise KeyError(f"not a column of the results schema: {name}")
        return self.frame[name]

    cell_id = _Column(Col.CELL_ID)
    task = _Column(Col.TASK)
    model = _Column(Col.MODEL)
    method = _Column(Col.METHOD)
    problem_id = _Column(Col.PROBLEM_ID)
    seed = _Column(Col.SEED)
    sample = _Column(Col.SAMPLE)
    n_samples = _Column(Col.N_SAMPLES)
    cap = _Column(Col.CAP)
    n_ignore = _Column(Col.N_IGNORE)
    control = _Column(Col.CONTROL)
    thinking_tokens = _Column(Col.THINKING_TOKENS)
    forced_tokens = _Column(Col.FORCED_TOKENS)
    answer_tokens = _Column(Col.ANSWER_TOKENS)
    forced_end = _Column(Col.FORCED_END)
    flops_naive = _Column(Col.FLOPS_NAIVE)
    flops_prefix_cached = _Column(Col.FLOPS_PREFIX_CACHED)
    flops_kv_read = _Column(Col.FLOPS_KV_READ)
    flops_prompt = _Column(Col.FLOPS_PROMPT)
    extracted = _Column(Col.EXTRACTED)
    correct = _Column(Col.CORRECT)
    answer_class = _Column(Col.ANSWER_CLASS)
    verifier_score = _Column(Col.VERIFIER_SCORE)
    grader_version = _Column(Col.GRADER_VERSION)

    @property
    def cell(self) -> CellColumns:
        """The cell columns of the first row (of a group of one cell: the cell's)."""
        return CellColumns.of_row(self.frame.iloc[0])

    def where(self, mask: pd.Series) -> Samples:
        return Samples(self.frame[mask])

    def of_method(self, method: Method) -> Samples:
        return self.where(self.method == method)

    def has_method(self, method: Method) -> bool:
        return self.has(Col.METHOD) and bool((self.method == method).any())

    def by(self, *names: str, sort: bool = True) -> Iterator[tuple[Any, Samples]]:
        """Groups by the columns (a scalar key for one column, a tuple for more), as pandas groups them."""
        for key, g in self.frame.groupby(names[0] if len(names) == 1 else list(names), sort=sort):
            yield key, Samples(g)

    def by_cell(self) -> Iterator[tuple[str, Samples]]:
        """One group per cell, in the order the cells first appear."""
        for cid, g in self.by(Col.CELL_ID, sort=False):
            yield str(cid), g

    def accuracy_matrix(self, index: str | Sequence[str] = Col.PROBLEM_ID, columns: str = Col.SEED,
                        values: str = Col.CORRECT) -> pd.DataFrame:
        """Mean of ``values`` (default: accuracy) per ``index`` (problems) x ``columns`` (seeds)."""
        idx = index if isinstance(index, str) else list(index)
        return self.frame.pivot_table(index=idx, columns=columns, values=values, aggfunc="mean")

    @property
    def n_problems(self) -> int:
        return int(self.problem_id.nunique())

    @property
    def n_seeds(self) -> int:
        return int(self.seed.nunique())

    def new_tokens(self) -> pd.Series:
        """Tokens each sample generated or had appended (thinking, forced delimiter/prefix, answer)."""
        return self.thinking_tokens + self.forced_tokens + self.answer_tokens
