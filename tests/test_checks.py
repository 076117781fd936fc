"""What a sweep refuses before it loads or writes anything (model settings that resolve later), what
it does when its batches fail, and that a command checks its plan once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.pipeline import checks, run_sweep, scripted_factory
from evalkit.pipeline.observer import Collect
from evalkit.spec import SpecError, build_plan, parse_spec

SPEC = """\
name: chk
model: {id: scripted-model, flops_config: smollm2-135m}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 4
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40]}
executor: {chunk_size: 2, retries: 0}
"""
PARALLEL = "parallel: {n: 2, caps: [40], verifier: 'VERIFIER'}\n"


def explode(problem: Any, responses: Any, extracted: Any) -> list[float]:
    raise RuntimeError("verifier failure (test)")


def explode_on_odd(problem: Any, responses: Any, extracted: Any) -> list[float]:
    if int(re.sub(r"\D", "", problem.problem_id) or 0) % 2:
        raise RuntimeError("verifier failure on an odd problem (test)")
    return [0.0] * len(responses)


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "chk.yaml"
    p.write_text(text)
    return p


def _sweep(tmp: Path, text: str, *args: str):
    return CliRunner().invoke(app, ["sweep", str(_write(tmp, text)), "--engine", "scripted",
                                    "--results", str(tmp / "r"), *args])


def test_misspelt_flops_config_fails_the_dry_run_with_the_valid_names(tmp_path: Path) -> None:
    res = _sweep(tmp_path, SPEC.replace("smollm2-135m", "qwen2.5-32b-instructt"), "--dry-run")
    assert res.exit_code == 2, res.output
    assert "chk.yaml:2: model.flops_config" in res.output
    assert "qwen2.5-32b-instructt" in res.output and "qwen2.5-32b-instruct," in res.output  # the valid names
    assert not (tmp_path / "r").exists()


def test_misspelt_settings_build_no_engine_and_write_nothing(tmp_path: Path) -> None:
    built: list[str] = []

    def factory(*a: Any) -> Any:
        built.append(a[0])
        return scripted_factory(*a)

    text = SPEC.replace("flops_config: smollm2-135m", "flops_config: smollm2-135", 1)
    with pytest.raises(SpecError, match=r"model\.flops_config: no model config 'smollm2-135'"):
        run_sweep(build_plan(parse_spec(text)), tmp_path, engine=factory, observer=Collect())
    assert built == [] and not (tmp_path / "chk").exists()


@pytest.mark.parametrize(("extra", "where", "says"), [
    ("model: {id: scripted-model, engine: {delay_ss: 1}}\n", "model.engine.delay_ss", "did you mean delay_s?"),
    ("models: [scripted-model, {id: other, engine: {p_ned: 0.1}}]\n", "models[1].engine.p_ned", "did you mean p_end?"),
    ("model: scripted-model\n" + PARALLEL.replace("VERIFIER", "tests.test_checks:no_such_function"),
     "parallel.verifier", "cannot be loaded"),
])
def test_every_model_setting_is_checked_by_the_dry_run(tmp_path: Path, extra: str, where: str, says: str) -> None:
    text = SPEC.replace("model: {id: scripted-model, flops_config: smollm2-135m}\n", "") + extra
    res = _sweep(tmp_path, text, "--dry-run")
    assert res.exit_code == 2, res.output
    assert f"chk.yaml:{text.splitlines().index(extra.splitlines()[-1]) + 1}: {where}" in res.output, res.output
    assert says in res.output


def test_engine_arguments_of_vllm_are_read_without_importing_it() -> None:
    import sys

    from evalkit.generate.engine import vllm_arg_names

    names = vllm_arg_names()
    if names is None:
        pytest.skip("vLLM is not installed")
    assert {"max_model_len", "gpu_memory_utilization", "enable_prefix_caching", "block_size", "dtype",
            "distributed_executor_backend", "tensor_parallel_size", "enforce_eager"} <= names
    assert "max_modle_len" not in names and "vllm" not in sys.modules


def test_unknown_engine_or_executor_fails_before_the_dry_run(tmp_path: Path) -> None:
    res = _sweep(tmp_path, SPEC, "--dry-run", "--engine", "vlm")
    assert res.exit_code == 2 and "--engine must be one of vllm, scripted" in res.output
    res = CliRunner().invoke(app, ["sweep", str(_write(tmp_path, SPEC)), "--dry-run", "--executor", "slurmm"])
    assert res.exit_code == 2 and "--executor must be one of" in res.output


def test_a_sweep_whose_batches_all_fail_writes_no_report(tmp_path: Path) -> None:
    res = _sweep(tmp_path, SPEC + PARALLEL.replace("VERIFIER", "tests.test_checks:explode"))
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert "every batch failed: 4 batches failed" in said and "chk/failures; rerun to retry" in said
    assert "next:" not in said
    out = tmp_path / "r" / "chk"
    assert not (out / "report.md").exists() and len(list((out / "failures").glob("*.txt"))) == 4


def test_a_sweep_with_some_failed_batches_reports_what_it_stored_without_next_steps(tmp_path: Path) -> None:
    text = SPEC.replace("chunk_size: 2", "chunk_size: 1") + PARALLEL.replace(
        "VERIFIER", "tests.test_checks:explode_on_odd"
    )
    res = _sweep(tmp_path, text)
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert "the report covers what was stored; 2 batches failed" in said and "next:" not in said
    assert (tmp_path / "r" / "chk" / "report.md").exists()
    fixed = (SPEC.replace("chunk_size: 2", "chunk_size: 1")
             + PARALLEL.replace("VERIFIER", "evalkit.grade.verifiers:agreement"))
    # the stored rows hold the first verifier's scores: another verifier is another experiment, said as such
    refused = _sweep(tmp_path, fixed)
    assert refused.exit_code == 2 and "parallel.verifier: tests.test_checks:explode_on_odd -> evalkit" in refused.output
    ok = _sweep(tmp_path, fixed, "--add-cells")
    assert ok.exit_code == 0 and "next:" in ok.output, ok.output


def test_an_engine_is_closed_when_a_step_after_building_it_fails(tmp_path: Path) -> None:
    closed: list[bool] = []

    class Broken:
        resolved_args: dict = {}

        @property
        def max_model_len(self) -> int:
            raise RuntimeError("engine reports no context length (test)")

        def close(self) -> None:
            closed.append(True)

    res = run_sweep(build_plan(parse_spec(SPEC)), tmp_path, engine=lambda *a: Broken(), observer=Collect())
    assert len(res.failed_batches) == 4 and len(closed) == 4  # one engine per try, each closed


@pytest.mark.parametrize("dry", [True, False])
def test_a_command_checks_its_plan_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dry: bool) -> None:
    calls: list[int] = []
    real = checks.check_golds
    monkeypatch.setattr(checks, "check_golds", lambda plan: calls.append(1) or real(plan))
    res = _sweep(tmp_path, SPEC, *(["--dry-run"] if dry else []))
    assert res.exit_code == 0, res.output
    assert len(calls) == 1


MODEL_CHECK = """
import socket
import sys
from typer.testing import CliRunner
from evalkit.cli import app

tried = []
def refuse(self, address):  # every connection this process attempts is recorded and refused
    tried.append(address)
    raise OSError("no network in this test")
socket.socket.connect = refuse
res = CliRunner().invoke(app, ["sweep", sys.argv[1], "--results", sys.argv[2], *sys.argv[3:]])
print(res.exit_code)
print(" ".join(res.output.split()))
print("connections:", tried)
print("loaded:", sorted(m for m in ("vllm", "torch", "transformers") if m in sys.modules))
"""


def _check_model(tmp: Path, model: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The sweep command on SPEC with ``model`` and the vllm engine, in a fresh process that refuses (and
    records) any network connection; (exit code, output)."""
    import os
    import subprocess
    import sys

    spec = _write(tmp, SPEC.replace("scripted-model", model))
    out = subprocess.run([sys.executable, "-c", MODEL_CHECK, str(spec), str(tmp / "r"), *args], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1], env={**os.environ, **(env or {})})
    lines = out.stdout.splitlines()
    assert len(lines) == 4, out.stdout + out.stderr
    assert lines[2] == "connections: []" and lines[3] == "loaded: []", out.stdout  # offline, nothing heavy loaded
    return int(lines[0]), lines[1]


@pytest.mark.parametrize("dry", [True, False])
def test_a_misspelt_model_fails_before_anything_names_the_nearest_pack_and_asks_no_hub(tmp_path: Path,
                                                                                      dry: bool) -> None:
    code, said = _check_model(tmp_path, "smollm2-13m", *(["--dry-run"] if dry else []))
    assert code == 2, said
    assert ("chk.yaml:2: model.id: smollm2-13m is not a model pack, a model directory or a served model; "
            "nearest packs: smollm2-135m") in said
    assert not (tmp_path / "r").exists()  # the run too: refused before anything is written


def test_a_hub_id_runs_only_from_the_local_cache(tmp_path: Path) -> None:
    from tests.conftest import hub_cache_entry

    pytest.importorskip("huggingface_hub")  # reads the local cache
    env = {"HF_HUB_CACHE": str(tmp_path / "hub")}
    code, said = _check_model(tmp_path, "someorg/some-model", "--dry-run", env=env)
    assert code == 2 and "chk.yaml:2: model.id: someorg/some-model is not a model directory, nor in the local " \
                          "Hugging Face cache" in said, said
    assert "download it first (e.g. `hf download someorg/some-model`), or give the model's directory" in said
    hub_cache_entry(tmp_path / "hub", "someorg/some-model")
    code, said = _check_model(tmp_path, "someorg/some-model", "--dry-run", env=env)
    assert code == 0 and "model someorg/some-model" in said, said
    code, said = _check_model(tmp_path, str(tmp_path / "no-such-dir"), "--dry-run", env=env)
    assert code == 2 and "no-such-dir: no such model directory" in said, said
    code, said = _check_model(tmp_path, str(tmp_path / "hub"), "--dry-run", env=env)  # a directory is taken as is
    assert code == 0, said


def test_the_scripted_engine_takes_any_model_id(tmp_path: Path) -> None:
    res = _sweep(tmp_path, SPEC.replace("scripted-model", "smollm2-13m"), "--dry-run")
    assert res.exit_code == 0, res.output


def test_vllm_starts_with_the_hub_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from evalkit.pipeline import models

    seen: list[dict[str, str | None]] = []

    class Recorder:  # stands in for vLLM (never started by tests): what the environment was at its start
        def __init__(self, path: str, engine_args: dict, name: str) -> None:
            seen.append({k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")})

    monkeypatch.setattr(models, "VLLMEngine", Recorder)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    plan = build_plan(parse_spec(SPEC))
    models.vllm_factory("scripted-model", str(tmp_path), {}, plan)
    assert seen == [{"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}]
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"  # restored after


def test_a_run_says_when_it_loads_the_engine_and_how_long_it_took(tmp_path: Path) -> None:
    for capture, where in ((True, str(tmp_path / "chk" / "logs" / "engine.log")), (False, "the terminal")):
        seen = Collect(capture_engine_output=capture)
        run_sweep(build_plan(parse_spec(SPEC)), tmp_path, engine="scripted", observer=seen, force=True)
        load = seen.messages.index(f"loading the engine for scripted-model … (its output: {where})")
        assert seen.messages[load - 1] == "model scripted-model: scripted-model"
        assert re.fullmatch(r"engine loaded in \d+\.\d s", seen.messages[load + 1]), seen.messages
        assert seen.messages[load + 2].startswith("batch ")  # then the first batch
        assert sum(m.startswith("loading the engine") for m in seen.messages) == 1  # loaded once per run
