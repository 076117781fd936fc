"""What a claim kind's verdict says in words (:class:`Words`), and the two number formats every kind
uses. A kind's ``words`` function is called only when a verdict is rendered (:mod:`evalkit.report.claims`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    """A verdict's lines in the report, each "" when it has none; ``source`` "" for a verdict decided
    from sweep rows (rendered as ``sweep results``)."""

    statistic: str = ""
    interval: str = ""
    n: str = ""
    k: str = ""  # runs or seeds behind each number
    method: str = ""
    source: str = ""  # reported | published multi-seed | sweep, with the citation
    power: str = ""  # what would settle it, or the power of the test
    details: tuple[str, ...] = ()


def pct(x: float) -> str:
    """A proportion in percent with one decimal: ``56.7%``."""
    return f"{100 * x:.1f}%"


def p_value(p: float, name: str = "p", relation: str = "=") -> str:
    """A p-value as every claim prints it: ``p = 0.042``, and ``p < 0.001`` below 0.001 (never ``p = 0.000``);
    ``relation`` ``>=`` for a bound (``p >= 0.125``; below 0.001 with its first digit, ``p >= 0.0002``)."""
    if p < 0.001:
        return f"{name} < 0.001" if relation == "=" else f"{name} {relation} {p:.1g}"
    return f"{name} {relation} {p:.3f}"
