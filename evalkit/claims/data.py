"""What a claim kind reads: the reported numbers, the sweeps' results, alpha, and each model's source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from evalkit.claims.reported import Reported
from evalkit.store import Col
from evalkit.store.provenance import ModelSource


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

    def missing_benchmark(self, benchmark: str) -> str | None:
        """Why the reported numbers cannot decide a claim on ``benchmark`` ("" without a reported file,
        whose claim's ``needs`` says what to pass), or None when they have it."""
        if self.reported is None:
            return ""
        if benchmark not in self.reported.benchmarks:
            return f"the reported file has no benchmark {benchmark}"
        return None
