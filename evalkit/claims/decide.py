"""Verdicts on claims about a paper. The claims are data (a claims file, :mod:`evalkit.claims.schema`;
``paper_figs/s1_claims.yaml`` holds the team's claims C1-C9 about s1); each names a *kind*
(:data:`evalkit.claims.registry.KINDS`), and the kind's function decides it from reported numbers (single
runs, published multi-seed results, budget-forcing ladders) and/or sweep results, with every statistic
computed by :mod:`evalkit.analyze`.

Sweep rows are scoped first: to the models and benchmarks a claim ``applies_to``, without a test double's
rows, and one verdict per setting when the rows hold cells of several (never pooled)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import pandas as pd

from evalkit.claims.data import ClaimData
from evalkit.claims.registry import KINDS
from evalkit.claims.reported import Reported
from evalkit.claims.schema import Claim, ClaimsError, ClaimsFile, load_claims
from evalkit.claims.verdict import INCONCLUSIVE, NEEDS, NOT_APPLICABLE, NOT_DECIDABLE, ModelBasis, Verdict
from evalkit.spec.shipped import CLAIMS_FILE, locate, shipped
from evalkit.store import Col, Samples
from evalkit.store.provenance import SETTING, TEST_DOUBLES, ModelSource, model_sources

# The shipped claims file (next to paper_figs/s1_reported.yaml); the default is the working directory's
# paper_figs/s1_claims.yaml when there is one (evalkit.spec.shipped)
DEFAULT_CLAIMS = shipped(CLAIMS_FILE)


def read_claims(path: str | Path | None = None, reported: Reported | None = None) -> ClaimsFile:
    """The claims file at ``path`` (default: the working directory's ``paper_figs/s1_claims.yaml``, else the
    shipped s1 claims), validated; with ``reported``, the benchmarks and systems its claims name are checked
    against that file too."""
    default = locate(CLAIMS_FILE)
    if path is None and not default.is_file():
        raise ClaimsError([f"{default}: no such file; give a claims file (--claims FILE)"])
    names: dict[str, set[str]] = {}
    if reported is not None:
        names = {"benchmarks": set(reported.benchmarks),
                 "systems": {x.system for x in [*reported.results, *reported.forcing_ladder]}}  # type: ignore[attr-defined]  # both lists' models have `system`; mypy joins them to their base
    return load_claims(default if path is None else path, **names)


def basis(rows: pd.DataFrame, sources: Mapping[str, ModelSource]) -> tuple[ModelBasis, ...]:
    """What a verdict computed from ``rows`` stands on, per model: its engine, tasks, problems, seeds, cells."""
    s = Samples.of(rows)
    if s.empty:
        return ()
    out = []
    for model, g in s.by(Col.MODEL):
        src = sources.get(str(model))
        out.append(ModelBasis(str(model), src.engine if src is not None else "unknown",
                              src.test_double if src is not None else False,
                              tuple(sorted(map(str, g.task.unique()))), g.n_problems, g.n_seeds,
                              int(g.cell_id.nunique())))
    return tuple(out)


def _basis_of(data: ClaimData, rows: pd.DataFrame) -> tuple[ModelBasis, ...]:
    models = {str(m) for m in rows[Col.MODEL].unique()} if len(rows) else set()
    return basis(rows, {m: s for m in models if (s := data.source(m)) is not None})


def _of_setting(st: str) -> Callable[[int, pd.DataFrame], pd.Series]:
    """The rows of one setting (a frame without the setting column: its rows of no stored cell)."""

    def rows(i: int, df: pd.DataFrame) -> pd.Series:
        return df[SETTING] == st if SETTING in df else df[Col.CELL_ID].isna()

    return rows


def _by_setting(claim: Claim, data: ClaimData) -> Verdict:
    """The kind's verdict, one per setting when the rows hold cells of several (never pooled): the claim
    holds only if it holds in every setting (an intersection-union test, level alpha)."""
    kind, params = KINDS[claim.kind], claim.params()
    settings = sorted({str(x) for df in data.results if SETTING in df for x in df[SETTING].unique()})
    if len(settings) < 2:
        return kind.decide(data, params)
    parts = []
    for st in settings:
        part = data.keep(_of_setting(st))
        v = kind.decide(part, params).about(claim.id, claim.statement, claim.kind, params)
        parts.append((st, replace(v, basis=_basis_of(part, v.used)) if v.used is not None else v))
    decided = [v for _, v in parts if v.verdict != NEEDS]
    if not decided:
        return parts[0][1]
    verdicts = {v.verdict for v in decided}
    verdict = verdicts.pop() if len(verdicts) == 1 and len(decided) == len(parts) else INCONCLUSIVE
    used = [v.used for v in decided if v.used is not None]
    return Verdict(verdict, settings=tuple(parts), used=pd.concat(used, ignore_index=True) if used else None)


def _sweep_verdict(claim: Claim, data: ClaimData, allow_test_double: bool) -> Verdict:
    """A sweep kind's verdict on the rows it may use: those of the models and benchmarks the claim applies
    to, never a test double's (unless allowed, for tests of evalkit)."""
    scope = claim.applies_to
    if scope is not None and data.results:
        scoped = data.keep(lambda i, df: pd.Series([scope.admits(str(m), str(t)) for m, t in
                                                    zip(df[Col.MODEL], df[Col.TASK], strict=True)], index=df.index))
        if not scoped.results:
            held = sorted({f"{m} on {t}" for df in data.results
                           for m, t in zip(df[Col.MODEL], df[Col.TASK], strict=True)})
            return Verdict(NOT_APPLICABLE, numbers={"applies_to": scope.model_dump(), "held": held})
        data = scoped
    doubles = data.keep(data.test_double_mask)
    if doubles.results and not allow_test_double:
        real = data.keep(lambda i, df: ~data.test_double_mask(i, df))
        v = _by_setting(claim, real)
        if v.verdict == NEEDS and _by_setting(claim, doubles).verdict != NEEDS:
            return Verdict(NOT_DECIDABLE, basis=_basis_of(doubles, doubles.rows))
        return v
    return _by_setting(claim, data)


def decide_claim(claim: Claim, data: ClaimData, *, allow_test_double: bool = False) -> Verdict:
    """One claim's verdict from its kind; a verdict that needs data says what would decide it. Sweep rows
    of a test double decide nothing (:data:`NOT_DECIDABLE`) unless ``allow_test_double`` (evalkit's own
    tests); every verdict from sweep rows names what it stands on (``basis``)."""
    kind = KINDS[claim.kind]
    v = _sweep_verdict(claim, data, allow_test_double) if kind.reads_sweeps else kind.decide(data, claim.params())
    v = v.about(claim.id, claim.statement, claim.kind, claim.params())
    if v.verdict == NEEDS and not v.needs:
        v = replace(v, needs=claim.needs)
    if v.used is not None:
        v = replace(v, basis=_basis_of(data, v.used))
    return v


def decide(reported: Reported | None, results: list[pd.DataFrame], alpha: float = 0.05, *,
           claims: ClaimsFile | None = None, sources: list[dict[str, ModelSource]] | None = None,
           allow_test_double: bool = False) -> list[Verdict]:
    """Every claim's verdict, in the file's order (default: the shipped s1 claims). ``sources``: for each
    results frame, the source of each model (:func:`evalkit.report.provenance.sources_of`); without them
    a model named ``scripted`` counts as the test double."""
    cf = claims if claims is not None else read_claims(None, reported)
    if sources is None:
        sources = [model_sources({}, [str(m) for m in df[Col.MODEL].unique()] if len(df) else []) for df in results]
        sources = [{m: ModelSource(m, s.engine, s.test_double or m in TEST_DOUBLES) for m, s in src.items()}
                   for src in sources]
    data = ClaimData(reported, results, alpha, sources)
    return [decide_claim(c, data, allow_test_double=allow_test_double) for c in cf.claims]
