"""The first grader: extraction and equivalence through math-verify (integer and math answers),
and a multiple-choice letter extractor. Every decision carries a reason code."""

from __future__ import annotations

import re

from evalkit.grade.config import GraderConfig
from evalkit.grade.equivalence import GRADER_VERSION, grade_math, parse_gold
from evalkit.records import Grade

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
            return None, "ambiguous"
    found: tuple[int, str] | None = None
    for pat in _MC_PATTERNS:
        for m in pat.finditer(text):
            if found is None or m.start() > found[0]:
                found = (m.start(), m.group(1).upper())
        if found is not None:
            break
    if found is None:
        return None, "no_answer"
    return found[1], "extracted"


def grade_answer(answer_text: str, gold: str, answer_type: str, cfg: GraderConfig = DEFAULT) -> Grade:
    """Grade the text after the end of thinking against the gold answer."""
    if not answer_text or not answer_text.strip():
        return Grade(False, None, "no_answer", GRADER_VERSION)
    if answer_type == "mc":
        letter, reason = extract_choice(answer_text)
        if letter is None:
            return Grade(False, None, reason, GRADER_VERSION)
        ok = letter == gold.strip().upper()
        return Grade(ok, letter, "equivalent" if ok else "not_equivalent", GRADER_VERSION)
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
                return Grade(False, None, "unclosed_thinking", GRADER_VERSION)
            answer = response
        else:
            answer = response[pos + len(think_end) :]
    else:
        answer = response
    return grade_answer(answer, gold, answer_type, cfg)


def _normal_letter_or_int(x: str) -> str:
    t = x.strip().strip("$").strip()
    try:
        return str(int(t))
    except ValueError:
        return t.upper()


def equivalent(a: str, b: str, answer_type: str) -> bool:
    """Are two extracted answers the same answer (the grader's equivalence, symmetric use)?"""
    if answer_type in ("mc", "integer"):
        return _normal_letter_or_int(a) == _normal_letter_or_int(b)
    if a.strip() == b.strip():
        return True
    from math_verify import verify

    try:
        return bool(verify(list(parse_gold(a, DEFAULT)), list(parse_gold(b, DEFAULT))))
    except Exception:  # noqa: BLE001
        return False


def answer_classes(extracted: list[str | None], answer_type: str) -> list[int | None]:
    """Cluster answers into equivalence classes (first member is the representative); None stays None.
    Majority votes count classes, not strings: ``1/2`` and ``0.5`` vote together."""
    reps: list[str] = []
    labels: list[int | None] = []
    for x in extracted:
        if x is None:
            labels.append(None)
            continue
        for i, r in enumerate(reps):
            if equivalent(r, x, answer_type):
                labels.append(i)
                break
        else:
            reps.append(x)
            labels.append(len(reps) - 1)
    return labels
