"""Verdicts on claims in words: each verdict's statistic, interval, n, k, method, source, what it stands on
and what would settle it. The verdicts are data (:mod:`evalkit.claims`); their kind words them
(:class:`evalkit.claims.Words`) here, when they are rendered, and nowhere else."""

from __future__ import annotations

from dataclasses import replace

from evalkit.claims import KINDS, Verdict, Words
from evalkit.claims.verdict import NEEDS, NOT_APPLICABLE, NOT_DECIDABLE
from evalkit.report.provenance import basis_text

__all__ = ["render_markdown", "words"]


def _scope(applies_to: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in (("models", applies_to.get("models", [])),
                                                         ("benchmarks", applies_to.get("benchmarks", []))) if v)


def words(v: Verdict) -> Words:
    """A verdict's lines: its kind's words for a decided verdict, what would decide it otherwise."""
    if v.verdict == NEEDS:
        return Words(power=v.needs)
    if v.verdict == NOT_APPLICABLE:
        return Words(power=f"the claim applies to {_scope(v.numbers['applies_to'])}; the results hold "
                           f"{'; '.join(v.numbers['held'])}")
    if v.verdict == NOT_DECIDABLE:
        return Words(power=f"only rows of a test double ({basis_text(v.basis)}) would decide it: run the sweep on a "
                           "model (the vllm engine or a served model)")
    if v.settings:
        parts = [(st, words(p)) for st, p in v.settings]
        first = next(w for (_, p), (_, w) in zip(v.settings, parts, strict=True) if p.verdict != NEEDS)
        return Words(statistic=f"decided in each of {len(parts)} settings separately (never pooled)",
                     method=first.method, source="sweep results",
                     details=tuple(f"{st}: {p.verdict}; {w.statistic} {w.interval}".strip()
                                   for (st, w), (_, p) in zip(parts, v.settings, strict=True)))
    w = KINDS[v.kind].words(v, v.params)
    return w if w.source else replace(w, source="sweep results")


def render_markdown(verdicts: list[Verdict], alpha: float, sources: list[str],
                    citations: dict[str, str] | None = None, title: str = "Claims", banner: str = "") -> str:
    """The verdicts in Markdown; ``banner``: a warning above them (results of a test double)."""
    lines = [f"# {title}: verdicts", "",
             f"alpha = {alpha}; sources: {', '.join(sources) if sources else 'none'}", ""]
    if banner:
        lines += [banner, ""]
    for v in verdicts:
        w = words(v)
        stands_on = basis_text(v.basis) if v.verdict != NOT_DECIDABLE else ""
        lines += [f"## {v.claim}: {v.statement}", "", f"**Verdict: {v.verdict}**", ""]
        for label, val in (("Statistic", w.statistic), ("Interval", w.interval), ("n", w.n), ("k", w.k),
                           ("Method", w.method), ("Source", w.source), ("Stands on", stands_on),
                           ("What would settle it / power", w.power)):
            if val:
                lines.append(f"- {label}: {val}")
        lines += [f"  - {d}" for d in w.details]
        lines.append("")
    if citations:
        lines += ["## Sources", ""] + [f"- {k}: {t}" for k, t in citations.items()] + [""]
    return "\n".join(lines)
