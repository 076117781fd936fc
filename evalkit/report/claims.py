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

from evalkit.report.claim_data import NEEDS, ClaimData, Verdict, needs
from evalkit.report.claims_reported import ladder_step, ladder_trend_kind, two_systems
from evalkit.report.claims_sweep import control_token, length_confound, matched_compute, seed_variance
from evalkit.report.reported import Reported
from evalkit.spec.claims import Claim, ClaimsError, ClaimsFile, load_claims

# The shipped claims file, in evalkit's repository (next to paper_figs/s1_reported.yaml)
DEFAULT_CLAIMS = Path(__file__).resolve().parents[2] / "paper_figs" / "s1_claims.yaml"

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

__all__ = ["DEFAULT_CLAIMS", "KINDS", "ClaimData", "Verdict", "decide", "decide_claim", "read_claims",
           "render_markdown"]


def read_claims(path: str | Path | None = None, reported: Reported | None = None) -> ClaimsFile:
    """The claims file at ``path`` (default: the shipped s1 claims), validated; with ``reported``, the
    benchmarks and systems its claims name are checked against that file too."""
    if path is None and not DEFAULT_CLAIMS.is_file():
        raise ClaimsError([f"{DEFAULT_CLAIMS}: no such file; give a claims file (--claims FILE)"])
    names: dict[str, set[str]] = {}
    if reported is not None:
        names = {"benchmarks": set(reported.benchmarks),
                 "systems": {x.system for x in [*reported.results, *reported.forcing_ladder]}}
    return load_claims(DEFAULT_CLAIMS if path is None else path, **names)


def decide_claim(claim: Claim, data: ClaimData) -> Verdict:
    """One claim's verdict from its kind; a verdict that needs data says what would decide it."""
    v = KINDS[claim.kind](data, claim.params())
    v.claim, v.text = claim.id, claim.statement
    if v.verdict == NEEDS and not v.power:
        v.power = claim.needs
    if not v.source and v.verdict != NEEDS:  # what a sweep-based claim was decided from
        v.source = "sweep results"
    return v


def decide(reported: Reported | None, results: list[pd.DataFrame], alpha: float = 0.05, *,
           claims: ClaimsFile | None = None) -> list[Verdict]:
    """Every claim's verdict, in the file's order (default: the shipped s1 claims)."""
    cf = claims if claims is not None else read_claims(None, reported)
    data = ClaimData(reported, results, alpha)
    return [decide_claim(c, data) for c in cf.claims]


def render_markdown(verdicts: list[Verdict], alpha: float, sources: list[str],
                    citations: dict[str, str] | None = None, title: str = "Claims") -> str:
    lines = [f"# {title}: verdicts", "",
             f"alpha = {alpha}; sources: {', '.join(sources) if sources else 'none'}", ""]
    for v in verdicts:
        lines += [f"## {v.claim}: {v.text}", "", f"**Verdict: {v.verdict}**", ""]
        for label, val in (("Statistic", v.statistic), ("Interval", v.interval), ("n", v.n), ("k", v.k),
                           ("Method", v.method), ("Source", v.source), ("What would settle it / power", v.power)):
            if val:
                lines.append(f"- {label}: {val}")
        lines += [f"  - {d}" for d in v.details] if v.details else []
        lines.append("")
    if citations:
        lines += ["## Sources", ""] + [f"- {k}: {t}" for k, t in citations.items()] + [""]
    return "\n".join(lines)
