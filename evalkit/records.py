"""Typed records passed between stages.

They are plain frozen dataclasses so every stage can import them without importing another stage.
The vocabularies of the stored sample (method, thinking end, answer finish, grade reason) are defined
here, once: the store types its row with them and checks every row it builds or reads against them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal, get_args

from evalkit.errors import EvalkitError

AnswerType = Literal["integer", "math", "mc"]
ANSWER_TYPES: tuple[AnswerType, ...] = get_args(AnswerType)

# How a cell spends test-time compute: budget forcing, n samples and a vote, or resampling until the
# thinking fits the cap (s1's rejection sampling).
Method = Literal["sequential", "parallel", "rejection"]
METHODS: tuple[str, ...] = get_args(Method)

# How a thinking phase ended: the harness forced the delimiter at the cap; the model emitted the
# format's end-of-thinking token; the model ended its whole turn (end of sequence); an engine limit
# (an id outside the vocabulary). One vocabulary for trajectories and stored rows alike.
ThinkingEnd = Literal["cap", "delimiter", "eos", "oov"]
THINKING_ENDS: tuple[str, ...] = get_args(ThinkingEnd)

# How the answer phase ended: the model stopped, or it reached answer_max_tokens.
AnswerFinish = Literal["stop", "length"]
ANSWER_FINISHES: tuple[str, ...] = get_args(AnswerFinish)

# What the grader does when the end-of-thinking delimiter is missing (the sweep spec's grader setting
# and GraderConfig's): no answer, or grade the whole text.
UnclosedThinking = Literal["no_answer", "use_all"]
UNCLOSED_THINKING: tuple[str, ...] = get_args(UnclosedThinking)


class VocabularyError(EvalkitError, ValueError):
    """A value outside its field's vocabulary (names the field and the allowed values)."""


def check_vocabulary(name: str, value: object, allowed: tuple[str, ...], *, optional: bool = False) -> None:
    """:class:`VocabularyError` unless ``value`` is one of ``allowed`` (or None, when ``optional``)."""
    if (value is None and optional) or (isinstance(value, str) and value in allowed):
        return
    raise VocabularyError(f"{name}: {value!r} is not one of {', '.join(allowed)}" + (" (or None)" if optional else ""))


class GradeReason(StrEnum):
    """Why a verdict is what it is (stored as its value in ``grade_reason``)."""

    EQUIVALENT = "equivalent"
    NOT_EQUIVALENT = "not_equivalent"
    NO_ANSWER = "no_answer"
    UNCLOSED_THINKING = "unclosed_thinking"
    GOLD_UNPARSABLE = "gold_unparsable"
    NOT_INTEGER = "not_integer_0_999"
    FORM_MISMATCH = "form_mismatch"
    AMBIGUOUS = "ambiguous"  # two different letters in the final answer statement
    EXTRACTED = "extracted"  # a letter was found (internal to extraction)
    NORMALIZED_STRING = "normalized_string"
    NORMALIZED_EQUIVALENT = "normalized_equivalent"
    BASE_SUBSCRIPT = "base_subscript"
    PM_EXPANSION = "pm_expansion"
    UNORDERED_LIST = "unordered_list"
    UNIT_TEXT = "unit_text"  # equal once unit words / abbreviations (45 degrees, 8 cm, 5 dollars) are dropped
    LETTER_VARIABLE = "letter_variable"  # a letter glued to a number is a variable: 5m = 5m (not 5)
    MIXED_NUMBER = "mixed_number"  # 1 1/2 and 2\frac14 read as 3/2 and 9/4
    REPEATING_DECIMAL = "repeating_decimal"  # 0.\overline{3} read as 1/3 (math-verify reads 0)
    DECIMAL_APPROXIMATION = "decimal_approximation"  # opt-in: 3.14 for \pi (GraderConfig.approximate)
    TIMEOUT = "timeout"
    WORKER_DIED = "worker_died"
    MEMORY_LIMIT = "memory_limit"

    @property
    def failed(self) -> bool:
        """The grading process failed (see :func:`failed_verdict`)."""
        return self in (GradeReason.TIMEOUT, GradeReason.WORKER_DIED, GradeReason.MEMORY_LIMIT)

    @property
    def transient(self) -> bool:
        """A failed verdict that depends on the machine (a timeout, a dead worker): never cached, and
        a rerun may grade it. A memory limit and a grader exception are failed but not transient."""
        return self.failed and self is not GradeReason.MEMORY_LIMIT


ERROR_PREFIX = "error:"  # how a grader exception is stored in grade_reason: error:<exception class>


@dataclass(frozen=True)
class GradeError:
    """The grader raised: the exception's class (``kind``) and message. Stored as ``error:<kind>``
    (the message is not stored, so two errors of one kind are equal)."""

    kind: str
    message: str = field(default="", compare=False)

    @classmethod
    def of(cls, exc: BaseException) -> GradeError:
        return cls(type(exc).__name__, str(exc))

    @property
    def text(self) -> str:
        return f"{ERROR_PREFIX}{self.kind}"


# Why a verdict is what it is: a vocabulary value, or the grader's exception.
Reason = GradeReason | GradeError


def parse_reason(value: Reason | str, name: str = "reason") -> Reason:
    """A reason from its stored text (``error:<kind>`` is a :class:`GradeError`); typed reasons pass."""
    if isinstance(value, GradeReason | GradeError):
        return value
    if isinstance(value, str):
        if value.startswith(ERROR_PREFIX):
            return GradeError(value[len(ERROR_PREFIX):])
        if value in GradeReason._value2member_map_:
            return GradeReason(value)
    raise VocabularyError(f"{name}: {value!r} is not one of {', '.join(GradeReason)} (or {ERROR_PREFIX}<exception>)")


def reason_text(reason: Reason) -> str:
    """How a reason is stored (the inverse of :func:`parse_reason`)."""
    return reason.text if isinstance(reason, GradeError) else reason.value


def failed_verdict(reason: Reason | str) -> bool:
    """The one definition of a failed verdict: the grading process failed (a timeout, a dead worker, the
    memory limit, or the grader raised), so the verdict says nothing about the answer."""
    r = parse_reason(reason)
    return isinstance(r, GradeError) or r.failed


def stable_hash(obj: Any, length: int = 12) -> str:
    """Content hash of a JSON-serialisable object, independent of dict ordering."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


@dataclass(frozen=True)
class Problem:
    """One benchmark item, ready to prompt and grade."""

    task: str
    problem_id: str
    prompt: str  # the user message (task template already applied)
    gold: str  # gold answer as text (a letter for multiple choice)
    answer_type: AnswerType
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def cap_label(cap: Any) -> str:
    """How a thinking cap is written everywhere: its integer, or ``none``."""
    if cap is None:
        return "none"
    try:
        missing = math.isnan(cap)
    except TypeError:  # pandas' NA has no number
        missing = True
    return "none" if missing else str(int(cap))


@dataclass(frozen=True)
class ForcingConfig:
    """Budget-forcing settings of one sequential cell.

    ``cap``: thinking-token cap (None: no cap besides the engine's context). ``n_ignore``: how many
    end-of-thinking attempts are replaced by a control string. ``controls``: the control strings,
    cycled. ``min_tokens``: the delimiter is suppressed until this many thinking tokens exist.
    """

    cap: int | None
    n_ignore: int = 0
    controls: tuple[str, ...] = ("Wait",)
    min_tokens: int = 0

    def control_for(self, i: int) -> str:
        return self.controls[i % len(self.controls)]


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 0.0
    top_p: float = 1.0
    answer_max_tokens: int = 512


@dataclass(frozen=True)
class Cell:
    """One experimental condition: everything that defines a sample except the problem and seed."""

    task: str
    model: str
    think_format: str
    forcing: ForcingConfig
    sampling: SamplingConfig
    selection: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # task filters
    method: Method = "sequential"
    n_samples: int = 1  # samples per (problem, seed): > 1 only for parallel cells
    max_attempts: int = 0  # rejection sampling: attempts before falling back to forcing

    def __post_init__(self) -> None:
        check_vocabulary("method", self.method, METHODS)

    @property
    def key(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "selection": self.selection,
            "model": self.model,
            "think_format": self.think_format,
            "forcing": asdict(self.forcing),
            "sampling": asdict(self.sampling),
            **({"method": self.method, "n_samples": self.n_samples} if self.method != "sequential" else {}),
            **({"max_attempts": self.max_attempts} if self.method == "rejection" else {}),
        }

    @classmethod
    def from_key(cls, key: dict[str, Any]) -> Cell:
        """The cell whose :attr:`key` is ``key`` (as ``cells.json`` and lm-eval exports store it)."""
        f, s = key["forcing"], key["sampling"]
        return cls(task=key["task"], model=key["model"], think_format=key["think_format"],
                   forcing=ForcingConfig(cap=f["cap"], n_ignore=f["n_ignore"], controls=tuple(f["controls"]),
                                         min_tokens=f["min_tokens"]),
                   sampling=SamplingConfig(**s), selection=key.get("selection", {}) or {},
                   method=key.get("method", "sequential"), n_samples=key.get("n_samples", 1),
                   max_attempts=key.get("max_attempts", 0))

    @cached_property  # a frozen record: its id never changes (computed once, not per sample unit)
    def cell_id(self) -> str:
        return stable_hash(self.key)

    @property
    def control_label(self) -> str:
        """The control strings joined by ``|`` (empty when the cell ignores no end attempt)."""
        return "|".join(self.forcing.controls) if self.forcing.n_ignore else ""

    @property
    def label(self) -> str:
        f = self.forcing
        cap = cap_label(f.cap)
        fmt = (
            ""
            if self.think_format in ("s1",)
            else f" format={self.think_format if len(self.think_format) < 20 else 'custom'}"
        )
        ctl = "|".join(f.controls) if f.n_ignore else "-"
        if self.method == "rejection":
            return f"{self.task} rejection cap={cap} attempts<={self.max_attempts}{fmt}"
        if self.method == "parallel":
            return f"{self.task} parallel n={self.n_samples} cap={cap} T={self.sampling.temperature}{fmt}"
        return f"{self.task} cap={cap} ignore={f.n_ignore} control={ctl} min={f.min_tokens}{fmt}"


@dataclass(frozen=True)
class Generation:
    """What the generate stage returns for one (problem, seed, cell)."""

    problem_id: str
    seed: int
    sample: int
    prompt_tokens: int
    thinking_ids: list[int]
    forced_ids: list[int]  # delimiter (+ answer prefix) appended by the harness
    answer_ids: list[int]
    thinking_text: str
    answer_text: str
    response: str  # thinking + delimiter/prefix + answer, decoded from the exact token ids
    thinking_tokens: int  # includes injected control-string tokens
    control_tokens: int
    answer_tokens: int  # generated answer tokens (forced delimiter/prefix excluded)
    forced_tokens: int  # delimiter + answer-prefix tokens appended by the harness
    n_ignored: int  # end-of-thinking attempts replaced by a control string
    n_suppressed: int | None  # end-of-thinking tokens suppressed by min_tokens (None: the engine cannot tell)
    forced_end: bool  # thinking ended by the cap rather than by the model
    thinking_end: ThinkingEnd
    thinking_closed: bool  # the end-of-thinking delimiter is present before the answer
    answer_finish: AnswerFinish
    oov_ids: int = 0  # re-fed ids outside the tokenizer vocabulary that were dropped
    rounds: int = 0
    wall_s: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)  # the trajectory this row branches from


@dataclass(frozen=True)
class Grade:
    """A verdict. ``reason`` is a :class:`GradeReason`, or a :class:`GradeError` when the grader raised
    (text such as ``"no_answer"`` or ``"error:KeyError"`` is parsed into them)."""

    correct: bool
    extracted: str | None
    reason: Reason
    grader_version: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", parse_reason(self.reason))

    @property
    def error(self) -> GradeError | None:
        return self.reason if isinstance(self.reason, GradeError) else None

    @property
    def failed(self) -> bool:
        return failed_verdict(self.reason)

    @property
    def transient(self) -> bool:
        """Never cached (see :attr:`GradeReason.transient`)."""
        return isinstance(self.reason, GradeReason) and self.reason.transient

    @property
    def reason_text(self) -> str:
        """The reason as stored (``grade_reason``, the grade cache, ``evalkit grade``'s output)."""
        return reason_text(self.reason)
