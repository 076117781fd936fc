"""Sweep runner: kill/resume, failure isolation, submitit executor, dry-run estimates."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from evalkit.generate import ScriptedEngine
from evalkit.pipeline import run_sweep, scripted_factory, scripted_resolve
from evalkit.pipeline.observer import Collect
from evalkit.spec import build_plan, parse_spec
from evalkit.store import ResultStore

SPEC = """\
name: kill
model: {id: scripted, engine: {delay_s: DELAY}}
tasks:
  - name: math500
    where: {level: [1, 2]}
    limit: 12
seeds: [0, 1, 2]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [30, 90], ignores: [0, 1]}
parallel: {n: 3, caps: [30]}
executor: {chunk_size: 3, retries: 0}
"""
VOLATILE = ["wall_s", "provenance"]


def table(root: Path) -> pd.DataFrame:
    return ResultStore(root).read_rows().drop(columns=VOLATILE)


def cli(spec: Path, results: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evalkit.cli", "sweep", str(spec), "--engine", "scripted",
                             "--results", str(results), "--no-report"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_table(tmp_path: Path) -> None:
    spec = tmp_path / "kill.yaml"
    spec.write_text(SPEC.replace("DELAY", "0.3").replace("limit: 12", "limit: 16"))
    ref = tmp_path / "ref"
    assert cli(spec, ref).wait(timeout=300) == 0
    expected = table(ref / "kill")
    rng = random.Random(5)
    out = tmp_path / "killed"
    kills = 0
    while kills < 6:  # SIGKILL at 6 random points (some before any batch lands, most in the middle)
        proc = cli(spec, out)
        try:
            proc.wait(timeout=rng.uniform(1.0, 3.0))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        break  # finished before the kill
    assert cli(spec, out).wait(timeout=300) == 0  # the final resume completes the sweep
    assert kills >= 5, kills  # the sweep outlived most kill points
    got = table(out / "kill")
    assert not got.duplicated(["cell_id", "seed", "problem_id", "sample"]).any()
    pd.testing.assert_frame_equal(got, expected)
    assert not list((out / "kill").rglob("*.tmp"))


def test_a_failing_batch_is_isolated_recorded_and_resumed(tmp_path: Path) -> None:
    plan = build_plan(parse_spec(SPEC.replace("DELAY", "0")))
    victim = plan.selections["math500"].problems(0)[4].prompt

    def failing(model_id, path, args, plan):
        e = scripted_factory(model_id, path, args, plan)
        e.fail_on = lambda reqs: any(victim in e.tokenizer.decode(list(r.prompt_ids)) for r in reqs)
        return e

    res = run_sweep(plan, tmp_path, engine=failing, resolve=scripted_resolve, observer=Collect())
    assert len(res.failed_batches) == 3  # the chunk holding that problem, for each of the 3 seeds
    store = ResultStore(tmp_path / "kill")
    assert len(store.failures()) == 3 and "fault injection" in store.failures()[0].read_text()
    total = 12 * 3 * (4 + 3)
    assert res.samples == total - 3 * 3 * (4 + 3)  # everything else completed
    again = run_sweep(plan, tmp_path, engine=scripted_factory, resolve=scripted_resolve, observer=Collect())
    assert not again.failed_batches and again.samples == 3 * 3 * (4 + 3)
    assert len(store.read_rows()) == total and not store.failures()


def test_a_resumed_sweep_removes_what_writers_killed_mid_write_left(tmp_path: Path) -> None:
    plan = build_plan(parse_spec(SPEC.replace("DELAY", "0").replace("limit: 12", "limit: 3")))
    run_sweep(plan, tmp_path, engine=scripted_factory, resolve=scripted_resolve, observer=Collect())
    store = ResultStore(tmp_path / "kill")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a writer that has exited: its pid is free
    part = next(iter(store.shard_files()))
    orphan = part.parent / f".{part.name}.~{socket.gethostname()}~{gone.pid}~x1.tmp"
    orphan.write_bytes(b"half a parquet")
    seen = Collect()
    again = run_sweep(plan, tmp_path, engine=scripted_factory, resolve=scripted_resolve, observer=seen)
    assert again.samples == 0 and not orphan.exists()  # nothing was missing; the orphan was still removed
    assert any("removed 1 temporary files of writers killed mid-write" in m for m in seen.messages)


def test_cli_exit_code_is_nonzero_when_a_batch_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app
    from evalkit.pipeline import engines

    def broken(*a):
        e = ScriptedEngine()
        e.fail_on = lambda reqs: True
        return e

    monkeypatch.setitem(engines.ENGINES, "scripted", replace(engines.ENGINES["scripted"], factory=broken))
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.replace("DELAY", "0"))
    res = CliRunner().invoke(app, ["sweep", str(spec), "--engine", "scripted", "--results", str(tmp_path / "r")])
    assert res.exit_code == 1 and "batches failed" in res.output


def test_submitit_local_executor_two_tasks(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    text = SPEC.replace("DELAY", "0").replace("limit: 12", "limit: 4").replace("seeds: [0, 1, 2]", "seeds: [0]") \
        .replace("chunk_size: 3", "chunk_size: 2")
    plan = build_plan(parse_spec(text))
    t0 = time.time()
    res = run_sweep(plan, tmp_path / "sub", engine=scripted_factory, resolve=scripted_resolve,
                    observer=Collect(), executor="submitit-local")
    assert not res.failed_batches, res.failed_batches
    sub = ResultStore(tmp_path / "sub" / "kill")
    assert len(list((sub.logs_dir / "submitit").glob("*_0_log.out"))) + len(
        list((sub.logs_dir / "submitit").glob("*_1_log.out"))) == 2  # two array tasks
    journals = sorted(p.name for p in sub.journal_dir.glob("*.jsonl"))
    assert journals == ["task00000.jsonl", "task00001.jsonl"]
    local = run_sweep(plan, tmp_path / "loc", engine=scripted_factory, resolve=scripted_resolve,
                      observer=Collect())
    assert local.samples == res.samples == 4 * (4 + 3)
    pd.testing.assert_frame_equal(table(tmp_path / "sub" / "kill"), table(tmp_path / "loc" / "kill"))
    assert time.time() - t0 < 120


def test_dry_run_estimates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app
    from tests.conftest import hub_cache_entry

    hub_cache_entry(tmp_path, "simplescaling/s1.1-32B")  # its model is in the local cache (else the dry run refuses)
    monkeypatch.setattr(pytest.importorskip("huggingface_hub.constants"), "HF_HUB_CACHE", str(tmp_path))
    root = Path(__file__).resolve().parents[1]
    res = CliRunner().invoke(app, ["sweep", str(root / "sweeps/aime_budget.yaml"), "--dry-run", "--throughput", "1000"])
    assert res.exit_code == 0, res.output
    assert "GPU-hours" in res.output and "18.4" in res.output  # 66,240,000 tokens / 1000 tok/s
    assert "upper bound on FLOPs" in res.output
