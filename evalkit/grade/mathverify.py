"""Math and integer answers through math-verify: extraction and equivalence by math-verify first, then evalkit's
normalisation for what it misses. Model text only ever reaches math-verify's own parsers (a LaTeX
grammar and sympy's tokenizer-based parser), never ``eval``/``exec``/``sympify`` of a raw string."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import replace
from functools import lru_cache
from typing import Any

from evalkit.grade.config import GRADER_VERSION, GraderConfig
from evalkit.grade.units import mixed_as_latex, mixed_number, repeating_as_latex, strip_units
from evalkit.records import Grade
from evalkit.records import GradeReason as R


def _targets(cfg: GraderConfig, *, units: bool = True) -> list[Any]:
    """math-verify's extraction targets; ``units=False``: keep letters math-verify's LaTeX normalisation
    would drop as units (``5m`` stays 5m: a variable)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    latex_kw: dict[str, Any] = {"boxed_match_priority": cfg.boxed_match_priority}
    if not units:
        from latex2sympy2_extended.latex2sympy2 import NormalizationConfig

        latex_kw["normalization_config"] = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True,
                                                               nits=True, boxed="all", equations=False)
    out: list[Any] = []
    for m in cfg.match_types:
        out.append(LatexExtractionConfig(**latex_kw) if m == "latex" else ExprExtractionConfig())
    return out


@lru_cache(maxsize=16384)
def _parse(text: str, cfg: GraderConfig) -> tuple[Any, ...]:
    from math_verify import parse

    return tuple(parse(text, _targets(cfg), parsing_timeout=max(1, int(cfg.timeout_s))))


@lru_cache(maxsize=4096)
def _parse_keep_letters(text: str, cfg: GraderConfig) -> tuple[Any, ...]:
    from math_verify import parse

    return tuple(parse(text, _targets(cfg, units=False), parsing_timeout=max(1, int(cfg.timeout_s))))


# what a parse must keep of a gold to account for all of it: digits, variable letters, commas,
# brackets and the commands that carry value; unit text (with its exponent) and layout commands may go
_UNIT_TEXT = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox|mathbf|boldsymbol|bm)\s*\{[^{}]*\}(?:\^\{?\d+\}?)?")
_VALUE_COMMANDS = {"pi", "infty", "sqrt", "frac", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp",
                   "cup", "cap", "pm", "mp", "circ", "alpha", "beta", "gamma", "theta", "phi", "omega"}


_CONNECTIVE = re.compile(r"(?<![A-Za-z\\])(?:and|or)(?![A-Za-z])")  # "3 and 4": a list, as math-verify reads it


def _marks(s: str) -> Counter[str]:
    t = _UNIT_TEXT.sub(" ", s).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    t = _CONNECTIVE.sub(" ", re.sub(r"\\[,;:!> ]", " ", t))  # spacing commands: "\\," is no comma
    out = [m for m in re.findall(r"\\[a-zA-Z]+", t) if m[1:] in _VALUE_COMMANDS]
    out += re.findall(r"[0-9a-zA-Z,()\[\]]", re.sub(r"\\[a-zA-Z]+", " ", t))
    return Counter(out)


def covers(gold: str, extracted: str) -> bool:
    """Does a parse whose matched text is ``extracted`` (math-verify's normalised LaTeX) account for the
    whole gold? Every digit, variable, comma, bracket and value command of the gold (outside unit text)
    must still be there: ``3\\sqrt{13}`` parsed as ``3``, ``6 - 5i`` as ``5``, ``1,-2`` as ``1`` or
    ``-2.1``, ``\\frac 59`` as ``59``, ``(-\\infty, 0]`` as ``0`` are fragments and fail."""
    return not (_marks(gold) - _marks(extracted))


@lru_cache(maxsize=16384)
def _parse_with(text: str, kinds: tuple[str, ...], cfg: GraderConfig) -> tuple[Any, ...]:
    from math_verify import parse

    return tuple(parse(text, _targets(GraderConfig(match_types=kinds, boxed_match_priority=cfg.boxed_match_priority)),
                       parsing_timeout=max(1, int(cfg.timeout_s))))


def _body(gold: str) -> str:
    body = gold.strip()
    if len(body) > 1 and body.startswith("$") and body.endswith("$"):
        body = body.strip("$").strip()
    return body


def _whole(body: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """The parse of ``body`` that accounts for all of it (inline LaTeX, then a plain expression), or ()."""
    for kind in ("latex", "expr"):
        if kind not in cfg.match_types:
            continue
        g = _parse_with(f"${body}$" if kind == "latex" else body, (kind,), cfg)
        if len(g) >= 2 and covers(body, str(g[1])):
            return g
    return ()


def _gold_mixed(body: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """Rule ``mixed_number``: ``1 1/2`` is 3/2 (math-verify reads 1), ``2\\frac14`` is 9/4."""
    latex = mixed_as_latex(_UNIT_TEXT.sub(" ", body))  # "1 1/2 \\text{ cups}" too
    return _whole(latex, cfg) if latex else ()


def _gold_units(body: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """Rule ``unit_text``: unit words and abbreviations in plain text go (``45 degrees``, ``12 square
    inches``, ``8 cm``, ``3 students``, ``1 1/2 cups``); the rest must parse whole."""
    core = strip_units(body, letters=cfg.unit_letters)
    return (_gold_mixed(core, cfg) or _whole(core, cfg)) if core != body else ()


def _gold_unit_words(body: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """Unit words read before the whole gold only where math-verify would read them as variables
    (``10 dollars`` as a product of letters); a gold it reads cleanly (``\\$36``) stays ``whole``."""
    w = _whole(body, cfg)
    if w and not getattr(w[0], "free_symbols", None):
        return ()
    return _gold_units(body, cfg)


def _gold_letters(body: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """Rule ``letter_variable``: a letter glued to a number is a variable (``5m``, ``2s``, ``12ab``), which
    math-verify's normalisation drops as a unit. Only when math-verify's read lost letters, and the read
    keeping them accounts for the whole gold with them as variables (``3\\sqrt{``, ``1,,2`` stay refused)."""
    if cfg.unit_letters or "latex" not in cfg.match_types:
        return ()
    plain = _parse_with(f"${body}$", ("latex",), cfg)
    lost = _marks(body) - _marks(str(plain[1])) if len(plain) >= 2 else Counter()
    letters = {k for k in lost if len(k) == 1 and k.isalpha()}
    if not letters:
        return ()
    g = _parse_keep_letters(f"${body}$", cfg)
    names = {str(x) for x in getattr(g[0], "free_symbols", ())} if g else set()
    return g if len(g) >= 2 and covers(body, str(g[1])) and letters <= names else ()


def _gold_reference(body: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """Plain math-verify's parse of the gold, kept if it accounts for the gold once its unit text is gone."""
    if "latex" not in cfg.match_types:
        return ()
    g = _parse_with(f"${body}$", ("latex",), cfg)
    return g if len(g) >= 2 and covers(strip_units(body, letters=cfg.unit_letters), str(g[1])) else ()


def _gold_repeating(body: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """Rule ``repeating_decimal``: ``0.\\overline{3}`` is 1/3 (math-verify reads 0)."""
    latex = repeating_as_latex(body)
    return _whole(latex, cfg) if latex else ()


# in order; the first that accounts for the whole gold wins (a fragment never does)
_GOLD_ROUTES = (("mixed", _gold_mixed), ("repeating", _gold_repeating), ("units", _gold_unit_words),
                ("whole", _whole), ("units", _gold_units), ("letters", _gold_letters), ("units", _gold_reference))


@lru_cache(maxsize=16384)
def gold_route(gold: str, cfg: GraderConfig) -> tuple[str, tuple[Any, ...]]:
    """How a gold parsed (``whole``, ``mixed``, ``repeating``, ``units``, ``letters``; ``text`` with
    ``gold_format="text"``;
    ``""`` if it does not parse whole) and the parse; see :func:`parse_gold`."""
    if cfg.gold_format == "text":
        g = _parse(gold, cfg)
        if not g and not gold.strip().startswith("$"):
            g = _parse(f"${gold.strip()}$", cfg)
        return "text", g
    body = _body(gold)
    if not body:
        return "", ()
    for route, fn in _GOLD_ROUTES:
        g = fn(body, cfg)
        if g:
            return route, g
    return "", ()


def parse_gold(gold: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """A gold answer as stored in a task (``\\frac{14}{3}``, ``204``, ``$9$``): the body of a LaTeX
    answer, parsed as inline math; with ``expr`` among the match types (explicit settings, as some
    Math-Verify tests use), a gold that is no LaTeX is parsed as a plain expression. A parse is kept
    only if it :func:`covers` the whole gold; otherwise the result is empty (never a fragment). Before
    refusing, the gold is read as a mixed number (``1 1/2``), without its unit words (``45 degrees``,
    ``8 cm``), and with letters glued to numbers as variables (``5m``: math-verify drops the ``m`` as a
    unit), each still required to account for the whole gold.

    With ``cfg.gold_format == "text"`` the gold is text to extract from (as Math-Verify's tests parse
    their golds): parsed as it stands with the match types, then as inline LaTeX if nothing was found."""
    return gold_route(gold, cfg)[1]


def gold_problem(gold: str, answer_type: str, cfg: GraderConfig | None = None) -> str | None:
    """Why a gold cannot be graded against (None: it parses cleanly). Multiple-choice golds must be a
    letter; math and integer golds must parse whole (:func:`parse_gold`); integer golds must be 0-999."""
    cfg = cfg or GraderConfig()
    if answer_type == "mc":
        return None if re.fullmatch(r"\s*[A-Ea-e]\s*", gold) else "not a choice letter A-E"
    g = parse_gold(gold, cfg)
    if not g:
        return "does not parse as a whole (math-verify, inline LaTeX)"
    if answer_type == "integer":
        try:
            ok = int(g[0]) == g[0] and 0 <= int(g[0]) <= 999
        except (TypeError, ValueError):
            ok = False
        if not ok:
            return f"not an integer 0-999 (parsed {g[0]})"
    return None


# --- evalkit's normalisation (applied to extracted strings when math-verify says "not equal") -------

_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox|textit)\{([^{}]*)\}")
_UNITS = re.compile(r"\s*(?:\\,|\\;|\\!|~)?\s*(?:units?|cm|km|mm|inches|inch|in|feet|ft|meters?|miles?|"
                    r"degrees?|dollars?|cents?|hours?|minutes?|seconds?|days?|sq\.?\s*units?)\b(?:\^\s*\{?[23]\}?)?\.?\s*$",
                    re.I)


def normalize_answer(s: str) -> str:
    t = s.strip().strip("$").strip()
    t = re.sub(r"^\\boxed\{(.*)\}$", r"\1", t, flags=re.S)
    t = t.replace("\\!", "").replace("{,}", ",").replace("\\left", "").replace("\\right", "")
    t = t.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    t = re.sub(r"\^\s*\{?\\circ\}?", "", t)  # degrees
    t = t.replace("°", "")
    t = re.sub(r"\\%|%", "", t)  # percent: the number itself
    for _ in range(3):
        t = _TEXT.sub(lambda m: m.group(1), t)
    t = strip_units(_UNITS.sub("", t))
    t = re.sub(r"(?<=\d),(?=\d{3}(?:\D|$))", "", t)  # thousands separators
    if t.count("=") == 1:
        t = re.sub(r"^([a-zA-Z]\w*)\s*=\s*", "", t)  # x = 5 -> 5 (not inside lists of equations)
    return t.strip()


_BASE = re.compile(r"^([0-9A-Fa-f]+)(?:_\{?(\d+)\}?)?$")


def _base_digits(s: str) -> tuple[str, int | None] | None:
    """A numeral with an optional base subscript: ("40", 9) for ``40_9``, ("40", None) for ``40``.
    Only the written digits count: ``36`` (the decimal value of ``40_9``) is not ``40_9``, since a
    question that asks for base 9 is answered by base-9 digits."""
    m = _BASE.match(s.replace(" ", "").replace("{", "").replace("}", "") if "_" not in s else s.replace(" ", ""))
    if not m:
        return None
    return m.group(1), int(m.group(2)) if m.group(2) else None


def _expand_pm(s: str) -> list[str] | None:
    if "\\pm" not in s or s.count("\\pm") != 1:
        return None
    return [s.replace("\\pm", "+"), s.replace("\\pm", "-")]


# (math-verify turns "\\quad \\text{and} \\quad" into "\\quad, \\quad": a separator of solutions too)
_AND = re.compile(r"\s*(?:\\quad|\\qquad|\\,|\\;|~)*\s*(?:\\text\{\s*and\s*\}|\band\b|;|(?<=quad),(?=\s*\\q?quad))\s*"
                  r"(?:\\quad|\\qquad|\\,|\\;|~)*\s*")


def _split_list(s: str) -> list[str] | None:
    """An unordered answer list: "1, 2", or solutions joined by ";" / "and" ("p=5,q=2; p=7,q=2");
    not a tuple or an interval."""
    t = s.strip()
    if _AND.search(t):
        parts = [p.strip() for p in _AND.split(t)]
        return parts if len(parts) > 1 and all(parts) else None
    if t[:1] in "([{" or "," not in t:
        return None
    parts = [p.strip() for p in re.split(r",(?![^{(\[]*[})\]])", t)]
    return parts if len(parts) > 1 and all(parts) else None


def _mv_equal(a: str, b: str, cfg: GraderConfig) -> bool:
    from math_verify import verify

    pa, pb = _parse(f"${a}$", cfg), _parse(f"${b}$", cfg)
    if not pa or not pb:
        return a.replace(" ", "") == b.replace(" ", "")
    return bool(verify(list(pa), list(pb), float_rounding=cfg.precision, strict=cfg.strict,
                       allow_set_relation_comp=cfg.allow_set_relation_comp, timeout_seconds=max(1, int(cfg.timeout_s))))


def normalized_equal(gold: str, cand: str, cfg: GraderConfig) -> str | None:
    """Reason code if the normalised answers are equal, else None."""
    g, c = normalize_answer(gold), normalize_answer(cand)
    if not g or not c:
        return None
    if g.replace(" ", "") == c.replace(" ", ""):
        return R.NORMALIZED_STRING
    gd, cd = _base_digits(g), _base_digits(c)
    # a gold in base b ("40_9"): the same digits, base b or unstated
    if (gd is not None and gd[1] is not None and cd is not None and cd[0].upper() == gd[0].upper()
            and cd[1] in (None, gd[1])):
        return R.BASE_SUBSCRIPT
    for a, b in ((g, c), (c, g)):
        exp = _expand_pm(a)
        other = _split_list(b)
        if exp and other and len(other) == 2 and (
                (_mv_equal(exp[0], other[0], cfg) and _mv_equal(exp[1], other[1], cfg))
                or (_mv_equal(exp[0], other[1], cfg) and _mv_equal(exp[1], other[0], cfg))):
            return R.PM_EXPANSION
    gl, cl = _split_list(g), _split_list(c)
    if gl and cl and len(gl) == len(cl):
        remaining = list(cl)
        for x in gl:
            hit = next((y for y in remaining if _mv_equal(x, y, cfg)), None)
            if hit is None:
                break
            remaining.remove(hit)
        else:
            return R.UNORDERED_LIST
    if _mv_equal(g, c, cfg):
        return R.NORMALIZED_EQUIVALENT
    return None


# answer anchors of other languages (math-verify knows the English ones): the text after the last one
# is parsed first, so "Réponse : 220 $ ... 12 mois" gives 220, not the last number
_ANCHORS = re.compile(r"(?:réponse|respuesta|resposta|antwort|risposta|ответ|答案|结论|答|الإجابة|الجواب|उत्तर)"
                      r"\s*\**\s*[:：]?", re.I)
_SCRIPT_DIGIT = re.compile(r"(?<=[^\x00-\x7f\s])(?=[\d$\\-])|(?<=[\d}])(?=[^\x00-\x7f\s])")


def anchored_text(text: str) -> str | None:
    last = None
    for m in _ANCHORS.finditer(text):
        last = m
    if last is None:
        return None
    return _SCRIPT_DIGIT.sub(" ", text[last.end():])


def _factored(expr: Any) -> bool:
    """A factorisation: a product of two or more factors with variables, one of them a sum
    ((a+5)(b+2), x(x+3)), or a power of a sum ((x+1)^2, 2(x-1)^3). Not a constant times a sum ((x+2)/7)."""
    try:
        import sympy

        if not isinstance(expr, sympy.Expr) or not expr.free_symbols:
            return False
        factors = expr.args if isinstance(expr, sympy.Mul) else (expr,)
        with_vars = [f for f in factors if f.free_symbols]

        def is_sum(f: Any) -> bool:
            return isinstance(f, sympy.Add)

        powered = any(
            isinstance(f, sympy.Pow) and is_sum(f.base) and f.exp.is_Integer and f.exp >= 2 for f in with_vars
        )
        sums = any(is_sum(f.base if isinstance(f, sympy.Pow) else f) for f in with_vars)
        return powered or (len(with_vars) >= 2 and sums)
    except Exception:  # noqa: BLE001
        return False


def _extract(answer_text: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """The answer math-verify extracts from a response (answer anchors of other languages first)."""
    a: tuple[Any, ...] = ()
    if cfg.normalize:
        anchored = anchored_text(answer_text)
        if anchored:
            a = _parse(anchored, cfg)
    if not a:
        a = _parse(answer_text, cfg)
    if not a and cfg.normalize and _SCRIPT_DIGIT.search(answer_text):
        a = _parse(_SCRIPT_DIGIT.sub(" ", answer_text), cfg)  # numbers glued to CJK / Arabic text
    return a


def parse_answer(answer: str, cfg: GraderConfig) -> tuple[Any, ...]:
    """An already extracted answer (``\\dfrac{1}{3}``, ``\\frac34 i``, ``1/3``, ``45 degrees``), no delimiters
    needed: read whole as a gold is (:func:`parse_gold`), else extracted as from a response, then from
    ``$answer$``."""
    body = _body(answer)
    if not body:
        return ()
    g = parse_gold(body, replace(cfg, gold_format="answer"))
    return g or _parse(answer, cfg) or _parse(f"${body}$", cfg)


def _exact_answer(a: tuple[Any, ...], cfg: GraderConfig) -> tuple[tuple[Any, ...], str | None]:
    """Rules ``mixed_number`` / ``repeating_decimal`` on the answer side: an extracted ``1 1/2`` is 3/2 and
    ``0.\\overline{3}`` is 1/3 (math-verify reads 1 and 0). Returns the answer and the rule applied."""
    if not cfg.normalize:
        return a, None
    text = _UNIT_TEXT.sub(" ", str(a[-1]))
    for fn, why in ((mixed_as_latex, R.MIXED_NUMBER), (repeating_as_latex, R.REPEATING_DECIMAL)):
        latex = fn(text)
        b = _parse(f"${latex}$", cfg) if latex else ()
        if b:
            return b, why
    return a, None


def _verify(g: tuple[Any, ...], a: tuple[Any, ...], cfg: GraderConfig) -> bool:
    from math_verify import verify

    return bool(g and a and verify(list(g), list(a), float_rounding=cfg.precision, strict=cfg.strict,
                                   allow_set_relation_comp=cfg.allow_set_relation_comp,
                                   timeout_seconds=max(1, int(cfg.timeout_s))))


def _keep_letters(answer_text: str, cfg: GraderConfig, bare: bool) -> tuple[Any, ...]:
    """Rule ``letter_variable`` on the answer side: against a gold whose glued letters are variables
    (``5m``) the answer is read keeping its letters too (math-verify's own read of ``\\boxed{5m}`` is 5)."""
    return _parse_keep_letters(f"${_body(answer_text)}$" if bare else answer_text, cfg)


def _answer_units_rule(g: tuple[Any, ...], a: tuple[Any, ...], cfg: GraderConfig) -> str | None:
    """Rule ``unit_text`` on the answer side: ``5 dollars``, ``3 \\text{ sq units}``, ``60 mph`` -> the number."""
    ext = str(a[-1]) if len(a) > 1 else ""
    core = strip_units(ext, letters=cfg.unit_letters) if ext else ext
    if not core or core == ext:
        return None
    return R.UNIT_TEXT if _verify(g, _parse(f"${core}$", cfg), cfg) else None


def _reference_gold_rule(gold: str, g: tuple[Any, ...], a: tuple[Any, ...], route: str,
                         cfg: GraderConfig) -> str | None:
    """Never below plain math-verify: its own read of the gold (``$gold$``), when that read accounts for the
    whole gold once unit text is gone (so never a fragment), also counts (``30°`` read as the string
    ``30°`` matches ``\\boxed{30°}``). Not for a gold whose glued letters are variables or a mixed number."""
    body = _body(gold)
    if (
        route not in ("whole", "units")
        or repeating_as_latex(body)
        or mixed_number(_UNIT_TEXT.sub(" ", strip_units(body))) is not None
    ):
        return None  # evalkit reads these golds on purpose otherwise (5m is 5m, 1 1/2 is 3/2)
    pg = _parse(f"${body}$", cfg)
    if len(pg) < 2 or pg == g or not covers(strip_units(body, letters=cfg.unit_letters), str(pg[1])):
        return None
    if not _verify(pg, a, cfg) or (_factored(pg[0]) and not _factored(a[0])):
        return None
    return _ROUTE_REASON.get(route, R.EQUIVALENT)


_DECIMAL = re.compile(r"^\s*-?\d*\.(\d+)\s*$")


def _approximation_rule(g: tuple[Any, ...], extracted: str, cfg: GraderConfig) -> str | None:
    """Rule ``decimal_approximation`` (opt-in, ``GraderConfig.approximate``): a decimal equal to the exact
    numeric gold rounded or truncated to the decimals written (``3.14`` or ``3.142`` for ``\\pi``)."""
    m = _DECIMAL.match(extracted)
    if not cfg.approximate or not m or len(m.group(1).lstrip("0") or "") == 0:
        return None
    try:
        exact, got, d = float(g[0]), float(extracted), len(m.group(1))
    except (TypeError, ValueError):
        return None
    near = (round(exact, d), math.trunc(exact * 10**d) / 10**d)
    return R.DECIMAL_APPROXIMATION if exact != 0 and any(abs(x - got) < 1e-12 for x in near) else None


_ROUTE_REASON = {"units": R.UNIT_TEXT, "letters": R.LETTER_VARIABLE, "mixed": R.MIXED_NUMBER,
                 "repeating": R.REPEATING_DECIMAL}


def _not_integer(a: tuple[Any, ...]) -> bool:
    try:
        return not (int(a[0]) == a[0] and 0 <= int(a[0]) <= 999)
    except (TypeError, ValueError):
        return True


def grade_math(answer_text: str, gold: str, cfg: GraderConfig, *, integer: bool = False, bare: bool = False) -> Grade:
    """Grade a response (``bare``: an already extracted answer, :func:`parse_answer`) against a gold."""
    route, g = gold_route(gold, cfg)
    if not g:
        return Grade(False, None, R.GOLD_UNPARSABLE, GRADER_VERSION)
    a = parse_answer(answer_text, cfg) if bare else _extract(answer_text, cfg)
    if a and route == "letters":
        a = _keep_letters(answer_text, cfg, bare) or a
    if not a:
        return Grade(False, None, R.NO_ANSWER, GRADER_VERSION)
    a, exact = _exact_answer(a, cfg)
    extracted = str(a[-1]) if len(a) > 1 else str(a[0])
    if integer and _not_integer(a):
        return Grade(False, extracted, R.NOT_INTEGER, GRADER_VERSION)
    if _verify(g, a, cfg):
        if cfg.normalize and _factored(g[0]) and not _factored(a[0]):
            # a gold written as a product of sums is a factorisation: the expanded polynomial equals it but
            # does not answer "factor ..." (real output: "ab + 5b + 2a + 10" for gold (a+5)(b+2))
            return Grade(False, extracted, R.FORM_MISMATCH, GRADER_VERSION)
        why = exact or _ROUTE_REASON.get(route, R.EQUIVALENT)
        return Grade(True, extracted, why, GRADER_VERSION)
    if cfg.normalize:
        why = (_answer_units_rule(g, a, cfg)
               # (its re-reads drop glued letters as units: not for a gold whose letters are variables)
               or (normalized_equal(str(g[-1]), str(a[-1]), cfg) if len(g) > 1 < len(a) and route != "letters"
                   else None)
               or _reference_gold_rule(gold, g, a, route, cfg) or _approximation_rule(g, extracted, cfg))
        if why:
            return Grade(True, extracted, why, GRADER_VERSION)
    return Grade(False, extracted, R.NOT_EQUIVALENT, GRADER_VERSION)
