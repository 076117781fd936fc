"""Statistics never read texts (issue #37): every command that computes numbers reads only the columns it
needs; the texts (responses, thinking, answers, provenance) are read for grading and the samples on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.integrations.slurm import status as status_mod
from evalkit.pipeline import run_sweep, scripted_factory, scripted_resolve
from evalkit.pipeline.observer import Collect
from evalkit.spec import build_plan, parse_spec
from evalkit.store import FIELDS, NUMBERS, TEXTS, ResultStore

SPEC = """\
name: cols
model: {id: scripted, flops_config: smollm2-135m}
tasks: [{name: math500, where: {level: [1]}, limit: 8}]
seeds: [0, 1, 2]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40, 160], ignores: [0, 1], controls: [Wait, Hmm]}
parallel: {n: 4, caps: [40]}
"""

ADAPTIVE = SPEC.replace("name: cols", "name: adapt").replace(
    "seeds: [0, 1, 2]", "seeds:\n  adaptive: {start: 2, step: 2, max: 6, stop: {halfwidth: 3}}")


class Reads:
    """Every column set a Parquet read asks for (None: all of them) while patched in."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.columns: list[list[str] | None] = []
        real_read, real_dataset = pq.read_table, pads.dataset

        def read_table(source: Any, *a: Any, columns: list[str] | None = None, **kw: Any) -> Any:
            self.columns.append(None if columns is None else list(columns))
            return real_read(source, *a, columns=columns, **kw)

        class Dataset:
            def __init__(self, d: Any) -> None:
                self.d = d

            def to_table(self, columns: list[str] | None = None, **kw: Any) -> Any:
                self.outer.columns.append(None if columns is None else list(columns))
                return self.d.to_table(columns=columns, **kw)

            def __getattr__(self, name: str) -> Any:
                return getattr(self.d, name)

        Dataset.outer = self  # type: ignore[attr-defined]
        outer = self

        class ParquetFile(pq.ParquetFile):
            def read(self, columns: list[str] | None = None, **kw: Any) -> Any:
                outer.columns.append(None if columns is None else list(columns))
                return super().read(columns=columns, **kw)

        monkeypatch.setattr(pq, "ParquetFile", ParquetFile)
        monkeypatch.setattr(pq, "read_table", read_table)
        monkeypatch.setattr(pads, "dataset", lambda *a, **kw: Dataset(real_dataset(*a, **kw)))
        monkeypatch.setattr(status_mod.ds, "dataset", lambda *a, **kw: Dataset(real_dataset(*a, **kw)))

    def texts(self) -> list[list[str] | None]:
        """The reads that asked for a text column (or for every column)."""
        return [c for c in self.columns if c is None or set(c) & set(TEXTS)]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cols")
    run_sweep(build_plan(parse_spec(SPEC)), tmp, engine=scripted_factory, resolve=scripted_resolve,
              observer=Collect())
    return tmp


def test_numbers_are_every_column_but_the_texts() -> None:
    assert set(NUMBERS) | set(TEXTS) == set(FIELDS) and not set(NUMBERS) & set(TEXTS)


@pytest.mark.parametrize("command", [
    ["report", "{d}"],
    ["figures", "{d}", "--out", "{t}/figs"],
    ["claims", "{d}", "--out", "{t}/claims", "--allow-scripted"],
    ["status", "{d}"],
    ["sweep", "{spec}", "--engine", "scripted", "--results", "{root}"],  # a rerun with nothing to do
    ["sweep", "{spec}", "--engine", "scripted", "--results", "{root}", "--dry-run"],
])
def test_no_statistics_command_reads_a_text_column(results: Path, tmp_path: Path, command: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "cols.yaml"
    spec.write_text(SPEC)
    args = [a.format(d=results / "cols", t=tmp_path, spec=spec, root=results) for a in command]
    reads = Reads(monkeypatch)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert reads.columns, "the command read no Parquet through the patched readers"
    assert not reads.texts(), reads.texts()


def test_adaptive_decisions_read_no_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = Reads(monkeypatch)
    res = run_sweep(build_plan(parse_spec(ADAPTIVE)), tmp_path, engine=scripted_factory, resolve=scripted_resolve,
                    observer=Collect())
    assert res.decision is not None and reads.columns
    assert not reads.texts(), reads.texts()


def test_the_projected_rows_equal_the_full_rows_on_their_columns(results: Path) -> None:
    store = ResultStore(results / "cols")
    full, numbers = store.read_rows(), store.read_rows(columns=NUMBERS)
    assert list(numbers.columns) == list(NUMBERS)
    assert numbers.equals(full[list(NUMBERS)])
    with pytest.raises(ValueError, match="unknown columns"):
        store.read_rows(columns=["no_such_column"])
