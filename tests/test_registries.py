"""One registry per extension point: engine kinds, task answer types, executors, stop rules. What reads a
registry (the spec's checks, the command line's help, ``evalkit grade``) follows what is registered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from typer.testing import CliRunner

from evalkit.analyze.sequential import STOP_RULES, AdaptiveRule, StopRule, stop_rule
from evalkit.cli import app
from evalkit.pipeline import ENGINES, LocalExecutor, check_plan, get_executor
from evalkit.pipeline.engines import engine_kind, help_text, model_kind, run_kind, run_kinds
from evalkit.pipeline.models import scripted_resolve
from evalkit.records import ANSWER_TYPES
from evalkit.spec import SpecError, build_plan, parse_spec
from evalkit.spec.tasks import TaskError, answer_types, benchmark_names, registry

SPEC = """\
name: reg
model: {id: scripted-model, flops_config: smollm2-135m}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 2
seeds: [0]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40]}
"""
SERVED = SPEC.replace("model: {id: scripted-model, flops_config: smollm2-135m}",
                      "model: {id: scripted-model, flops_config: smollm2-135m, "
                      "server: {urls: ['http://127.0.0.1:9/v1']}}")


@pytest.fixture
def echo_kind() -> Iterator[str]:
    """A kind registered for one test (and removed after): a factory echoing its arguments."""

    @engine_kind("echo-test", resolve=scripted_resolve, arg_names=lambda: frozenset({"loud"}))
    def echo(model_id: str, path: str, engine_args: dict[str, Any], plan: Any) -> Any:
        return (model_id, engine_args)

    yield "echo-test"
    del ENGINES["echo-test"]


def test_the_three_engines_are_registered_and_the_served_one_is_chosen_by_a_models_server_key() -> None:
    assert set(ENGINES) >= {"vllm", "server", "scripted"}
    assert "server" not in run_kinds() and {"vllm", "scripted"} <= set(run_kinds())
    served = build_plan(parse_spec(SERVED)).spec.model_entries()[0]
    local = build_plan(parse_spec(SPEC)).spec.model_entries()[0]
    assert model_kind("vllm", served).name == "server" and model_kind("vllm", local).name == "vllm"
    assert model_kind("scripted", served).name == "scripted"  # a test double stands in for served models too


def test_a_registered_engine_is_named_by_the_help_the_checks_and_the_run(echo_kind: str, tmp_path: Path) -> None:
    assert echo_kind in run_kinds() and echo_kind in help_text()
    assert help_text().startswith("vllm, scripted (a test double), or echo-test;")
    plan = build_plan(parse_spec(SPEC.replace("flops_config: smollm2-135m", "engine: {quiet: 1}")))
    with pytest.raises(SpecError, match=r"model\.engine\.quiet: not an argument of the echo-test engine"):
        check_plan(plan, echo_kind)
    assert run_kind(echo_kind).factory("m", "p", {"loud": 1}, plan) == ("m", {"loud": 1})
    with pytest.raises(ValueError, match="registered twice"):
        engine_kind(echo_kind, resolve=scripted_resolve, arg_names=frozenset)(lambda *a: None)


def test_an_unknown_engine_lists_the_registered_ones() -> None:
    with pytest.raises(SpecError, match=r"engine must be one of vllm, scripted, got 'server'"):
        run_kind("server")
    res = CliRunner().invoke(app, ["sweep", "x.yaml", "--engine", "vlm"])
    assert res.exit_code == 2 and "--engine must be one of vllm, scripted, got 'vlm'" in res.output, res.output


def test_answer_types_come_from_the_task_files() -> None:
    types = answer_types()
    for name, td in registry().items():
        assert types[name] == td.answer_type
    assert types["gpqa"] == types["gpqa_diamond"] == "mc" and types["aime24"] == "integer"
    assert all(types[t] == t for t in ANSWER_TYPES)
    assert benchmark_names() == ["aime24", "aime25", "math500", "gpqa_diamond"]  # vendored data first
    assert benchmark_names(vendored_only=True) == ["aime24", "aime25", "math500"]


def test_a_new_task_is_gradable_by_its_name_and_a_wrong_answer_type_is_named(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tasks").mkdir()
    task = "name: mine\ndata: {file: mine.jsonl}\nprompt_template: '{problem}'\nanswer_type: "
    (tmp_path / "tasks" / "mine.yaml").write_text(task + "integer\n")
    assert answer_types()["mine"] == "integer"
    (tmp_path / "in.jsonl").write_text(json.dumps({"task": "mine", "gold": "7", "answer": "7"}) + "\n")
    res = CliRunner().invoke(app, ["grade", "in.jsonl", "-o", "out.jsonl", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "out.jsonl").read_text())["correct"] is True
    monkeypatch.chdir(tmp_path / "tasks")  # another folder: the registry is cached by its folders
    (tmp_path / "tasks" / "tasks").mkdir()
    (tmp_path / "tasks" / "tasks" / "mine.yaml").write_text(task + "number\n")
    with pytest.raises(TaskError, match=r"mine\.yaml: answer_type 'number' is not one of integer, math, mc"):
        registry()


def test_executors_are_one_table() -> None:
    assert isinstance(get_executor("local"), LocalExecutor)
    with pytest.raises(ValueError, match="executor must be one of local, slurm, submitit-local, got 'lcoal'"):
        get_executor("lcoal")


def test_the_stop_rules_are_the_registered_ones() -> None:
    assert list(STOP_RULES) == list(get_args(StopRule))
    with pytest.raises(ValueError, match="unknown stop rule 'widest'"):
        AdaptiveRule("widest", 2, 2, 8)  # type: ignore[arg-type]  # the point: a name outside the vocabulary
    with pytest.raises(ValueError, match="registered twice"):
        stop_rule("halfwidth")(lambda rule, low, high: (True, ""))
