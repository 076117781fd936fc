"""Regrade: re-apply the installed grader to a results directory, part by part, through the store
(every part rewritten atomically and journaled; samples unchanged, verdicts and vote classes new)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from evalkit.grade import GRADER_VERSION, GradeCache, GraderConfig, Item, grade_cached
from evalkit.pipeline.context import assign_classes
from evalkit.store import open_results


@dataclass(frozen=True)
class RegradeResult:
    rows: int
    changed: int  # verdicts that differ from the stored ones
    cached: int  # verdicts that came from the grade cache
    seconds: float
    grader_version: str


def regrade(results_dir: str | Path, *, workers: int = 1) -> RegradeResult:
    """Grade every stored answer again with the installed grader (cached verdicts make this
    near-instant) and rewrite the parts through the store."""
    store = open_results(results_dir)
    t0 = time.perf_counter()
    parts = [(f, store.read_part(f)) for f in store.shard_files()]
    items = [Item(r.answer_text, r.gold, r.answer_type) for _, rows in parts for r in rows]
    graded = (store.read_manifest().get("spec") or {}).get("grader") or {}  # the sweep's own grader settings
    cfg = GraderConfig(unit_letters=bool(graded.get("unit_letters", False)))
    gc = GradeCache(cfg=cfg)
    try:
        grades, hits = grade_cached(items, cfg, workers=workers, cache=gc)
    finally:
        gc.close()
    k = changed = 0
    for f, rows in parts:
        new = []
        for r in rows:
            g = grades[k]
            k += 1
            changed += r.correct != g.correct
            new.append(r.with_grade(g))
        store.rewrite_part(f, assign_classes(new), writer="regrade", event="regrade")
    store.write_manifest({**store.read_manifest(), "grader_version": GRADER_VERSION})
    return RegradeResult(len(items), changed, hits, time.perf_counter() - t0, GRADER_VERSION)
