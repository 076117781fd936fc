"""Tasks: vendored data verified by sha256; GPQA from a user CSV with per-question seeded shuffles."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from evalkit.spec import tasks as T

ROOT = Path(__file__).resolve().parents[1]


def test_vendored_counts_and_prompts() -> None:
    assert len(T.load_problems("aime24")) == 30
    assert len(T.load_problems("aime25")) == 30
    math = T.load_problems("math500")
    assert len(math) == 500
    easy = T.load_problems("math500", where={"level": [1, 2]})
    assert len(easy) == 43 + 90
    assert all(p.meta["level"] in (1, 2) for p in easy)
    p = T.load_problems("aime24")[0]
    assert p.problem_id == "2024-I-1" and p.gold == "204" and p.answer_type == "integer"
    assert p.prompt.endswith("\\boxed{}.")


def test_sha256_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "tasks", tmp_path / "tasks")
    f = tmp_path / "tasks/data/aime_2024.jsonl"
    f.write_text(f.read_text().replace('"answer": "204"', '"answer": "205"'))
    monkeypatch.setenv("EVALKIT_TASKS_DIR", str(tmp_path / "tasks"))
    with pytest.raises(T.TaskError, match="sha256"):
        T.load_problems("aime24")
    assert len(T.load_problems("aime25")) == 30  # the untouched file still loads


def test_unknown_filter_field() -> None:
    with pytest.raises(T.TaskError, match="cannot filter"):
        T.load_problems("aime24", where={"level": [1]})


CANARY = "gpqa:beef:00000000-0000-0000-0000-000000000000"


def write_gpqa(path: Path, n: int = 12, reverse: bool = False) -> None:
    header = (["Pre-Revision Question", "Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
               "Incorrect Answer 3", "Record ID", "High-level domain", "Canary String"])
    rows = [[f"old {i}", f"Synthetic question {i}?\n", f"right{i} ", f"wrongA{i}", f"wrongB{i}", f"wrongC{i}",
             f"rec{i:014d}", "Physics", CANARY] for i in range(n)]
    if reverse:
        rows.reverse()
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def test_gpqa_from_user_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv_path = tmp_path / "gpqa_diamond.csv"
    write_gpqa(csv_path)
    monkeypatch.setenv(T.GPQA_ENV, str(csv_path))
    probs = T.load_problems("gpqa_diamond", run_seed=0)
    assert len(probs) == 12
    golds = set()
    for p in probs:
        i = int(p.problem_id[3:])
        assert CANARY not in p.prompt and "gpqa:" not in p.prompt and "old " not in p.prompt
        letter_line = next(line for line in p.prompt.splitlines() if line.startswith(f"{p.gold}) "))
        assert letter_line == f"{p.gold}) right{i}"  # the gold letter points at the correct answer, stripped
        golds.add(p.gold)
    assert len(golds) > 1  # shuffled, not always A
    # the layout depends on (Record ID, seed) only: not on row order ...
    rev = tmp_path / "rev.csv"
    write_gpqa(rev, reverse=True)
    by_id = {p.problem_id: p for p in probs}
    for p in T.load_problems("gpqa_diamond", data_path=str(rev), run_seed=0):
        assert by_id[p.problem_id].prompt == p.prompt
    # ... and changes with the run seed
    other = {p.problem_id: p.gold for p in T.load_problems("gpqa_diamond", run_seed=1)}
    assert any(other[k] != v.gold for k, v in by_id.items())


def test_gpqa_missing_data_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(T.GPQA_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(T.TaskError, match="gated"):
        T.load_problems("gpqa_diamond")
    bad = tmp_path / "bad.csv"
    bad.write_text("Question,Correct Answer\nq,a\n")
    with pytest.raises(T.TaskError, match="lacks columns"):
        T.load_problems("gpqa_diamond", data_path=str(bad))


def test_cli_tasks_lists_counts() -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app

    out = CliRunner().invoke(app, ["tasks"]).output
    assert "aime24" in out and "500" in out and "gated" in out
