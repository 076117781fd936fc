"""The reference graders evalkit must never be worse than: plain math-verify (``parse`` + ``verify``
with the library's defaults, the gold wrapped in ``$...$``) for math and integer answers, and the
multiple-choice pattern of OpenAI's simple-evals (``Answer: X``) for letters. Used by ``evalkit grade
--audit`` and by the test suite's standing "never below math-verify" check."""

from __future__ import annotations

import re

_SIMPLE_EVALS_MC = re.compile(r"(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?")


def plain_math_verify(answer_text: str, gold: str) -> bool:
    from math_verify import parse, verify

    g = parse(f"${gold.strip().strip('$').strip()}$")
    a = parse(answer_text)
    return bool(g and a and verify(g, a))


def plain_choice(answer_text: str) -> str | None:
    """The letter simple-evals' multiple-choice pattern finds (its first match, as simple-evals uses)."""
    m = _SIMPLE_EVALS_MC.search(answer_text)
    return m.group(1).upper() if m else None


def plain_verdict(answer_text: str, gold: str, answer_type: str) -> bool:
    if answer_type == "mc":
        return plain_choice(answer_text) == gold.strip().upper()
    return plain_math_verify(answer_text, gold)
