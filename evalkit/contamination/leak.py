"""Answer leakage: does a training trace state a benchmark problem's final answer?

A trace *states* an answer when one of its final-answer statements (the content of a ``\\boxed{}`` or
``\\fbox{}``, or the text after an anchor such as "answer is", "Answer:", "final answer") equals the
gold answer after normalisation (LaTeX markup, ``$``, spaces, ``\\dfrac`` vs ``\\frac``, thousands
separators, leading zeros, trailing periods and ``^\\circ`` removed; numbers also compared by value).
Long free-text answers (GPQA's choices) count as stated when their normalised words appear in the
trace's last 600 characters. Only the statements are checked, not every number in the trace, so
a trace that merely mentions 204 on the way does not leak AIME's 204.

This is deliberately lighter than the grader (no math-verify, no sandbox): it runs on flagged pairs
only, and a stated answer is a literal string in a document, not a model's output to be judged.
"""

from __future__ import annotations

import re

from evalkit.contamination.normalize import words

_ANCHOR = re.compile(
    r"(?:final answer|answer is|answer:|answer =|the answer)\s*(?:is|:|=)?\s*(.{1,120}?)(?:\n|$|(?<=[^\d])\.\s)",
    re.I | re.S,
)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _braced(text: str, start: int) -> str | None:
    depth, i = 1, start
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def final_statements(trace: str) -> list[str]:
    """Candidate final answers stated in a trace: boxed contents, then anchored phrases (last first)."""
    out = []
    for m in _BOX.finditer(trace):
        inner = _braced(trace, m.end())
        if inner is not None:
            out.append(inner)
    out += [m.group(1) for m in _ANCHOR.finditer(trace)]
    return out[::-1]


def normalize_answer(s: str) -> str:
    t = s.strip()
    t = re.sub(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}", r"\1", t)
    t = re.sub(r"\\(?:left|right|displaystyle|!|,|;|:)", "", t)
    t = re.sub(r"\\[dt]frac", r"\\frac", t)
    t = re.sub(r"\^\s*\{?\\circ\}?|°", "", t)
    t = t.replace("$", "").replace("\\$", "")
    t = re.sub(r"(?<=\d)\{,\}(?=\d{3})|(?<=\d),(?=\d{3}(?!\d))", "", t)
    t = re.sub(r"\s+", "", t).rstrip(".").lower()
    t = re.sub(r"^\\boxed\{(.*)\}$", r"\1", t)
    t = re.sub(r"^(?:x|n|a|m)=", "", t) if re.match(r"^[a-z]=[-\d]", t) else t
    if re.fullmatch(r"-?0*\d+", t):
        t = str(int(t))
    return t


def _number(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        m = re.fullmatch(r"\\frac\{(-?\d+)\}\{(\d+)\}", s)
        return int(m.group(1)) / int(m.group(2)) if m and int(m.group(2)) else None


def states_answer(trace: str, gold: str) -> str | None:
    """The statement in ``trace`` that gives ``gold`` (as written in the trace), or None."""
    g = normalize_answer(gold)
    if not g:
        return None
    gv = _number(g)
    for cand in final_statements(trace):
        c = normalize_answer(cand)
        if c == g:
            return cand.strip()
        cv = _number(c)
        if gv is not None and cv is not None and abs(gv - cv) <= 1e-9 * max(1.0, abs(gv)):
            return cand.strip()
    gw = words(gold)
    if len(gold) >= 20 and len(gw) >= 3:
        tail = words(trace[-600:])
        n = len(gw)
        if any(tail[i:i + n] == gw for i in range(len(tail) - n + 1)):
            return gold.strip()
    return None
