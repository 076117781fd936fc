"""One cache directory for every stage (evalkit/paths.py)."""

from __future__ import annotations

from pathlib import Path

from evalkit.contamination import embed
from evalkit.generate import packs
from evalkit.grade import cache
from evalkit.paths import cache_dir
from evalkit.pipeline import throughput


def caches() -> list[Path]:
    return [packs.cache_root(), cache.default_path(), throughput.history_path(), embed.cache_root()]


def test_every_cache_follows_evalkit_cache_then_xdg_then_home(tmp_path: Path, monkeypatch) -> None:
    for var in ("EVALKIT_GRADE_CACHE", "EVALKIT_THROUGHPUT"):  # the two files' own overrides (the tests set them)
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "ek"))
    assert caches() == [tmp_path / "ek" / n for n in ("models", "grades.sqlite", "throughput.json", "contamination")]
    monkeypatch.delenv("EVALKIT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "evalkit"
    assert all(p.parent == tmp_path / "xdg" / "evalkit" for p in caches())
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir("models") == tmp_path / "home" / ".cache" / "evalkit" / "models"
