"""Where the shipped tasks, sweeps, reported results and claims are found (issue #38, item 5): a path given,
then the working directory's folder (a user's own files), then the shipped ones (evalkit.spec.shipped)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.claims import DEFAULT_CLAIMS, load_reported, read_claims
from evalkit.cli import app
from evalkit.spec import SpecError, TaskError, get_task, load_problems, load_spec, registry
from evalkit.spec import shipped as S

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_TASKS = {"aime24", "aime25", "gpqa_diamond", "math500"}

MY_TASK = """\
name: {name}
description: {description}
data: {{file: data/mine.jsonl, count: 2}}
answer_type: integer
prompt_template: "{{problem}}"
"""


def _my_tasks(folder: Path, name: str = "mine", description: str = "my own task") -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "mine.jsonl").write_text('{"id": "a", "problem": "1+1?", "answer": "2"}\n'
                                                 '{"id": "b", "problem": "2+2?", "answer": "4"}\n')
    (folder / f"{name}.yaml").write_text(MY_TASK.format(name=name, description=description))
    return folder


def test_from_the_checkout_the_shipped_files_are_the_repositorys() -> None:
    assert S.root() == ROOT  # an editable install or the checkout on sys.path: no copy, the top-level folders
    assert DEFAULT_CLAIMS == ROOT / "paper_figs" / "s1_claims.yaml"
    assert set(registry()) == SHIPPED_TASKS and get_task("aime24").path == ROOT / "tasks/data/aime_2024.jsonl"


def test_the_working_directorys_tasks_come_before_the_shipped_ones(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert set(registry()) == SHIPPED_TASKS  # no tasks/ here: the shipped ones
    _my_tasks(tmp_path / "tasks")
    _my_tasks(tmp_path / "tasks", name="aime24", description="my AIME")
    reg = registry()
    assert set(reg) == SHIPPED_TASKS | {"mine"}
    assert reg["aime24"].description == "my AIME" and reg["aime24"].path == tmp_path / "tasks/data/mine.jsonl"
    assert reg["math500"].path == ROOT / "tasks/data/math500.jsonl"  # what the user does not define: shipped
    assert [p.gold for p in load_problems("aime24")] == ["2", "4"]
    out = CliRunner().invoke(app, ["tasks"], terminal_width=200).output
    assert "my own task" in out and "my AIME" in out and "AIME 2024 I and II" not in out and "500" in out


def test_a_tasks_folder_given_comes_before_the_working_directorys(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _my_tasks(tmp_path / "tasks", name="aime24", description="here")
    given = _my_tasks(tmp_path / "given", name="aime24", description="given")
    monkeypatch.setenv(S.TASKS_ENV, str(given))
    assert registry()["aime24"].description == "given" and set(registry()) == SHIPPED_TASKS
    monkeypatch.setenv(S.TASKS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(TaskError, match="EVALKIT_TASKS_DIR=.*nowhere: no such folder"):
        registry()


def test_a_broken_task_file_of_the_user_is_named_with_its_line(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "bad.yaml").write_text("name: bad\ndescription: [unclosed\n")
    with pytest.raises(TaskError, match=r"tasks/bad\.yaml:\d+: not valid YAML"):
        registry()
    (tmp_path / "tasks" / "bad.yaml").write_text("name: bad\nanswer_type: integer\n")
    res = CliRunner().invoke(app, ["tasks"])
    assert res.exit_code == 2 and "bad.yaml: missing key 'data'" in res.output, res.output


def test_a_sweep_is_found_by_path_then_here_then_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shipped = ROOT / "sweeps" / "quickstart.yaml"
    for given in ("quickstart", "quickstart.yaml", "sweeps/quickstart.yaml"):
        assert S.find(given, "sweeps") == shipped, given
        assert load_spec(given).name == "quickstart"
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "quickstart.yaml").write_text(shipped.read_text().replace("name: quickstart", "name: mine"))
    assert load_spec("quickstart").name == "mine" and load_spec("sweeps/quickstart.yaml").name == "mine"
    assert load_spec(shipped).name == "quickstart"  # a path that exists is taken as given
    with pytest.raises(SpecError, match="quickstrat: no such spec file; shipped sweeps: quickstart"):
        load_spec("quickstrat")
    res = CliRunner().invoke(app, ["sweep", "flops_parity_cpu", "--dry-run"])
    assert res.exit_code == 0 and "sweep flops_parity_cpu: 5 cells" in res.output, res.output


def test_claims_and_reported_results_are_found_here_then_shipped(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert read_claims().title == "Claims about s1"  # the shipped default
    assert load_reported(S.REPORTED_FILE).benchmarks == load_reported(ROOT / S.REPORTED_FILE).benchmarks
    (tmp_path / "paper_figs").mkdir()
    text = (ROOT / S.CLAIMS_FILE).read_text().replace("title: Claims about s1", "title: My claims")
    (tmp_path / S.CLAIMS_FILE).write_text(text)
    assert read_claims().title == "My claims"  # the working directory's comes first
    res = CliRunner().invoke(app, ["claims", "--reported", S.REPORTED_FILE, "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "claims.md").read_text().startswith("# My claims: verdicts")
    shutil.rmtree(tmp_path / "paper_figs")
    res = CliRunner().invoke(app, ["claims", "--reported", "paper_figs/none.yaml"])
    assert res.exit_code == 2 and "paper_figs/none.yaml: no such file" in res.output, res.output
