"""Grader settings: every knob that changes a verdict, so a verdict can always be reproduced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from evalkit.records import UNCLOSED_THINKING, UnclosedThinking

# What extraction looks for (GraderConfig.match_types), and how a gold is read (GraderConfig.gold_format).
MatchType = Literal["latex", "expr"]
MATCH_TYPES: tuple[str, ...] = get_args(MatchType)
GoldFormat = Literal["answer", "text"]
GOLD_FORMATS: tuple[str, ...] = get_args(GoldFormat)

GRADER_VERSION = "ek-0.4"  # 0.4: unit words and variable letters in golds, mixed numbers, bare answers
# 0.3: golds parsed whole as inline LaTeX (0.2 kept fragments)


@dataclass(frozen=True)
class GraderConfig:
    """``match_types``: what extraction looks for (``latex``: $...$, \\[...\\], \\boxed{}, "final answer is";
    ``expr``: plain expressions and numbers). ``precision``: decimal places a float must match.
    ``strict``: variables must match too (``f(x)`` != ``f(y)``). ``allow_set_relation_comp``: an interval
    equals the inequality describing it. ``normalize``: evalkit's extra normalisation after
    math-verify (units, thousands separators, percent, degrees, base subscripts, \\pm, answer lists).
    ``unclosed_thinking``: ``no_answer`` (default) or ``use_all`` when the end-of-thinking delimiter is
    missing. ``gold_format``: ``answer`` (default: a gold is the body of a LaTeX answer, parsed whole as
    inline math, never a fragment) or ``text`` (a gold is text to extract an answer from, with the same
    match types as a response: how Math-Verify's and lighteval's own tests call ``parse`` on their golds).
    ``reference``: ignore the rest and grade as plain math-verify / simple-evals' letter pattern do
    (:mod:`evalkit.grade.baseline`), the yardstick of ``evalkit grade --audit``. ``unit_letters``: the
    task's answers carry units, so one letter after a number is a unit (``5m`` is 5); default: a variable
    (``5m`` is 5m, ``12ab`` is 12ab). ``approximate``: a decimal approximation of an exact numeric gold is
    correct to the decimals written (``3.14`` for ``\\pi``): a judgement call, off by default."""

    match_types: tuple[MatchType, ...] = ("latex", "expr")
    precision: int = 6
    strict: bool = True
    allow_set_relation_comp: bool = False
    normalize: bool = True
    unclosed_thinking: UnclosedThinking = "no_answer"
    timeout_s: float = 5.0
    boxed_match_priority: int = 0
    gold_format: GoldFormat = "answer"
    reference: bool = False  # grade as the reference graders do (evalkit.grade.baseline), for audits
    unit_letters: bool = False
    approximate: bool = False
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        bad = [m for m in self.match_types if m not in MATCH_TYPES]
        if bad or not self.match_types:
            raise ValueError(f"match_types must be a non-empty subset of {MATCH_TYPES}, got {self.match_types}")
        if self.gold_format not in GOLD_FORMATS:
            raise ValueError(f"gold_format must be {' or '.join(GOLD_FORMATS)}, got {self.gold_format!r}")
        if self.unclosed_thinking not in UNCLOSED_THINKING:
            raise ValueError(f"unclosed_thinking must be {' or '.join(UNCLOSED_THINKING)}, "
                             f"got {self.unclosed_thinking!r}")

    @classmethod
    def from_settings(cls, settings: dict[str, Any], **overrides: Any) -> GraderConfig:
        """From the keyword settings used by math-verify / lighteval tests (``match_types`` /
        ``match_type``, ``precision``, ``strict``, ``allow_set_relation_comp``), plus ``overrides``."""
        kw: dict[str, Any] = dict(overrides)
        mt = settings.get("match_types", settings.get("match_type"))
        if mt:
            kw["match_types"] = tuple(mt)
        for k in ("precision", "strict", "allow_set_relation_comp"):
            if k in settings:
                kw[k] = settings[k]
        return cls(**kw)

    def key(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d.pop("timeout_s")
        return d


@dataclass(frozen=True)
class Item:
    """One thing to grade: a response (or the answer text after thinking), the gold, its answer type,
    and the end-of-thinking delimiter when only the text after it counts. ``is_answer``: ``response``
    holds an already extracted answer (LaTeX or plain text, no delimiters needed), compared whole."""

    response: str
    gold: str
    answer_type: str  # integer | math | mc
    think_end: str | None = None
    is_answer: bool = False
