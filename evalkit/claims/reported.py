"""Reported results (``paper_figs/s1_reported.yaml``): single runs, published multi-seed results
(``seeds`` with ``mean`` and ``sd``, or ``per_seed``), budget-forcing ladders and seed-SD yardsticks,
each citing a source. Validated like sweep specs: every problem names ``file:line: key``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evalkit.errors import EvalkitError
from evalkit.spec.errors import format_loc, validate_yaml
from evalkit.spec.shipped import find

Percent = Annotated[float, Field(ge=0.0, le=100.0)]


class ReportedError(EvalkitError, ValueError):
    """A reported-results file evalkit cannot use; the message names file, line and key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sampling(_Strict):
    decoding: Literal["greedy", "sampled", "unknown"] = "unknown"
    temperature: float | None = Field(default=None, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)


class Result(_Strict):
    """One system on one benchmark: ``accuracy`` of one run (or an average over samples, ``samples``),
    or the mean of ``seeds`` runs with their ``sd`` (sample SD over seeds, in points) or ``per_seed``."""

    benchmark: str
    system: str
    source: str
    accuracy: Percent | None = None
    samples: str | None = None  # how an accuracy was obtained when a source says so
    seeds: int | None = Field(default=None, ge=1)
    mean: Percent | None = None
    sd: float | None = Field(default=None, ge=0.0)
    per_seed: list[Percent] | None = None
    sampling: Sampling = Field(default_factory=Sampling)
    note: str = ""

    @model_validator(mode="after")
    def _one_form(self) -> Result:
        if self.per_seed is not None:
            if self.seeds is not None and self.seeds != len(self.per_seed):
                raise ValueError(f"seeds is {self.seeds} but per_seed lists {len(self.per_seed)} accuracies")
            m = sum(self.per_seed) / len(self.per_seed)
            if self.mean is not None and abs(self.mean - m) > 0.05:
                raise ValueError(f"mean {self.mean} is not the mean of per_seed ({m:.2f})")
        elif self.mean is not None or self.sd is not None:
            if self.mean is None or self.sd is None or self.seeds is None:
                raise ValueError("a multi-seed result needs seeds, mean and sd (or per_seed)")
            if self.seeds < 2:
                raise ValueError("an SD over seeds needs seeds >= 2")
        elif self.accuracy is None:
            raise ValueError("give accuracy (one run), or seeds with mean and sd, or per_seed")
        if self.accuracy is not None and (self.mean is not None or self.per_seed is not None):
            raise ValueError("give either accuracy (one run) or a multi-seed result, not both")
        return self

    @property
    def multi_seed(self) -> bool:
        return self.per_seed is not None or self.mean is not None

    @property
    def k(self) -> int:
        return len(self.per_seed) if self.per_seed is not None else (self.seeds or 1)

    @property
    def center(self) -> float:
        """Accuracy in [0, 1]: the single run's, or the mean over seeds."""
        if self.per_seed is not None:
            return sum(self.per_seed) / len(self.per_seed) / 100
        return cast(float, self.mean if self.mean is not None else self.accuracy) / 100

    @property
    def seed_sd(self) -> float | None:
        """Sample SD of the per-seed accuracies, in [0, 1] units."""
        if self.per_seed is not None:
            m = self.center * 100
            return math.sqrt(sum((x - m) ** 2 for x in self.per_seed) / (len(self.per_seed) - 1)) / 100
        return None if self.sd is None else self.sd / 100


class Step(_Strict):
    ignores: int | Literal["auto"]
    accuracy: Percent


class Ladder(_Strict):
    """Accuracy of one system by the number of end-of-thinking attempts replaced by ``control``."""

    benchmark: str
    system: str
    control: str
    source: str
    steps: list[Step] = Field(min_length=2)
    sampling: Sampling = Field(default_factory=Sampling)
    note: str = ""


class Yardstick(_Strict):
    """Seed SDs (in points) of other systems on one benchmark, from one source: what an SD is compared with."""

    benchmark: str
    source: str
    seeds: int = Field(ge=2)
    sds: list[Annotated[float, Field(ge=0.0)]] = Field(min_length=1)
    note: str = ""


class Benchmark(_Strict):
    n: int = Field(ge=1)


class Reported(_Strict):
    sources: dict[str, str] = Field(min_length=1)
    benchmarks: dict[str, Benchmark] = Field(min_length=1)
    results: list[Result] = Field(min_length=1)
    forcing_ladder: list[Ladder] = Field(default_factory=list)
    seed_sd_yardstick: list[Yardstick] = Field(default_factory=list)

    def result(self, bench: str, system: str, *, multi_seed: bool = False) -> Result:
        for r in self.results:
            if r.benchmark == bench and r.system == system and r.multi_seed == multi_seed:
                return r
        raise KeyError(f"no {'multi-seed' if multi_seed else 'single-run'} result of {system} on {bench}")

    def find(self, bench: str, system: str, *, multi_seed: bool = False) -> Result | None:
        try:
            return self.result(bench, system, multi_seed=multi_seed)
        except KeyError:
            return None

    def cite(self, key: str) -> str:
        """A source's short name (its text up to the first ':' or ' ('); the full text is in ``sources``."""
        text = self.sources.get(key, key)
        return text.split(":")[0].split(" (")[0].strip()


def _references(rep: Reported) -> list[tuple[tuple[Any, ...], str]]:
    """(key path, message) of every source or benchmark named but not defined."""
    bad = []
    for fam in ("results", "forcing_ladder", "seed_sd_yardstick"):
        for i, x in enumerate(getattr(rep, fam)):
            if x.source not in rep.sources:
                bad.append(((fam, i, "source"), f"unknown source {x.source!r}; sources: {', '.join(rep.sources)}"))
            if x.benchmark not in rep.benchmarks:
                bad.append(((fam, i, "benchmark"),
                            f"unknown benchmark {x.benchmark!r}; benchmarks: {', '.join(rep.benchmarks)}"))
    return bad


def load_reported(path: str | Path) -> Reported:
    """Read and validate a reported-results file; :class:`ReportedError` naming file, line and key. A relative
    path that is not there is looked up in the working directory's then the shipped ``paper_figs/``."""
    path = find(path, "paper_figs")
    if not path.exists():
        raise ReportedError([f"{path}: no such file"])
    rep, index = validate_yaml(path.read_text(), str(path), Reported, ReportedError, "a reported-results file")
    bad = _references(rep)
    if bad:
        raise ReportedError([f"{path}:{index.line(loc) or '?'}: {format_loc(loc)}: {msg}" for loc, msg in bad])
    return cast("Reported", rep)
