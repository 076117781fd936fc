"""A persistent cache of verdicts keyed by (gold, answer text, answer type, think delimiter, grader
version and settings): regrading is a lookup unless the grader or its settings changed."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from evalkit.grade.api import grade_many
from evalkit.grade.config import GRADER_VERSION, GraderConfig
from evalkit.grade.sandbox import Item
from evalkit.paths import cache_dir
from evalkit.records import Grade


def default_path() -> Path:
    if os.environ.get("EVALKIT_GRADE_CACHE"):
        return Path(os.environ["EVALKIT_GRADE_CACHE"])
    return cache_dir("grades.sqlite")


class GradeCache:
    def __init__(self, path: str | Path | None = None, cfg: GraderConfig | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS grades (key TEXT PRIMARY KEY, correct INTEGER, extracted TEXT, "
                        "reason TEXT, version TEXT)")
        cfg = cfg or GraderConfig()
        self.salt = json.dumps({"v": GRADER_VERSION, "cfg": cfg.key()}, sort_keys=True)

    def key(self, item: Item) -> str:
        fields = [self.salt, item.gold, item.response, item.answer_type, item.think_end]
        blob = json.dumps([*fields, "answer"] if item.is_answer else fields)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get_many(self, items: Sequence[Item]) -> list[Grade | None]:
        keys = [self.key(i) for i in items]
        found: dict[str, Grade] = {}
        for start in range(0, len(keys), 900):
            chunk = keys[start:start + 900]
            marks = ",".join("?" * len(chunk))
            q = f"SELECT key, correct, extracted, reason, version FROM grades WHERE key IN ({marks})"
            for k, c, e, r, v in self.db.execute(q, chunk):
                found[k] = Grade(bool(c), e, r, v)  # the reason is stored as text, parsed back here
        return [found.get(k) for k in keys]

    def put_many(self, items: Sequence[Item], grades: Sequence[Grade]) -> None:
        rows = [(self.key(i), int(g.correct), g.extracted, g.reason_text, g.grader_version or GRADER_VERSION)
                for i, g in zip(items, grades, strict=True) if not g.transient]
        self.db.executemany("INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?)", rows)
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def grade_cached(items: Sequence[Item], cfg: GraderConfig | None = None, *, workers: int = 1,
                 cache: GradeCache | None = None, timeout_s: float | None = None) -> tuple[list[Grade], int]:
    """Cached verdicts, the rest graded in the sandbox. Returns (grades, number served from the cache).
    Transient verdicts (a timeout, a dead worker: they depend on the machine) are not cached."""
    cfg = cfg or GraderConfig()
    own = cache is None
    cache = cache or GradeCache(cfg=cfg)
    try:
        got = cache.get_many(items)
        miss = [i for i, g in enumerate(got) if g is None]
        if miss:
            fresh = grade_many([items[i] for i in miss], cfg, workers=workers, timeout_s=timeout_s)
            cache.put_many([items[i] for i in miss], fresh)
            for i, g in zip(miss, fresh, strict=True):
                got[i] = g
        return got, len(items) - len(miss)  # type: ignore[return-value]  # every None slot of `got` was filled from `fresh` above
    finally:
        if own:
            cache.close()
