"""What a claim kind reads (reported numbers, sweep results, alpha) and what it returns (a verdict)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from evalkit.report.reported import Reported
from evalkit.store import Col
from evalkit.store.provenance import ModelSource

NEEDS = "needs generations"
NOT_DECIDABLE = "not decidable: scripted engine"  # only a test double's rows would decide it
NOT_APPLICABLE = "not applicable"  # the claim is bound to models/benchmarks the rows are not of


@dataclass
class Verdict:
    verdict: str  # supported | not supported | inconclusive | needs generations | NOT_DECIDABLE | NOT_APPLICABLE
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
    basis: str = ""  # what a verdict from sweep rows stands on: model, engine, tasks, problems, seeds
    used: pd.DataFrame | None = field(default=None, repr=False, compare=False)  # the sweep rows it was decided on


@dataclass(frozen=True)
class ClaimData:
    """Everything a claim is decided from: the reported file (or None), the sweeps' results, and for
    each results frame the source of each of its models (engine, test double or not)."""

    reported: Reported | None
    results: list[pd.DataFrame]
    alpha: float = 0.05
    sources: list[dict[str, ModelSource]] = field(default_factory=list)

    def source(self, model: str) -> ModelSource | None:
        """The source of a model's rows (the first frame's that names it)."""
        return next((s[model] for s in self.sources if model in s), None)

    def keep(self, rows: Callable[[int, pd.DataFrame], pd.Series]) -> ClaimData:
        """The same data with each frame's rows where ``rows(frame index, frame)`` holds (empty frames dropped)."""
        kept = [(df[rows(i, df)], self.sources[i] if i < len(self.sources) else {})
                for i, df in enumerate(self.results)]
        kept = [(df.reset_index(drop=True), src) for df, src in kept if len(df)]
        return ClaimData(self.reported, [df for df, _ in kept], self.alpha, [src for _, src in kept])

    def test_double_mask(self, i: int, df: pd.DataFrame) -> pd.Series:
        """The rows of frame ``i`` that a test double generated."""
        src = self.sources[i] if i < len(self.sources) else {}
        doubles = [m for m, s in src.items() if s.test_double]
        return df[Col.MODEL].isin(doubles)

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
