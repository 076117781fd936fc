"""The answer as the model wrote it, for people to read beside the grader's normalised form: the span
of a response that extraction read (``0.5`` from ``\\boxed{0.5}``, where the grader stores math-verify's
``\\frac{1}{2}``). Found with math-verify's own extraction patterns, in its order, over the same texts
evalkit extracts from (an answer anchor of another language first), without parsing: regular
expressions and math-verify's LaTeX normalisation only (no sympy, no timeout signal), so it is cheap and
runs in any thread, e.g. a request of the viewer. Display only: no verdict, vote or stored column
depends on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from itertools import groupby
from typing import Any

from evalkit.grade.config import GraderConfig, Item
from evalkit.grade.mathverify import _SCRIPT_DIGIT, _targets, anchored_text
from evalkit.records import Grade

DEFAULT = GraderConfig()
_LATEX_GROUP = re.compile(r"(?:first|next\d)_latex(\w+)")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _unboxed(latex: str) -> str:
    """The content of the last ``\\boxed{...}`` of a match, up to its balanced closing brace (what the
    model put in the box; a match's span can run past the box: ``\\boxed{1}}``, ``\\boxed{a} = b``)."""
    starts = list(_BOXED.finditer(latex))
    if not starts:
        return latex.strip()
    depth, i = 1, starts[-1].end()
    for j in range(i, len(latex)):
        depth += {"{": 1, "}": -1}.get(latex[j], 0) if latex[j - 1] != "\\" else 0
        if depth == 0:
            return latex[i:j].strip()
    return latex[i:].strip()


def _latex(match: re.Match[str], target: Any) -> tuple[str, str]:
    """A LaTeX match as written and as math-verify normalises it (several groups: joined by "and")."""
    from latex2sympy2_extended.latex2sympy2 import normalize_latex

    raw, norm = [], []
    for name, val in match.groupdict().items():
        kind = _LATEX_GROUP.fullmatch(name)
        if not kind or not val:
            continue
        config = target.normalization_config
        if kind.group(1) == "Boxed":
            config = replace(config, boxed="last")
        raw.append(_unboxed(val))
        norm.append(normalize_latex(val, config=config))
    return " and ".join(raw), " and ".join(norm)


def _expr(match: re.Match[str]) -> tuple[str, str]:
    """A plain-expression match as written and as math-verify reads it (a number without separators
    and leading zeros, or the expression)."""
    groups = {k: v for k, v in match.groupdict().items() if v}
    parts = [k for k in groups if k.startswith(("integer", "decimal"))]
    if not parts:
        return groups.get("expr", "").strip(), groups.get("expr", "")
    end = match.end("percent") if "percent" in groups else max(match.end(k) for k in parts)
    raw = match.string[min(match.start(k) for k in parts):end]
    integer = next((groups[k] for k in parts if k.startswith("integer")), "")
    decimal = next((groups[k] for k in parts if k.startswith("decimal")), "")
    integer = integer.translate(str.maketrans("", "", ", ")).lstrip("0") or "0"
    return raw.strip(), integer + decimal.replace(",", ".")


def _matches(text: str, cfg: GraderConfig) -> Iterator[tuple[str, str]]:
    """Every extraction match of ``text`` in the order math-verify tries them (by pattern priority,
    then rightmost first), as (written, normalised)."""
    from math_verify import LatexExtractionConfig
    from math_verify.parser import get_extraction_regexes

    patterns = sorted(((p, target, prio) for ps, target in get_extraction_regexes(_targets(cfg)) for p, prio in ps),
                      key=lambda x: x[2])
    for _, group in groupby(patterns, key=lambda x: x[2]):
        found = sorted(((m, t) for p, t, _ in group for m in p.finditer(text)),
                       key=lambda mt: (mt[0].end(), -mt[0].start()), reverse=True)
        for m, target in found:
            yield _latex(m, target) if isinstance(target, LatexExtractionConfig) else _expr(m)


def stated_answer(answer_text: str, extracted: str | None, answer_type: str, cfg: GraderConfig = DEFAULT) -> str | None:
    """The model's own text of the answer the grader extracted as ``extracted`` from ``answer_text`` (the
    text after thinking): the first match, in math-verify's order, that normalises to ``extracted``; if
    evalkit rewrote the read (a mixed number, letters kept as variables), the first match there is. A
    letter choice is the letter. None when nothing was extracted."""
    if extracted is None or not answer_text:
        return None
    if answer_type == "mc":
        return extracted
    texts = [anchored_text(answer_text) if cfg.normalize else None, answer_text,
             _SCRIPT_DIGIT.sub(" ", answer_text) if cfg.normalize else None]
    first = None
    for text in dict.fromkeys(t for t in texts if t):
        for written, normalised in _matches(text, cfg):
            first = first or written
            if normalised == extracted and written:
                return written
    return first


def stated(item: Item, grade: Grade, cfg: GraderConfig = DEFAULT) -> str | None:
    """:func:`stated_answer` of a graded item: an already extracted answer as given; a response after its
    end-of-thinking delimiter (the whole of it without one)."""
    if grade.extracted is None:
        return None
    if item.is_answer:
        return item.response.strip()
    text = item.response
    if item.think_end and item.think_end in text:
        text = text[text.rfind(item.think_end) + len(item.think_end):]
    return stated_answer(text, grade.extracted, item.answer_type, cfg)
