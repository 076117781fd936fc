"""Claims files (``paper_figs/s1_claims.yaml``): claims about a paper, each an id, its statement, the
*kind* of evidence that decides it with that kind's parameters, the sources that make the claim (by
citation), and optionally what data would decide it when none is given. Validated like sweep specs:
every problem names ``file:line: key`` before anything is computed.

The kinds and their parameters are the registry's (:data:`evalkit.claims.registry.KINDS`)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit.claims import kinds as _kinds  # noqa: F401  (registers the shipped kinds)
from evalkit.claims.params import Params
from evalkit.claims.registry import KINDS
from evalkit.errors import EvalkitError
from evalkit.spec.errors import format_loc, key_path, message, validate_yaml
from evalkit.spec.shipped import find


class ClaimsError(EvalkitError, ValueError):
    """A claims file evalkit cannot use; the message names file, line and key of every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppliesTo(_Strict):
    """What a claim is about: sweep rows of other models or benchmarks do not decide it ("not applicable").
    A model matches by its id or the id's last part (``s1-32B`` matches ``simplescaling/s1-32B``), any case."""

    models: list[str] = Field(default_factory=list)
    benchmarks: list[str] = Field(default_factory=list)

    def admits(self, model: str, task: str) -> bool:
        """Whether rows of ``model`` on ``task`` are about this claim."""
        names = {m.lower() for m in self.models}
        ok_model = not names or model.lower() in names or model.rsplit("/", 1)[-1].lower() in names
        return ok_model and (not self.benchmarks or task in self.benchmarks)


class Claim(_Strict):
    id: str = Field(min_length=1)
    statement: str = Field(min_length=1)
    kind: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    sources: list[str] = Field(min_length=1)  # who makes the claim, by citation
    needs: str = ""  # what data would decide it, printed when none is given
    applies_to: AppliesTo | None = None  # bind the claim to models and/or benchmarks (sweep rows of others: n/a)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown kind {v!r}; kinds: {', '.join(sorted(KINDS))}")
        return v

    def params(self) -> Params:
        """The parameters as the kind's model (validated when the file was loaded)."""
        return KINDS[self.kind].params.model_validate(self.parameters)


class ClaimsFile(_Strict):
    title: str = "Claims"  # the verdicts' heading: "<title>: verdicts"
    claims: list[Claim] = Field(min_length=1)


def _problems(cf: ClaimsFile, benchmarks: Collection[str] | None,
              systems: Collection[str] | None) -> list[tuple[tuple[Any, ...], str]]:
    """(key path, message) of every parameter problem, duplicate id and unknown reference."""
    bad: list[tuple[tuple[Any, ...], str]] = []
    seen: set[str] = set()
    for i, c in enumerate(cf.claims):
        if c.id in seen:
            bad.append((("claims", i, "id"), f"duplicate claim id {c.id!r}"))
        seen.add(c.id)
        if KINDS[c.kind].requires_needs and not c.needs:
            bad.append((("claims", i, "needs"), f"a {c.kind} claim says what data would decide it"))
        try:
            p = c.params()
        except ValidationError as e:
            bad += [(("claims", i, "parameters", *key_path(err["loc"])), message(err, KINDS[c.kind].params))
                    for err in e.errors()]
            continue
        known = {"benchmark": benchmarks, "system": systems}
        for key, what in p.references.items():
            value, names = getattr(p, key), known[what]
            if value is not None and names is not None and value not in names:
                bad.append((("claims", i, "parameters", key),
                            f"unknown {what} {value!r} in the reported file; {what}s: {', '.join(sorted(names))}"))
    return bad


def parse_claims(text: str, source: str, *, benchmarks: Collection[str] | None = None,
                 systems: Collection[str] | None = None) -> ClaimsFile:
    """Validate a claims file's text; with the reported file's ``benchmarks`` and ``systems``, also the
    names the claims use. :class:`ClaimsError` naming ``source:line: key`` for every problem."""
    cf, index = validate_yaml(text, source, ClaimsFile, ClaimsError, "a claims file")
    bad = _problems(cf, benchmarks, systems)
    if bad:
        raise ClaimsError(list(dict.fromkeys(f"{source}:{index.line(loc) or '?'}: {format_loc(loc)}: {msg}"
                                             for loc, msg in bad)))
    return cast("ClaimsFile", cf)


def load_claims(path: str | Path, *, benchmarks: Collection[str] | None = None,
                systems: Collection[str] | None = None) -> ClaimsFile:
    """Read and validate a claims file (:func:`parse_claims`); a relative path that is not there is looked up in
    the working directory's then the shipped ``paper_figs/`` (:func:`evalkit.spec.shipped.find`)."""
    path = find(path, "paper_figs")
    if not path.is_file():
        raise ClaimsError([f"{path}: no such file"])
    return parse_claims(path.read_text(), str(path), benchmarks=benchmarks, systems=systems)
