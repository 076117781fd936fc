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
    ok = _sweep(tmp_path, SPEC.replace("chunk_size: 2", "chunk_size: 1")
                + PARALLEL.replace("VERIFIER", "evalkit.grade.verifiers:agreement"))
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
