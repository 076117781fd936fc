"""Grading one response: the answer after the end of thinking, dispatched by answer type (math and
integer answers to :mod:`evalkit.grade.mathverify`, multiple-choice letters to the extractor here).
Every decision carries a reason code (:class:`evalkit.records.GradeReason`)."""

from __future__ import annotations

import re

from evalkit.grade.baseline import plain_verdict
from evalkit.grade.config import GRADER_VERSION, GraderConfig, Item
from evalkit.grade.mathverify import grade_math
from evalkit.records import Grade
from evalkit.records import GradeReason as R

DEFAULT = GraderConfig()

_MC_PATTERNS = [
    re.compile(r"(?i:answer)\s*(?:is|:)?\s*[:\s]*\**\s*\(?\$?\\?(?:boxed\{|text\{)?\s*([A-Ea-e])\b"),
    re.compile(r"\\boxed\{\s*\(?([A-Ea-e])\)?\s*\}"),
    re.compile(r"\(([A-E])\)"),
]


_STATEMENT = re.compile(r"(?i)(?:final\s+answer|answer|choice|option)\s*(?:is|:)?[^\n]*$", re.M)


def extract_choice(text: str) -> tuple[str | None, str]:
    """The final stated letter choice, or (None, reason). The last answer statement wins (after
    self-corrections); two different letters in that statement -> (None, "ambiguous")."""
    statements = list(_STATEMENT.finditer(text))
    if statements:
        last = statements[-1].group(0)
        letters = {m.upper() for m in re.findall(r"(?<![A-Za-z])\(?([A-Ea-e])\)?(?![A-Za-z])",
                                                  re.sub(r"(?i)^(?:final\s+answer|answer|choice|option)", "", last))}
        if len(letters) > 1:
            return None, R.AMBIGUOUS
    found: tuple[int, str] | None = None
    for pat in _MC_PATTERNS:
        for m in pat.finditer(text):
            if found is None or m.start() > found[0]:
                found = (m.start(), m.group(1).upper())
        if found is not None:
            break
    if found is None:
        return None, R.NO_ANSWER
    return found[1], R.EXTRACTED


def grade_answer(answer_text: str, gold: str, answer_type: str, cfg: GraderConfig = DEFAULT) -> Grade:
    """Grade the text after the end of thinking against the gold answer."""
    if not answer_text or not answer_text.strip():
        return Grade(False, None, R.NO_ANSWER, GRADER_VERSION)
    if answer_type == "mc":
        letter, reason = extract_choice(answer_text)
        if letter is None:
            return Grade(False, None, reason, GRADER_VERSION)
        ok = letter == gold.strip().upper()
        return Grade(ok, letter, R.EQUIVALENT if ok else R.NOT_EQUIVALENT, GRADER_VERSION)
    return grade_math(answer_text, gold, cfg, integer=answer_type == "integer")


def grade_response(
    response: str,
    gold: str,
    answer_type: str,
    *,
    think_end: str | None = None,
    unclosed_thinking: str = "no_answer",
    cfg: GraderConfig = DEFAULT,
) -> Grade:
    """Grade a whole response: only the text after the last ``think_end`` counts. If the delimiter
    is absent the thinking is unclosed: no answer (reason ``unclosed_thinking``), or the whole text
    with ``unclosed_thinking="use_all"``."""
    if think_end:
        pos = response.rfind(think_end)
        if pos < 0:
            if unclosed_thinking == "no_answer":
                return Grade(False, None, R.UNCLOSED_THINKING, GRADER_VERSION)
            answer = response
        else:
            answer = response[pos + len(think_end) :]
    else:
        answer = response
    return grade_answer(answer, gold, answer_type, cfg)


_BARE_LETTER = re.compile(
    r"\s*\$?\s*(?:\\(?:boxed|text|textbf|mathrm)\s*\{)?\s*\(?\s*([A-Ea-e])\s*\)?\s*\}?\s*\$?\s*\.?\s*"
)


def grade_bare_answer(answer: str, gold: str, answer_type: str, cfg: GraderConfig = DEFAULT) -> Grade:
    """Grade an already extracted answer (an input record's ``answer``: ``\\dfrac{1}{3}``, ``1/3``, ``B``),
    no ``$...$`` or ``\\boxed{}`` needed, by the same equivalence as a response."""
    if not answer or not answer.strip():
        return Grade(False, None, R.NO_ANSWER, GRADER_VERSION)
    if answer_type == "mc":
        m = _BARE_LETTER.fullmatch(answer)
        letter, reason = (m.group(1).upper(), R.EXTRACTED) if m else extract_choice(answer)
        if letter is None:
            return Grade(False, None, reason, GRADER_VERSION)
        ok = letter == gold.strip().upper()
        return Grade(ok, letter, R.EQUIVALENT if ok else R.NOT_EQUIVALENT, GRADER_VERSION)
    return grade_math(answer, gold, cfg, integer=answer_type == "integer", bare=True)


def _reference(item: Item, cfg: GraderConfig) -> Grade:
    """Plain math-verify / simple-evals' letter pattern; a bare answer is given to them as ``$answer$``
    (a letter as ``Answer: X``)."""
    text = item.response
    if item.is_answer:
        body = text.strip().strip("$").strip()
        text = f"Answer: {body}" if item.answer_type == "mc" else f"${body}$"
    elif item.think_end:
        pos = text.rfind(item.think_end)
        if pos < 0 and cfg.unclosed_thinking == "no_answer":
            return Grade(False, None, R.UNCLOSED_THINKING, GRADER_VERSION)
        text = text if pos < 0 else text[pos + len(item.think_end):]
    ok = plain_verdict(text, item.gold, item.answer_type)
    return Grade(ok, None, R.EQUIVALENT if ok else R.NOT_EQUIVALENT, f"reference+{GRADER_VERSION}")


def grade_item_inprocess(item: Item, cfg: GraderConfig) -> Grade:
    """One item in this process (what a sandbox worker runs); ``cfg.reference``: plain math-verify.
    An item with ``is_answer`` holds an extracted answer: no thinking delimiter applies."""
    if cfg.reference:
        return _reference(item, cfg)
    if item.is_answer:
        return grade_bare_answer(item.response, item.gold, item.answer_type, cfg)
    return grade_response(item.response, item.gold, item.answer_type, think_end=item.think_end,
                          unclosed_thinking=cfg.unclosed_thinking, cfg=cfg)
