"""Text normalisation for overlap detection: LaTeX markup and number formatting removed.

``words`` gives the word sequence the n-gram method compares: lowercase, NFKC, LaTeX formatting
commands and delimiters dropped (``\\frac{1}{2}`` and ``1/2`` both give ``1 2``), commands that carry
meaning kept as words (``\\sqrt`` -> ``sqrt``, ``\\le`` -> ``le``), thousands separators and trailing
decimal zeros removed (``1{,}000.50`` -> ``1000.5``), letters and digits split (``2x`` -> ``2 x``).

``embedding_text`` is what the sentence-embedding model sees: single-letter variables in math mode
renamed by order of appearance (``x, y, z, ...``), markup and figures (Asymptote, TikZ) removed,
words and punctuation kept, numbers formatted as above. Canonical variables are what lets the
embedding check catch renamed problems (the recall they bring: ``benchmarks/design_results.md``).
"""

from __future__ import annotations

import re
import unicodedata

# Commands that only format: dropped. Every other command is kept as a word (its name).
FORMAT_COMMANDS = frozenset(
    """frac dfrac tfrac cfrac left right bigl bigr Bigl Bigr big Big bigg Bigg middle displaystyle textstyle
    scriptstyle text textbf textit textrm texttt mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak
    operatorname mbox hbox emph boxed fbox quad qquad hspace vspace hfill noindent newline linebreak
    label tag nonumber notag limits nolimits phantom hphantom vphantom mathstrut strut ensuremath rm bf it
    sf tt cal underline overline widehat widetilde hat tilde bar vec dot ddot overrightarrow overleftarrow
    centering small large Large tiny footnotesize normalsize scriptsize par item ldots cdots dots dotsc
    dotsb vdots ddots ,  ; ! : qquad""".split()
)
_ENV = re.compile(r"\\(?:begin|end)\s*\{[^}]*\}")
_ASY = re.compile(r"\[asy\].*?\[/asy\]|\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", re.S)
_CMD = re.compile(r"\\([A-Za-z]+)\*?|\\(.)")
_THOUSANDS_BRACE = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")
_LEAD_ZERO = re.compile(r"(?<![\d.])0+(?=\d)")
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
MATH_SEGMENT = re.compile(r"(\$\$.*?\$\$|\$.*?\$|\\\[.*?\\\]|\\\(.*?\\\))", re.S)
MATH_TOKEN = re.compile(r"\\(?:text|textbf|mathrm|mbox|operatorname)\{[^}]*\}|\\[A-Za-z]+|[A-Za-z]")
CANONICAL_LETTERS = "xyzwuvabcdefghijklmnopqrst"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _command(m: re.Match[str]) -> str:
    name = m.group(1)
    if name is None:  # \% \$ \{ \, ...
        sym = m.group(2)
        return " percent " if sym == "%" else " "
    return " " if name in FORMAT_COMMANDS else f" {name} "


def _decimal(m: re.Match[str]) -> str:
    whole, frac = m.group(1) or "0", m.group(2).rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def split_math(text: str) -> list[tuple[bool, str]]:
    """(is_math, segment) pieces of ``text``; math is ``$...$``, ``$$...$$``, ``\\[...\\]``, ``\\(...\\)``."""
    out, pos = [], 0
    for m in MATH_SEGMENT.finditer(text):
        if m.start() > pos:
            out.append((False, text[pos:m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


def canonical_variables(text: str) -> str:
    """Rename single-letter variables in math mode by order of first appearance (x, y, z, w, ...),
    so that problems differing only in variable names read the same (alpha-renaming)."""
    mapping: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if len(tok) != 1:
            return tok
        if tok not in mapping:
            mapping[tok] = CANONICAL_LETTERS[len(mapping) % len(CANONICAL_LETTERS)]
        return mapping[tok]

    return "".join(MATH_TOKEN.sub(sub, s) if is_m else s for is_m, s in split_math(text))


def format_numbers(text: str) -> str:
    """``1{,}000`` / ``1,000`` -> ``1000``; ``2.50`` -> ``2.5``; ``3.0`` -> ``3``; ``.5`` -> ``0.5``;
    ``007`` -> ``7``."""
    text = _THOUSANDS_BRACE.sub("", text)
    text = _THOUSANDS.sub("", text)
    text = _DECIMAL.sub(_decimal, text)
    return _LEAD_ZERO.sub("", text)


def strip_latex(text: str) -> str:
    """Markup out, meaning kept: environments, Asymptote figures, ``$`` and formatting commands go;
    other command names stay as words; braces, ``^`` and ``_`` become spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _THOUSANDS_BRACE.sub("", text)  # before braces become spaces
    text = _ASY.sub(" ", text)
    text = _ENV.sub(" ", text)
    text = text.replace("%", " percent ").replace("\\%", " percent ")
    text = _CMD.sub(_command, text)
    text = re.sub(r"[${}^_&~]", " ", text)
    return text


def words(text: str) -> list[str]:
    """The normalised word sequence used by the n-gram method."""
    return _WORD.findall(format_numbers(strip_latex(text).lower()))


def embedding_text(text: str) -> str:
    """What the sentence encoder sees: variables canonicalised (:func:`canonical_variables`), markup
    and figures removed, numbers formatted as for n-grams, punctuation and case kept."""
    t = format_numbers(strip_latex(canonical_variables(text)))
    return re.sub(r"\s+", " ", t).strip()
