"""Spec validation: errors name key and line; cells are content-hashed; dry-run never imports vLLM."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.spec import SpecError, build_plan, parse_spec

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
name: t
model: smollm2-135m
tasks:
  - name: math500
    where: {level: [1]}
    limit: 3
seeds: [0, 1]
sequential:
  caps: [32, 64]
  ignores: [0, 1]
"""

BAD = [
    # (yaml, expected line, expected key fragment, message fragment)
    (GOOD.replace("seeds: [0, 1]", "seeds: [0, 1]\nsedes: [3]"), 8, "sedes", "unknown key"),
    (GOOD.replace("limit: 3", "limit: three"), 6, "tasks[0].limit", "integer"),
    (GOOD.replace("name: math500", "name: math5000"), 4, "tasks[0].name", "unknown task"),
    (GOOD.replace("caps: [32, 64]", "caps: [32, -4]"), 9, "sequential.caps", "greater than or equal"),
    (GOOD.replace("  ignores: [0, 1]", "  ignores: [0, 1]\n  wait: 2"), 11, "sequential.wait", "unknown key"),
    (GOOD.replace("where: {level: [1]}", "where: {year: [1]}"), 4, "tasks[0]", "cannot filter"),
    (GOOD.replace("model: smollm2-135m\n", ""), None, "<root>", "exactly one"),
    (GOOD.replace("seeds: [0, 1]", "seeds: [0, 0]"), 7, "seeds", "distinct"),
    (GOOD.replace("seeds: [0, 1]", "seeds: 0"), 7, "seeds", "list"),
    (GOOD + "think_format: r1\n", 11, "think_format", "s1"),
    (GOOD + "name: again\n", 11, "name", "duplicate"),
    (GOOD.replace("tasks:\n", "tasks: [\n"), None, "", "not valid YAML"),
    (GOOD.replace("seeds: [0, 1]", "seeds: []"), 7, "seeds", "at least 1"),
    (GOOD.replace("  ignores: [0, 1]", "  ignores: [0, -1]"), 10, "sequential.ignores", ">= 0"),
    (GOOD.replace("  ignores: [0, 1]", "  ignores: [0, 1]\n  controls: ['']"), 11, "sequential.controls", "non-empty"),
    (GOOD.replace("  ignores: [0, 1]", "  ignores: [0, 1]\n  min_tokens: [x]"), 11, "sequential.min_tokens", "integer"),
    (GOOD + "sampling: {temperature: -1}\n", 11, "sampling.temperature", "greater than or equal"),
    (GOOD + "sampling: {top_p: 1.5}\n", 11, "sampling.top_p", "less than or equal"),
    (GOOD + "sampling: {answer_max_tokens: 0}\n", 11, "sampling.answer_max_tokens", "greater than or equal"),
    (GOOD + "parallel: {n: 0}\n", 11, "parallel.n", "greater than or equal"),
    (GOOD + "parallel: {caps: [8]}\n", 11, "parallel.n", "missing"),
    (GOOD + "executor: {kind: pbs}\n", 11, "executor.kind", "local"),
    (GOOD + "executor: {chunk_size: 0}\n", 11, "executor.chunk_size", "greater than or equal"),
    (GOOD + "rejection: {caps: []}\n", 11, "rejection.caps", "at least 1"),
    (GOOD + "reuse: maybe\n", 11, "reuse", "boolean"),
    (GOOD + "grader: {unclosed_thinking: guess}\n", 11, "grader.unclosed_thinking", "no_answer"),
    (GOOD.replace("model: smollm2-135m", "model: {id: x, engin: {}}"), 2, "model.engin", "unknown key"),
    ("- just\n- a list\n", 1, "", "mapping"),
]


@pytest.mark.parametrize("text,line,key,msg", BAD)
def test_malformed_spec_names_key_and_line(text: str, line: int | None, key: str, msg: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(text, source="s.yaml")
    out = str(e.value)
    assert msg in out, out
    assert key in out, out
    if line is not None:
        assert f"s.yaml:{line}:" in out, out


@pytest.mark.parametrize("text,line,key,msg", BAD)
def test_cli_every_malformed_spec_exits_2_and_creates_nothing(tmp_path: Path, text: str, line: int | None,
                                                              key: str, msg: str) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    res = CliRunner().invoke(app, ["sweep", str(spec), "--results", str(tmp_path / "results")])
    assert res.exit_code == 2, res.output
    assert msg in res.output and ("bad.yaml:" in res.output)
    assert not (tmp_path / "results").exists()


SEQ = "sequential:\n  caps: [32, 64]\n  ignores: [0, 1]\n"
# specs that parse but cannot be meant: caught by the plan and the checks against what is on disk
PLAN_BAD = [
    (GOOD.replace("name: t", "name: ../../etc"), 1, "name", "not a safe name"),
    (GOOD.replace("name: t", "name: a/b"), 1, "name", "not a safe name"),
    (GOOD.replace("name: t", "name: .."), 1, "name", "not a safe name"),
    (GOOD.replace("where: {level: [1]}", "where: {level: [9]}"), 5, "tasks[0].where", "selects no problem"),
    (GOOD.replace("model: smollm2-135m", "model: {id: smollm2-135m, engine: {max_model_len: 2048}}")
     .replace("caps: [32, 64]", "caps: [32, 100000000]"), 9, "sequential.caps[1]", "cannot fit the context"),
    (GOOD.replace("caps: [32, 64]", "caps: [" + ", ".join(str(i + 1) for i in range(5001)) + "]"), 9,
     "sequential.caps", "more than 10,000"),
    (GOOD.replace("seeds: [0, 1]", "seeds: [" + ", ".join(map(str, range(10_001))) + "]"), 7, "seeds",
     "more than 10,000"),
    (GOOD.replace("  - name: math500\n    where: {level: [1]}\n    limit: 3\n", "  - gpqa_diamond\n"), 4,
     "tasks[0]", "EVALKIT_GPQA_CSV"),
    (GOOD.replace("    limit: 3\n", "    limit: 3\n  - math500\n"), 7, "tasks[1]", "listed twice"),
]


@pytest.mark.parametrize("text,line,key,msg", PLAN_BAD)
@pytest.mark.parametrize("dry_run", [True, False])
def test_specs_that_cannot_be_meant_exit_2_and_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             text: str, line: int, key: str, msg: str,
                                                             dry_run: bool) -> None:
    monkeypatch.delenv("EVALKIT_GPQA_CSV", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    (work / "bad.yaml").write_text(text)
    monkeypatch.chdir(work)
    res = CliRunner().invoke(app, ["sweep", "bad.yaml", "--engine", "scripted", *(["--dry-run"] if dry_run else [])])
    assert res.exit_code == 2, res.output
    assert f"bad.yaml:{line}: {key}" in res.output and msg in res.output, res.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.yaml", "work"]  # nothing written anywhere


def test_a_spec_named_after_an_unsafe_file_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "my sweep.yaml"
    spec.write_text(GOOD.replace("name: t\n", ""))
    res = CliRunner().invoke(app, ["sweep", str(spec), "--dry-run", "--results", str(tmp_path / "r")])
    assert res.exit_code == 2 and "give `name:`" in res.output and not (tmp_path / "r").exists()


def test_cli_malformed_spec_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(GOOD.replace("limit: 3", "limit: 3\n    colour: red"))
    res = CliRunner().invoke(app, ["sweep", str(spec), "--results", str(tmp_path / "results")])
    assert res.exit_code == 2
    assert "colour" in res.output and ":7:" in res.output
    assert not (tmp_path / "results").exists()


def test_cell_ids_do_not_depend_on_ordering() -> None:
    a = build_plan(parse_spec(GOOD))
    b = build_plan(parse_spec(GOOD.replace("caps: [32, 64]", "caps: [64, 32]").replace("ignores: [0, 1]",
                                                                                        "ignores: [1, 0]")))
    assert {c.cell_id for c in a.cells} == {c.cell_id for c in b.cells}
    assert len(a.cells) == 4
    assert a.problem_counts == {"math500": 3}
    assert a.n_requests() == 4 * 3 * 2
    assert a.token_upper_bound() == 3 * 2 * (32 + 32 + 64 + 64 + 4 * 512)


def test_controls_without_ignores_collapse_into_one_cell() -> None:
    spec = GOOD.replace("  ignores: [0, 1]", "  ignores: [0, 1]\n  controls: [Wait, Hmm]")
    plan = build_plan(parse_spec(spec))
    assert len(plan.cells) == 2 * (1 + 2)


def test_dry_run_does_not_import_vllm(tmp_path: Path) -> None:
    from tests.conftest import hub_cache_entry

    pytest.importorskip("huggingface_hub")  # reads the local cache
    hub_cache_entry(tmp_path, "simplescaling/s1.1-32B")  # its model is in the local cache (else the dry run refuses)
    code = textwrap.dedent(f"""
        import sys
        from typer.testing import CliRunner
        from evalkit.cli import app
        r = CliRunner().invoke(app, ["sweep", {str(ROOT / 'sweeps/aime_budget.yaml')!r}, "--dry-run"])
        assert r.exit_code == 0, r.output
        assert "requests" in r.output and "9000" in r.output, r.output
        assert "upper bound on generated tokens" in r.output
        assert "vllm" not in sys.modules and "torch" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "HF_HUB_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr + out.stdout
    assert out.stdout.strip().endswith("ok")


@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.yaml")))
def test_shipped_sweeps_are_valid(path: Path) -> None:
    import yaml

    from evalkit.pipeline.checks import check_models
    from evalkit.spec import load_spec

    plan = build_plan(load_spec(path), load_data=False)
    raw = yaml.safe_load(path.read_text())
    n_models = len(raw.get("models") or [raw["model"]])
    seq = raw.get("sequential") or ({} if "parallel" in raw or "rejection" in raw else {"caps": [None]})
    n_seq = 0
    if seq:
        ign = seq.get("ignores", [0])
        per_cap = (0 in ign) + sum(1 for k in ign if k > 0) * len(seq.get("controls", ["Wait"]))
        n_seq = len(seq.get("caps", [None])) * per_cap * len(seq.get("min_tokens", [0]))
    n_par = len(raw["parallel"].get("caps", [None])) if "parallel" in raw else 0
    n_rej = len(raw["rejection"]["caps"]) if "rejection" in raw else 0
    assert len(plan.cells) == n_models * len(raw["tasks"]) * (n_seq + n_par + n_rej)
    assert len({c.cell_id for c in plan.cells}) == len(plan.cells)
    assert {c.task for c in plan.cells} == {t if isinstance(t, str) else t["name"] for t in raw["tasks"]}
    assert plan.seeds == raw.get("seeds", [0])
    check_models(plan, engine=None)  # its flops_config and verifier resolve
