"""What a claim kind reads (reported numbers, sweep results, alpha) and what it returns (a verdict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from evalkit.report.reported import Reported

NEEDS = "needs generations"


@dataclass
class Verdict:
    verdict: str  # supported | not supported | inconclusive | needs generations
    statistic: str = ""
    interval: str = ""
    n: str = ""
    method: str = ""
    power: str = ""
    k: str = ""  # runs or seeds behind each number
    source: str = ""  # reported | published multi-seed | sweep, with the citation
    details: list[str] = field(default_factory=list)
    claim: str = ""  # the claim's id and statement (set by evalkit.report.claims.decide)
    text: str = ""


@dataclass(frozen=True)
class ClaimData:
    """Everything a claim is decided from: the reported file (or None) and the sweeps' results."""

    reported: Reported | None
    results: list[pd.DataFrame]
    alpha: float = 0.05

    @cached_property
    def rows(self) -> pd.DataFrame:
        """Every sweep's rows in one frame (empty without sweeps)."""
        return pd.concat(self.results, ignore_index=True) if self.results else pd.DataFrame()


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def p_value(p: float, name: str = "p", relation: str = "=") -> str:
    """A p-value as every claim prints it: ``p = 0.042``, and ``p < 0.001`` below 0.001 (never ``p = 0.000``);
    ``relation`` ``>=`` for a bound (``p >= 0.125``; below 0.001 with its first digit, ``p >= 0.0002``)."""
    if p < 0.001:
        return f"{name} < 0.001" if relation == "=" else f"{name} {relation} {p:.1g}"
    return f"{name} {relation} {p:.3f}"


def needs(power: str = "") -> Verdict:
    """The data to decide a claim is missing; ``power`` says what would decide it (else the claim's ``needs``)."""
    return Verdict(NEEDS, power=power)
