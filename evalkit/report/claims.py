"""Verdicts on claims about a paper. The claims are data (a claims file, :mod:`evalkit.spec.claims`;
``paper_figs/s1_claims.yaml`` holds the team's claims C1-C9 about s1); each names a *kind*, and the kind's
function decides it from reported numbers (single runs, published multi-seed results, budget-forcing
ladders) and/or sweep results, with every statistic computed by :mod:`evalkit.analyze`.

Each verdict states the statistic, its interval, n, k (runs or seeds), the method, its data source,
and a power analysis that says what data would settle an inconclusive claim.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.report import provenance as prov
from evalkit.report.claim_data import NEEDS, NOT_APPLICABLE, NOT_DECIDABLE, ClaimData, Verdict, needs
from evalkit.report.claims_reported import ladder_step, ladder_trend_kind, two_systems
from evalkit.report.claims_sweep import control_token, length_confound, matched_compute, seed_variance
from evalkit.report.reported import Reported
from evalkit.spec.claims import Claim, ClaimsError, ClaimsFile, load_claims
from evalkit.spec.shipped import CLAIMS_FILE, locate, shipped
from evalkit.store import Col
from evalkit.store.provenance import SETTING, TEST_DOUBLES, ModelSource, model_sources

# The shipped claims file (next to paper_figs/s1_reported.yaml); the default is the working directory's
# paper_figs/s1_claims.yaml when there is one (evalkit.spec.shipped)
DEFAULT_CLAIMS = shipped(CLAIMS_FILE)

# kind -> its function of (data, parameters) -> verdict; the kinds and their parameters: evalkit.spec.claims.KINDS
KINDS: dict[str, Callable[[ClaimData, Any], Verdict]] = {
    "two_systems": two_systems,
    "seed_variance": seed_variance,
    "matched_compute": matched_compute,
    "control_token": control_token,
    "ladder_step": ladder_step,
    "length_confound": length_confound,
    "ladder_trend": ladder_trend_kind,
    "needs_generations": lambda data, p: needs(),
}
SWEEP_KINDS = frozenset({"seed_variance", "matched_compute", "control_token", "length_confound"})  # read sweep rows

__all__ = ["DEFAULT_CLAIMS", "KINDS", "ClaimData", "Verdict", "decide", "decide_claim", "read_claims",
           "render_markdown"]


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
                 "systems": {x.system for x in [*reported.results, *reported.forcing_ladder]}}
    return load_claims(default if path is None else path, **names)


def _by_setting(claim: Claim, data: ClaimData) -> Verdict:
    """The kind's verdict, one per setting when the rows hold cells of several (never pooled): the claim
    holds only if it holds in every setting (an intersection-union test, level alpha)."""
    settings = sorted({str(x) for df in data.results if SETTING in df for x in df[SETTING].unique()})
    if len(settings) < 2:
        return KINDS[claim.kind](data, claim.params())
    parts = []
    for st in settings:
        part = data.keep(lambda i, df, st=st: df[SETTING] == st if SETTING in df else df[Col.CELL_ID].isna())
        parts.append((st, KINDS[claim.kind](part, claim.params())))
    decided = [v for _, v in parts if v.verdict != NEEDS]
    if not decided:
        return parts[0][1]
    kinds = {v.verdict for v in decided}
    verdict = kinds.pop() if len(kinds) == 1 and len(decided) == len(parts) else "inconclusive"
    used = [v.used for v in decided if v.used is not None]
    return Verdict(verdict, statistic=f"decided in each of {len(parts)} settings separately (never pooled)",
                   method=decided[0].method, source="sweep results",
                   details=[f"{st}: {v.verdict}; {v.statistic} {v.interval}".strip() for st, v in parts],
                   used=pd.concat(used, ignore_index=True) if used else None)


def _sweep_verdict(claim: Claim, data: ClaimData, allow_test_double: bool) -> Verdict:
    """A sweep kind's verdict on the rows it may use: those of the models and benchmarks the claim applies
    to, never a test double's (unless allowed, for tests of evalkit)."""
    if claim.applies_to is not None and data.results:
        scoped = data.keep(lambda i, df: pd.Series([claim.applies_to.admits(str(m), str(t)) for m, t in  # type: ignore[union-attr]
                                                    zip(df[Col.MODEL], df[Col.TASK], strict=True)], index=df.index))
        if not scoped.results:
            held = "; ".join(sorted({f"{m} on {t}" for df in data.results
                                     for m, t in zip(df[Col.MODEL], df[Col.TASK], strict=True)}))
            return Verdict(NOT_APPLICABLE, power=f"the claim applies to {claim.applies_to}; the results hold {held}")
        data = scoped
    doubles = data.keep(data.test_double_mask)
    if doubles.results and not allow_test_double:
        real = data.keep(lambda i, df: ~data.test_double_mask(i, df))
        v = _by_setting(claim, real)
        if v.verdict == NEEDS and _by_setting(claim, doubles).verdict != NEEDS:
            return Verdict(NOT_DECIDABLE, power=f"only rows of a test double ({basis_of(doubles, None)}) would "
                           "decide it: run the sweep on a model (the vllm engine or a served model)")
        return v
    return _by_setting(claim, data)


def basis_of(data: ClaimData, used: pd.DataFrame | None) -> str:
    """What a verdict stands on: the rows it used (else every sweep row), per model with its engine."""
    rows = used if used is not None else (data.rows if data.results else None)
    if rows is None or not len(rows):
        return ""
    models = {str(m) for m in rows[Col.MODEL].unique()}
    return prov.basis(rows, {m: s for m in models if (s := data.source(m)) is not None})


def decide_claim(claim: Claim, data: ClaimData, *, allow_test_double: bool = False) -> Verdict:
    """One claim's verdict from its kind; a verdict that needs data says what would decide it. Sweep rows
    of a test double decide nothing (:data:`NOT_DECIDABLE`) unless ``allow_test_double`` (evalkit's own
    tests); every verdict from sweep rows names what it stands on (``basis``)."""
    if claim.kind in SWEEP_KINDS:
        v = _sweep_verdict(claim, data, allow_test_double)
    else:
        v = KINDS[claim.kind](data, claim.params())
    v.claim, v.text = claim.id, claim.statement
    if v.verdict == NEEDS and not v.power:
        v.power = claim.needs
    if not v.source and v.verdict not in (NEEDS, NOT_DECIDABLE, NOT_APPLICABLE):  # what it was decided from
        v.source = "sweep results"
    if v.used is not None:
        v.basis = basis_of(data, v.used)
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


def render_markdown(verdicts: list[Verdict], alpha: float, sources: list[str],
                    citations: dict[str, str] | None = None, title: str = "Claims", banner: str = "") -> str:
    """The verdicts in Markdown; ``banner``: a warning above them (results of a test double)."""
    lines = [f"# {title}: verdicts", "",
             f"alpha = {alpha}; sources: {', '.join(sources) if sources else 'none'}", ""]
    if banner:
        lines += [banner, ""]
    for v in verdicts:
        lines += [f"## {v.claim}: {v.text}", "", f"**Verdict: {v.verdict}**", ""]
        for label, val in (("Statistic", v.statistic), ("Interval", v.interval), ("n", v.n), ("k", v.k),
                           ("Method", v.method), ("Source", v.source), ("Stands on", v.basis),
                           ("What would settle it / power", v.power)):
            if val:
                lines.append(f"- {label}: {val}")
        lines += [f"  - {d}" for d in v.details] if v.details else []
        lines.append("")
    if citations:
        lines += ["## Sources", ""] + [f"- {k}: {t}" for k, t in citations.items()] + [""]
    return "\n".join(lines)
