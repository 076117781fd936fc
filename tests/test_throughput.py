"""This machine's measured rate and the dry run's wall-time estimate (issue #38)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.pipeline import throughput as tp
from evalkit.spec import build_plan, parse_spec

HW = {"cpu": "AMD EPYC", "cores": 2, "isa": ["avx2"], "gpus": []}
INFO = {"engine": "vllm", "engine_args": {"distributed_executor_backend": "uni"},
        "cpu_choice": {"dtype": "float32", "dtype_used": "float32"}, "load_s": 12.0}


def test_record_keeps_in_process_vllm_rates_long_enough_to_measure(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    assert tp.record(HW, "m", INFO, 6000, 60.0, "s", "2026-12-07T00:00:00", path)["tok_s"] == 100.0
    assert tp.record(HW, "m", {**INFO, "engine": "server"}, 6000, 60.0, "s", "t", path) is None  # the server's rate
    assert tp.record(HW, "m", {**INFO, "engine": "scripted"}, 6000, 60.0, "s", "t", path) is None
    assert tp.record(HW, "m", INFO, 500, 60.0, "s", "t", path) is None  # too few tokens
    assert tp.record(HW, "m", INFO, 6000, 2.0, "s", "t", path) is None  # too short
    assert tp.record(HW, "m", INFO, 9000, 60.0, "s2", "t2", path)["tok_s"] == 150.0
    got = tp.lookup(HW, "m", "uni", path)
    assert got["sweep"] == "s2" and got["dtype"] == "float32" and got["load_s"] == 12.0
    assert tp.lookup(HW, "m", "default", path) is None and tp.lookup(HW, "other", None, path) is None
    assert tp.lookup({**HW, "isa": ["avx2", "avx512f"]}, "m", None, path) is None  # another machine
    assert len(json.loads(path.read_text())) == 2


def test_an_unreadable_history_reads_as_empty_and_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{not json")
    assert tp.lookup(HW, "m", None, path) is None
    assert tp.record(HW, "m", INFO, 6000, 60.0, "s", "t", path) is not None
    assert len(json.loads(path.read_text())) == 1


def test_tree_bound_is_what_the_run_budgets() -> None:
    plan = build_plan(parse_spec(Path("sweeps/quickstart.yaml").read_text()))
    # 40 problems x 2 seeds x (one trajectory to the largest cap, 512, + four answers of 64)
    assert plan.tree_token_bound(2048) == 40 * 2 * (512 + 4 * 64)
    assert plan.token_upper_bound(2048) == 40 * 2 * (256 + 64 + 256 + 64 + 512 + 64 + 512 + 64)
    assert plan.tree_token_bound(2048, model="other") == 0


def test_dry_run_estimates_wall_time_from_this_machines_last_rate(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EVALKIT_THROUGHPUT", str(tmp_path / "t.json"))
    monkeypatch.setattr(tp, "reference", lambda *a: None)  # a CPU class the project has not measured
    out = CliRunner().invoke(app, ["sweep", "sweeps/quickstart.yaml", "--dry-run", "--results", str(tmp_path / "r")])
    assert out.exit_code == 0, out.output
    assert "not measured yet (61,440 tokens" in " ".join(out.output.split())
    monkeypatch.setattr(tp, "reference", lambda *a: (64.0, 40.0))  # the project's reference for its class
    out = " ".join(CliRunner().invoke(app, ["sweep", "sweeps/quickstart.yaml", "--dry-run", "--results",
                                            str(tmp_path / "r")]).output.split())
    assert "<= 16m40s (61,440 tokens at most with trajectory trees, at 64 tok/s: the project's reference" in out
    from evalkit.pipeline.provenance import hardware

    tp.record(hardware(), "qwen2.5-coder-0.5b", INFO, 61440, 614.4, "quickstart", "2026-12-07T10:00:00")
    out = CliRunner().invoke(app, ["sweep", "sweeps/quickstart.yaml", "--dry-run", "--results", str(tmp_path / "r")])
    assert "estimated wall time on this machine" in out.output and "<= 10m26s" in out.output, out.output
    assert "reference" not in out.output  # this machine's own rate wins
    assert "100 tok/s as sweep 'quickstart' measured here on 2026-12-07" in " ".join(out.output.split())


def test_reference_rates_exist_only_for_the_dtype_evalkit_picks() -> None:
    assert tp.reference("qwen2.5-coder-0.5b", False, "uni", None) == tp.REFERENCE[("qwen2.5-coder-0.5b", False, "uni")]
    assert tp.reference("qwen2.5-coder-0.5b", False, "uni", "float32") is not None
    assert tp.reference("qwen2.5-coder-0.5b", False, "uni", "bfloat16") is None  # emulated bf16: not the reference
    assert tp.reference("qwen2.5-coder-0.5b", True, "uni", "float32") is None
    assert tp.reference("some/other-model", True, "uni", None) is None


SCRIPTED = """\
name: fitted
description: a scripted sweep
model: {id: scripted}
tasks: [{name: math500, where: {level: [1]}, limit: 20}]
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 20}
sequential: {caps: [40, 80], ignores: [0, 1]}
"""


def test_within_cuts_the_problems_to_the_estimate_and_a_rerun_keeps_the_cut(tmp_path: Path, monkeypatch) -> None:
    spec = tmp_path / "fitted.yaml"
    spec.write_text(SCRIPTED)
    monkeypatch.setenv("EVALKIT_THROUGHPUT", str(tmp_path / "t.json"))
    # trees: 20 problems x 2 seeds x (80 + 4 answers of 20) = 6,400 tokens; at 10 tok/s + 20 s load: 660 s
    monkeypatch.setattr(tp, "reference", lambda model, native, executor, dtype: (10.0, 20.0) if model == "scripted"
                        else None)
    run = CliRunner()
    dry = " ".join(run.invoke(app, ["sweep", str(spec), "--dry-run", "--engine", "scripted", "--within", "5",
                                    "--results", str(tmp_path / "r")]).output.split())
    # 300 s - 20 s of load leaves 280 of the 640 s of generation: the first 8 problems (256 + 20 s)
    assert "could take up to 11m00s on this CPU" in dry and "running math500: the first 8 of 20 problems" in dry, dry
    assert "(at most 4m36s)" in dry and "task math500: 8 problems" in dry
    out = run.invoke(app, ["sweep", str(spec), "--engine", "scripted", "--within", "5", "--results",
                           str(tmp_path / "r"), "--no-report"])
    assert out.exit_code == 0, out.output
    m = json.loads((tmp_path / "r" / "fitted" / "manifest.json").read_text())
    assert m["spec"]["tasks"][0]["limit"] == 8
    assert "[--within 5 on this machine: math500: the first 8 of 20 problems]" in m["spec"]["description"]
    # a faster rate now: the rerun still keeps the first run's 8 problems and generates nothing
    monkeypatch.setattr(tp, "reference", lambda *a: (1000.0, 1.0))
    again = run.invoke(app, ["sweep", str(spec), "--engine", "scripted", "--within", "5", "--results",
                             str(tmp_path / "r"), "--no-report"])
    assert again.exit_code == 0, again.output
    assert "keeps the problems the first run of these results chose (math500: first 8)" in " ".join(
        again.output.split())
    assert "wrote 0 parts" in again.output
    # the whole sweep fits at that rate in a fresh directory; an unknown rate runs it whole too
    fresh = " ".join(run.invoke(app, ["sweep", str(spec), "--dry-run", "--engine", "scripted", "--within", "5",
                                      "--results", str(tmp_path / "r2")]).output.split())
    assert "--within 5: the whole sweep fits" in fresh and "task math500: 20 problems" in fresh
    monkeypatch.setattr(tp, "reference", lambda *a: None)
    unknown = " ".join(run.invoke(app, ["sweep", str(spec), "--dry-run", "--engine", "scripted", "--within", "5",
                                        "--results", str(tmp_path / "r2")]).output.split())
    assert "no rate known on this machine for scripted; running the whole sweep" in unknown
    bad = run.invoke(app, ["sweep", str(spec), "--dry-run", "--engine", "scripted", "--within", "0"])
    assert bad.exit_code != 0 and "--within must be a positive number of minutes" in bad.output


def test_the_reference_rates_are_the_benchmarks_recorded_ones() -> None:
    """pipeline/throughput.py:REFERENCE is what benchmarks/engine_cpu_results.md measured, row for row (a rerun
    of the benchmark that changes a rate fails here until the table is updated)."""
    rows = {}
    for line in Path("benchmarks/engine_cpu_results.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[1] in ("native", "avx2"):
            pack, isa, dtype, executor, load_s, batch = cells[:6]
            rows[(pack, isa, dtype, executor)] = (float(batch), float(load_s))
    assert len(rows) == 16
    for (pack, native, executor), rate in tp.REFERENCE.items():
        isa, dtype = ("native", "bfloat16") if native else ("avx2", "float32")  # the dtype evalkit picks there
        assert rows[(pack, isa, dtype, executor)] == rate, (pack, native, executor)
