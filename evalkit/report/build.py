"""Report assembly: a results directory's tables, vote table, clean-subset comparison and matched-
compute section, as rich renderables for a terminal and as Markdown + HTML beside the results.

:func:`build` is what ``evalkit report`` (and ``evalkit sweep``) print; :func:`load_results` is the
shared way into a results directory for reports, figures and claims: the rows, a warning when their
verdicts come from another grader version, and the clean subset of an exclude list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.grade import GRADER_VERSION
from evalkit.report import adaptive, clean, html
from evalkit.report import matched as mt
from evalkit.report import provenance as prov
from evalkit.report.tables import cell_table, render_markdown, render_rich, render_votes_rich, vote_table
from evalkit.spec.exclude import ExcludeEntry, read_exclude
from evalkit.store import NUMBERS, Col, ResultsError, Samples, atomic_write_bytes, open_results
from evalkit.store.provenance import with_settings

Say = Callable[[str], None]


def _quiet(msg: str) -> None:
    pass


def stale_grader_warning(df: pd.DataFrame | None, results_dir: Path) -> str | None:
    """A warning when verdicts in a results directory come from another grader version than the
    installed one (None when every verdict is current)."""
    if df is None or df.empty or not Samples.of(df).has(Col.GRADER_VERSION):
        return None
    counts = Samples(df).grader_version.fillna("unknown").astype(str).value_counts()
    stale = {v: int(n) for v, n in counts.items() if v != GRADER_VERSION}
    if not stale:
        return None
    which = ", ".join(f"{n} by {v}" if v else f"{n} not graded (timeout or worker crash)"
                      for v, n in sorted(stale.items()))
    return (f"warning: {results_dir}: {sum(stale.values())} of {len(df)} verdicts were graded by another grader "
            f"version than the installed {GRADER_VERSION} ({which}); run `evalkit regrade {results_dir}`")


def read_exclude_list(path: Path, df: pd.DataFrame | None, say: Say = _quiet) -> list[ExcludeEntry]:
    """An exclude list's entries, checked against the problems present in ``df`` (when given)."""
    present: dict[str, set[str]] = {}
    s = Samples.of(df) if df is not None else None
    for t, p in zip(s.task, s.problem_id, strict=True) if s is not None else ():
        present.setdefault(str(t), set()).add(str(p))
    return read_exclude(path, extra_ids=present, warn=lambda m: say(f"warning: {m}"))


def clean_subset(df: pd.DataFrame, path: Path, say: Say = _quiet) -> tuple[pd.DataFrame, list[ExcludeEntry]]:
    """The rows of ``df`` whose problems are not on the exclude list (an error if none is left), and
    the list's entries."""
    entries = read_exclude_list(path, df, say)
    kept = df[~clean.exclude_mask(df, entries)].reset_index(drop=True)
    if kept.empty:
        raise ResultsError(f"{path}: excludes every problem of the results")
    say(f"{path.name}: {len(df) - len(kept)} of {len(df)} samples excluded")
    return kept, entries


def load_results(results_dir: str | Path, *, exclude: Path | None = None, need_rows: bool = False,
                 say: Say = _quiet, texts: bool = False) -> pd.DataFrame:
    """A results directory's rows (the clean subset with ``exclude``); warns through ``say`` when the
    verdicts are stale. The texts (responses, thinking, provenance) are read only with ``texts``: statistics
    never need them. When its cells differ in a setting beyond the grid (cells added with ``--add-cells``),
    the derived column ``setting`` names it per row (:func:`evalkit.store.provenance.with_settings`)."""
    results_dir = Path(results_dir)
    store = open_results(results_dir, need_rows=need_rows)
    df = with_settings(store.read_rows(columns=None if texts else NUMBERS), store.read_cells())
    warning = stale_grader_warning(df, results_dir)
    if warning:
        say(warning)
    return df if exclude is None else clean_subset(df, exclude, say)[0]


@dataclass
class Report:
    """What :func:`build` assembled: Markdown, terminal renderables (in print order) and the files written."""

    markdown: str
    renderables: list[Any] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


def _matched_section(df: pd.DataFrame, out_dir: Path, clean: bool, show: Callable[[Any], None],
                     say: Say, title: str) -> tuple[str, list[Path]]:
    """Sequential vs parallel at matched compute (Markdown, figure paths), when both families are there:
    one comparison per setting (cells of different settings are never pooled)."""
    md, paths = "", []
    for setting, part in prov.by_setting(df):
        x = mt.default_x(part)
        try:
            cmp_, arrs = mt.compare(part, x)
        except ValueError as e:
            say(f"matched-compute comparison{f' ({setting})' if setting else ''} skipped: {e}")
            continue
        section = mt.render_markdown(cmp_, x, setting)
        show(section)
        base = out_dir / "figures" / f"matched_{x}{prov.slug(setting)}{'_clean' if clean else ''}"
        figs = mt.plot(cmp_, arrs, x, base, title=title + (f" ({setting})" if setting else ""))
        say(f"wrote {', '.join(str(p) for p in figs)}")
        md += "\n" + section + f"\n![matched compute](figures/{figs[1].name})\n"
        paths += figs
    return md, paths


def served_note(manifest: dict[str, Any]) -> str:
    """A warning for every model the manifest records as generated by a text-only server."""
    return "".join(
        f"\n> **Not token-exact:** {mid} was generated by a text-only server ({', '.join(info['server']['urls'])}): "
        "prompts went as text and results were re-tokenised, so a thinking cap can be off by a token.\n"
        for mid, info in manifest.get("models", {}).items()
        if isinstance(info, dict) and (info.get("server") or {}).get("token_exact") is False)


def added_note(manifest: dict[str, Any]) -> str:
    """A note naming every difference runs accepted with ``--add-cells`` (settings outside the cell key, such as
    engine arguments or a verifier, are in no table column: this is where a reader learns of them)."""
    changes = list(dict.fromkeys(c for r in manifest.get("runs", []) for c in r.get("added_cells_differing_in", [])))
    if not changes:
        return ""
    return ("\n> **Settings differ between runs** (added with --add-cells): " + "; ".join(changes)
            + ". Tables label the cells by the settings their keys hold; the rest is said only here.\n")


def build(results_dir: str | Path, *, exclude: Path | None = None, show: Callable[[Any], None] | None = None,
          say: Say = _quiet) -> Report:
    """Assemble and write ``report.md`` / ``report.html`` (``report-clean.*`` with ``exclude``: every
    table on the clean subset, plus full vs clean per cell). ``show`` receives each renderable as it is
    ready (a rich table or Markdown text), ``say`` each message."""
    out_dir = Path(results_dir)
    rep = Report("")
    emit = (lambda r: (rep.renderables.append(r), show(r))) if show else rep.renderables.append
    df = load_results(out_dir, say=say)
    title, stem, clean_md = out_dir.name, "report", ""
    if exclude is not None:
        df_full = df
        df, entries = clean_subset(df_full, exclude, say)
        rows_full = clean.full_vs_clean(df_full, entries)
        title, stem = f"{out_dir.name} (clean: without the problems of {exclude.name})", "report-clean"
        emit(clean.render_rich(rows_full, exclude.name))
        clean_md = "\n" + clean.render_markdown(rows_full, exclude.name, len(entries))
    sources = prov.sources_of(out_dir, df)
    doubles = prov.test_doubles(sources)
    if doubles:  # first, before any number
        emit(prov.banner_panel(doubles))
    rows, votes = cell_table(df), vote_table(df)
    emit(render_rich(rows, title=title))
    if votes:
        emit(render_votes_rich(votes))
    store = open_results(out_dir)
    seeds = store.read_manifest().get("spec", {}).get("seeds")
    adaptive_max = seeds.get("adaptive", {}).get("max") if isinstance(seeds, dict) else None
    adaptive_md = adaptive.render_markdown(store.decisions(), adaptive_max)
    if adaptive_md:
        emit(adaptive_md)
    headings = {m: prov.model_heading(m, sources) for m in sources}
    md = render_markdown(rows, title=title, votes=votes, headings=headings, banner=prov.banner(doubles))
    md += adaptive_md + clean_md
    md += served_note(store.read_manifest()) + added_note(store.read_manifest())
    if votes and Samples.of(df).has_method("sequential"):
        section, paths = _matched_section(df, out_dir, exclude is not None, emit, say,
                                          prov.figure_title(out_dir.name, sources))
        md += section
        rep.paths += paths
    atomic_write_bytes(out_dir / f"{stem}.md", md.encode())
    atomic_write_bytes(out_dir / f"{stem}.html", html.markdown_to_html(md, title=out_dir.name).encode())
    rep.paths += [out_dir / f"{stem}.md", out_dir / f"{stem}.html"]
    say(f"wrote {out_dir / f'{stem}.md'}")
    rep.markdown = md
    return rep
