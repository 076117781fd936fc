"""A verdict on a claim, as data: the verdict (one word of :data:`VerdictValue`), the intervals and the
numbers the kind computed, and what the rows it used stand on. Nothing here is worded: the report
renders a verdict (:mod:`evalkit.report.claims`); :meth:`Verdict.to_dict` gives it as plain data, which
``evalkit claims --json`` writes (:mod:`evalkit.claims.jsonio`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from evalkit.analyze import Interval
from evalkit.claims.params import Params
from evalkit.records import check_vocabulary

VerdictValue = Literal["supported", "not supported", "inconclusive", "needs generations",
                       "not decidable: scripted engine", "not applicable"]
VERDICTS: tuple[str, ...] = get_args(VerdictValue)
SUPPORTED: VerdictValue = "supported"
NOT_SUPPORTED: VerdictValue = "not supported"
INCONCLUSIVE: VerdictValue = "inconclusive"
NEEDS: VerdictValue = "needs generations"  # the data to decide the claim is missing
NOT_DECIDABLE: VerdictValue = "not decidable: scripted engine"  # only a test double's rows would decide it
NOT_APPLICABLE: VerdictValue = "not applicable"  # the claim is bound to models/benchmarks the rows are not of
DECIDED: frozenset[str] = frozenset({SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE})


@dataclass(frozen=True)
class ModelBasis:
    """What a verdict stands on, for one model: the engine that generated its rows (``unknown`` when the
    results do not say), whether that engine is a test double, and the tasks, problems, seeds and cells used."""

    model: str
    engine: str
    test_double: bool
    tasks: tuple[str, ...]
    problems: int
    seeds: int
    cells: int


@dataclass(frozen=True)
class Verdict:
    """One claim's verdict.

    ``intervals``: the kind's intervals by name (:class:`evalkit.analyze.Interval`); ``numbers``: the
    figures it computed and the names and citations they are about, as plain data (numbers, strings, lists
    and mappings of them). ``needs``: for a verdict without data, what would decide it. ``settings``: a
    claim decided in each setting of its rows separately, each setting's verdict. ``basis``: the rows it
    stands on per model (for :data:`NOT_DECIDABLE`, the test double's rows that would decide it).
    ``claim``, ``statement``, ``kind`` and ``params`` are the claim's (set by :func:`evalkit.claims.decide`).
    """

    verdict: VerdictValue
    intervals: Mapping[str, Interval] = field(default_factory=dict)
    numbers: Mapping[str, Any] = field(default_factory=dict)
    needs: str = ""
    settings: tuple[tuple[str, Verdict], ...] = ()
    basis: tuple[ModelBasis, ...] = ()
    claim: str = ""
    statement: str = ""
    kind: str = ""
    params: Params | None = None
    used: pd.DataFrame | None = field(default=None, repr=False, compare=False)  # the sweep rows it was decided on

    def __post_init__(self) -> None:
        check_vocabulary("verdict", self.verdict, VERDICTS)

    @property
    def decided(self) -> bool:
        """Supported, not supported or inconclusive (else the data to decide it is missing or not evidence)."""
        return self.verdict in DECIDED

    def about(self, claim: str, statement: str, kind: str, params: Params | None) -> Verdict:
        """The same verdict, of the given claim."""
        return replace(self, claim=claim, statement=statement, kind=kind, params=params)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-able data (the shape ``evalkit claims --json`` writes; docs/claims.md)."""
        return {
            "claim": self.claim, "statement": self.statement, "kind": self.kind, "verdict": self.verdict,
            "parameters": self.params.model_dump(mode="json") if self.params is not None else {},
            "intervals": {k: plain(iv.to_dict()) for k, iv in self.intervals.items()},
            "numbers": plain(dict(self.numbers)), "needs": self.needs,
            "basis": [plain(vars(b)) for b in self.basis],
            "settings": [{"setting": st, **v.to_dict()} for st, v in self.settings],
        }


def plain(x: Any) -> Any:
    """``x`` as JSON data: numpy scalars and arrays as Python numbers and lists, tuples as lists, a
    number that is not finite as None."""
    if isinstance(x, Mapping):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple | np.ndarray):
        return [plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def needs(what: str = "") -> Verdict:
    """The data to decide a claim is missing; ``what`` says what would decide it (else the claim's ``needs``)."""
    return Verdict(NEEDS, needs=what)
