"""Text-level rules for golds and answers, each a small named function: unit words and abbreviations in
plain text (``45 degrees``, ``12 square inches``, ``8 cm``, ``\\$5``, ``5 dollars``, ``100 m``) and mixed
numbers (``1 1/2``, ``2\\frac14``). A single letter glued to a number (``5m``) is no unit here: in a math
answer it is a variable unless the grader is told the answers carry units (``GraderConfig.unit_letters``)."""

from __future__ import annotations

import re
from fractions import Fraction

# unit words and abbreviations of two or more letters: units wherever they stand after a number
_WORDS = (
    r"(?:centi|milli|kilo)?met(?:er|re)s?|inch(?:es)?|in(?=\.)|feet|foot|yards?|miles?|cm|mm|km|ft|yds?|"
    r"units?|degrees?|deg|radians?|"
    r"seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|yrs?|"
    r"dollars?|cents?|euros?|pounds?|rupees?|yen|usd|"
    r"(?:kilo|milli)?grams?|kg|mg|lbs?|ounces?|oz|lit(?:er|re)s?|ml|gallons?|gal|"
    r"mph|kph|kmh|km/h|m/s|cm/s|ft/s|"
    r"people|persons?|students?|points?|ways?|apples?|marbles?|cookies?|books?|coins?|steps?|times"
)
_LETTERS = r"[a-zA-Z]"  # single-letter units (m, s, h, g, ...): only with unit_letters
_QUALIFIER = r"(?:(?:square|sq\.?|cubic|cu\.?)\s*)?"
_POWER = r"(?:\s*\^\s*\{?[23]\}?|\s*[²³])?"
_SPACE = r"(?:\s|\\[,;:! ]|~)*"
_TEXT_CMD = r"\\(?:text|textrm|textnormal|mathrm|mbox|textit|textbf|operatorname)\s*"


def _unit_re() -> re.Pattern[str]:
    word = f"(?:{_WORDS})"
    one = rf"{_QUALIFIER}{word}\.?{_POWER}(?:\s*(?:per|/)\s*{word})?"
    unit = rf"(?:{_TEXT_CMD}\{{\s*{one}\s*\}}{_POWER}|{one})"
    return re.compile(rf"(?:(?<=[\d}})\].])|(?<=\\pi))({_SPACE}){unit}(?![A-Za-z])", re.I)


_UNIT_WORD = _unit_re()
# a number, a space and one of math-verify's unit letters, nothing else ("100 m", "20 s"): a unit symbol
# standing apart, as math-verify reads it; glued to the number ("100m") it is a variable, unless unit_letters
# ("5m", "2 \\text{h}": any letter)
_NUMBER_SPACE_LETTER = re.compile(rf"^(\s*-?[\d.,]+)(?:\s|\\[,;: ]|~)+[mshgltdco]{_POWER}\s*$")
_NUMBER_LETTER = re.compile(rf"^(\s*-?[\d.,]+){_SPACE}(?:{_TEXT_CMD}\{{\s*{_LETTERS}\s*\}}|{_LETTERS}){_POWER}\s*$")
# plain-text words at the end of a gold, after a number ("3 students", "5 apples left"): math-verify
# drops them too; 3+ letters, so no variable (``2 + t``) and no LaTeX command (``\infty``) goes
_TRAILING_WORDS = re.compile(r"(?<=[\d}])\s+[A-Za-z]{3,}(?:\.?\s+[A-Za-z]{3,}){0,2}\.?\s*$")
_MARKS = re.compile(r"\\\$|(?<![\\\w])\$(?=\s*\d)|[€£¥₹°]")  # currency and degree signs


def strip_units(s: str, *, letters: bool = False) -> str:
    """``s`` without its unit text: unit words and abbreviations (with ``square``/``cubic``, an exponent,
    ``per``), inside ``\\text{}`` or not, wherever they follow a number; trailing plain-text words; currency
    and degree signs; one letter after a number and a space, and nothing else (``100 m``). With ``letters``,
    a single letter glued to a number is a unit too (``5m`` -> ``5``)."""
    t = (_NUMBER_LETTER if letters else _NUMBER_SPACE_LETTER).sub(r"\1", s)
    for _ in range(3):
        t2 = _UNIT_WORD.sub("", t)
        if t2 == t:
            break
        t = t2
    t = _TRAILING_WORDS.sub("", t)
    t = _MARKS.sub("", t)
    return t.strip() or s.strip()


_MIXED = re.compile(
    r"^\s*(-?)\s*(\d+)\s*(?:\s(\d+)\s*/\s*(\d+)|\\[dtc]?frac\s*(?:\{(\d+)\}|(\d))\s*(?:\{(\d+)\}|(\d)))\s*$"
)


def mixed_number(s: str) -> Fraction | None:
    """The value of a mixed number written whole (``1 1/2``, ``2\\frac14``, ``-3\\tfrac{1}{2}``) whose
    fraction is proper; None for anything else (``1\\frac{3}{2}`` is no mixed number)."""
    m = _MIXED.match(s.replace("\\!", "").replace("\\,", " ").replace("~", " "))
    if not m:
        return None
    whole = int(m.group(2))
    num = int(m.group(3) or m.group(5) or m.group(6))
    den = int(m.group(4) or m.group(7) or m.group(8))
    if den == 0 or not 0 < num < den:
        return None
    v = whole + Fraction(num, den)
    return -v if m.group(1) else v


def mixed_as_latex(s: str) -> str | None:
    """A mixed number rewritten as an improper fraction in LaTeX (``1 1/2`` -> ``\\frac{3}{2}``)."""
    v = mixed_number(s)
    if v is None:
        return None
    sign = "-" if v < 0 else ""
    return f"{sign}\\frac{{{abs(v.numerator)}}}{{{v.denominator}}}"


_REPEATING = re.compile(r"^\s*(-?)\s*(\d*)\.(\d*)\s*\\overline\s*\{\s*(\d+)\s*\}\s*$")


def repeating_as_latex(s: str) -> str | None:
    """A repeating decimal as a fraction in LaTeX (``0.\\overline{3}`` -> ``\\frac{1}{3}``,
    ``0.1\\overline{6}`` -> ``\\frac{1}{6}``); math-verify reads ``0.\\overline{3}`` as 0."""
    m = _REPEATING.match(s)
    if not m:
        return None
    lead, rep = m.group(3), m.group(4)
    v = int(m.group(2) or 0) + Fraction(int(lead + rep) - int(lead or 0), 10 ** len(lead) * (10 ** len(rep) - 1))
    sign = "-" if m.group(1) else ""
    return f"{sign}\\frac{{{v.numerator}}}{{{v.denominator}}}"
