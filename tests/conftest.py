from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from evalkit.records import Cell, ForcingConfig, Problem, SamplingConfig


def make_problems(n: int = 6, task: str = "toy") -> list[Problem]:
    return [
        Problem(task=task, problem_id=f"p{i}", prompt=f"What is {i} + {i}?", gold=str(2 * i), answer_type="math")
        for i in range(n)
    ]


def make_cell(cap=64, k=0, controls=("Wait",), min_tokens=0, fmt="s1", temperature=0.7, answer_max=40):
    return Cell(
        task="toy",
        model="scripted",
        think_format=fmt,
        forcing=ForcingConfig(cap=cap, n_ignore=k, controls=tuple(controls) if k else (), min_tokens=min_tokens),
        sampling=SamplingConfig(temperature=temperature, top_p=1.0, answer_max_tokens=answer_max),
    )


def hub_cache_entry(cache: Path, repo_id: str, commit: str = "0" * 40) -> Path:
    """A model as the Hugging Face hub client leaves it in its cache (``refs/main`` -> ``snapshots/<commit>``
    with a config.json), without any download; returns the snapshot directory."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    (snap / "config.json").write_text('{"model_type": "qwen2"}')
    return snap


@pytest.fixture(autouse=True, scope="session")
def _private_grade_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never touch the user's verdict cache, nor this machine's record of measured tok/s."""
    import os

    cache = tmp_path_factory.mktemp("cache")
    os.environ["EVALKIT_GRADE_CACHE"] = str(cache / "grades.sqlite")
    os.environ["EVALKIT_THROUGHPUT"] = str(cache / "throughput.json")


@pytest.fixture
def problems() -> list[Problem]:
    return make_problems()


def load_benchmark(name: str) -> ModuleType:
    """A script of benchmarks/ as a module (tests reuse its simulation or corpus code)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod
