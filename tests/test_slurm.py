"""Sweeps on a real one-node Slurm cluster (`tests/services/slurm-up`: Debian's slurmctld, slurmd and munge).
Skipped when no cluster answers, unless EVALKIT_REQUIRE_SLURM=1 (as `make test` and CI set it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.integrations.slurm.executor import squeue, submissions
from evalkit.pipeline import run_sweep
from evalkit.pipeline.observer import Collect
from evalkit.spec import SpecError, build_plan, parse_spec
from evalkit.store import ResultStore

REQUIRED = os.environ.get("EVALKIT_REQUIRE_SLURM") == "1"
pytestmark = pytest.mark.slurm

SPEC = """\
name: onslurm
model: {id: scripted-model, engine: {delay_s: DELAY}}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 12
seeds: [0, 1, 2]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40, 120], ignores: [0, 2]}
executor: {kind: slurm, chunk_size: 3, gpus_per_node: 0, cpus_per_task: 1, mem_gb: 1, timeout_min: 10,
           array_parallelism: 2, requeue: false}
"""
VOLATILE = ["wall_s", "provenance"]


@pytest.fixture(scope="module", autouse=True)
def cluster() -> None:
    ok = shutil.which("sbatch") is not None and subprocess.run(["sinfo", "-h"], capture_output=True).returncode == 0
    if not ok:
        if REQUIRED:
            pytest.fail("EVALKIT_REQUIRE_SLURM=1 but no Slurm cluster answers (run tests/services/up, or make test)")
        pytest.skip("no Slurm cluster (run tests/services/up, or make test)")


def _live(job: str) -> dict[str, str]:
    return squeue([job])


def _hurry() -> None:
    """Slurm makes a requeued job wait ~2 minutes (EligibleTime); let it start now."""
    r = subprocess.run(["squeue", "-h", "-r", "-t", "PENDING", "-o", "%i %r"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        tid, _, reason = line.partition(" ")
        if reason.strip() == "BeginTime":
            subprocess.run(["scontrol", "update", f"JobId={tid}", "StartTime=now"], capture_output=True)


def _until(cond, timeout: float = 300, step: float = 1.0) -> None:
    t0 = time.time()
    while not cond():
        if time.time() - t0 > timeout:
            raise TimeoutError("condition not reached")
        time.sleep(step)


def _task_units(sub: dict) -> dict[str, set[tuple[str, int, str]]]:
    """Array task index -> the (cell, seed, problem) units its batches write, from a submission."""
    return {i: {(c, b["seed"], p) for b in bs for c in b["cell_ids"] for p in b["problem_ids"]}
            for i, bs in sub["tasks"].items()}


def _table(d: Path) -> pd.DataFrame:
    df = ResultStore(d).read_rows().drop(columns=VOLATILE + ["sweep"])
    return df.sort_values(["cell_id", "seed", "problem_id", "sample"], ignore_index=True)


def test_job_array_survives_scancel_and_time_limits(tmp_path: Path) -> None:
    """12 batches in 4 array tasks of 3 with a 1-minute time limit: every task outlives it, gets
    SIGUSR2 10 s before, checkpoints and is requeued by submitit, and resumes from its parts; one
    running task is cancelled instead (not requeued). A second `evalkit sweep` submits only what that
    task lost; the final rows equal an uninterrupted local run's."""
    text = SPEC.replace("DELAY", "4").replace("timeout_min: 10", "timeout_min: 1").replace(
        "requeue: false", "requeue: true, batches_per_task: 3")
    plan = build_plan(parse_spec(text))
    res = run_sweep(plan, tmp_path / "slurm", engine="scripted", observer=Collect())
    job = res.job_id
    assert job and res.samples == 0  # submitted and returned at once
    store = ResultStore(tmp_path / "slurm" / "onslurm")
    tasks = submissions(store)[0]["tasks"]
    assert len(tasks) == 4 and sum(len(b) for b in tasks.values()) == 12
    _until(lambda: sum(v == "RUNNING" for v in _live(job).values()) >= 2, 120, 0.5)
    victim = sorted(t for t, v in _live(job).items() if v == "RUNNING")[0]
    subprocess.run(["scancel", victim], check=True)
    _until(lambda: victim not in _live(job), 120, 0.5)  # a cancelled task is listed until it has left the queue
    # the resubmissions get a roomier limit (not part of any cell: the same cells, the same samples)
    plan = build_plan(parse_spec(text.replace("timeout_min: 1", "timeout_min: 10")))
    again = run_sweep(plan, tmp_path / "slurm", engine="scripted", observer=Collect())
    # no unit is submitted twice: the resubmission holds only units of the cancelled task (the other
    # tasks are done or still in the queue, requeued), and each of them once
    first = _task_units(submissions(store)[0])
    victim_units = first[victim.rsplit("_", 1)[1]]
    others = set().union(*(u for i, u in first.items() if i != victim.rsplit("_", 1)[1]))
    if again.job_id is not None:
        sub = submissions(store)[-1]
        assert sub["job_id"] == again.job_id != job
        resub = [u for us in _task_units(sub).values() for u in us]
        assert resub and len(resub) == len(set(resub))
        assert set(resub) <= victim_units and not set(resub) & others
    else:  # nothing to resubmit: the cancelled task had written all it held
        assert victim_units <= store.completed()
    _until(lambda: _hurry() or (not _live(job) and (again.job_id is None or not _live(again.job_id))), 900, 2)
    logs = "".join(p.read_text() for p in (store.logs_dir / "submitit").glob(f"{job}_*_log.*"))
    assert "CANCELLED AT" in logs and "DUE TO JOB REQUEUE" in logs  # the cancel, and submitit's timeout requeue
    final = run_sweep(plan, tmp_path / "slurm", engine="scripted", observer=Collect(), wait=True)
    assert not final.failed_batches, final.failed_batches
    journal = [json.loads(x) for f in store.journal_dir.glob("job*.jsonl") for x in f.read_text().splitlines()]
    assert sum(e["rows"] for e in journal if e["event"] == "part") == 144  # resumed tasks wrote no cell twice
    local = run_sweep(build_plan(parse_spec(SPEC.replace("DELAY", "0").replace("kind: slurm", "kind: local"))),
                      tmp_path / "local", engine="scripted", observer=Collect())
    assert local.samples == 12 * 3 * 4
    got, want = _table(store.root), _table(tmp_path / "local" / "onslurm")
    assert not got.duplicated(["cell_id", "seed", "problem_id", "sample"]).any()
    pd.testing.assert_frame_equal(got, want)
    status = CliRunner().invoke(app, ["status", str(store.root)])
    assert "144 of 144" in status.output and "none in the queue" in status.output


def test_status_shows_done_running_failed_and_pending(tmp_path: Path) -> None:
    text = (
        SPEC.replace("DELAY", "3")
        .replace("limit: 12", "limit: 3")
        .replace("seeds: [0, 1, 2]", "seeds: [0, 1, 2, 3]")
        .replace("requeue: false}", "requeue: false,\n           sbatch_lines: ['#SBATCH --hold']}")
    )
    plan = build_plan(parse_spec(text))
    job = run_sweep(plan, tmp_path, engine="scripted", observer=Collect()).job_id
    root = tmp_path / "onslurm"
    try:
        _until(lambda: len(_live(job)) == 4, 60)
        subprocess.run(["scontrol", "release", f"{job}_0"], check=True)
        _until(lambda: f"{job}_0" not in _live(job), 120)  # done
        subprocess.run(["scancel", f"{job}_2"], check=True)  # leaves the queue without writing: failed
        subprocess.run(["scontrol", "release", f"{job}_1"], check=True)
        _until(lambda: _live(job).get(f"{job}_1") == "RUNNING", 60, 0.3)
        out = CliRunner().invoke(app, ["status", str(root)])
        assert out.exit_code == 0, out.output
        for state in ("done", "running", "failed", "pending"):
            assert f" {state}" in out.output, (state, out.output)
        assert f"{job}_3 pending" in out.output and f"{job}_1 running" in out.output
        # a rerun submits the cancelled task's units only: the held and running ones are in the queue
        again = run_sweep(plan, tmp_path, engine="scripted", observer=Collect())
        sub = submissions(ResultStore(root))[-1]
        assert again.job_id == sub["job_id"] and len(sub["tasks"]) == 1
        assert sub["tasks"]["0"][0]["seed"] == 2
    finally:
        subprocess.run(["scancel", job], check=False)


ADAPTIVE = """\
name: adaptslurm
model: {id: scripted-model, engine: {p_end: 0.003}}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 8
seeds: {adaptive: {start: 2, step: 2, max: 12, stop: {compare: ['cap=40', 'cap=400']}}}
sampling: {temperature: 0.7, answer_max_tokens: 40}
sequential: {caps: [40, 400], ignores: [0]}
executor: {kind: slurm, chunk_size: 4, gpus_per_node: 0, cpus_per_task: 1, mem_gb: 1, timeout_min: 10,
           requeue: false}
"""


def test_adaptive_rounds_are_submitted_one_at_a_time(tmp_path: Path) -> None:
    """An adaptive sweep on Slurm: each `evalkit sweep` decides on the rounds the queue has finished and
    submits the next round's seeds only (never a seed past the decision), as a user resubmits from a login
    node; the decision, its journal and the rows are a local run's."""
    plan = build_plan(parse_spec(ADAPTIVE))
    jobs, res = [], None
    for _ in range(8):
        res = run_sweep(plan, tmp_path / "slurm", engine="scripted", observer=Collect())
        if res.decision is not None and res.decision["stop"]:
            break
        assert res.job_id and res.samples == 0  # the round was submitted, nothing run here
        jobs.append(res.job_id)
        _until(lambda: not _live(jobs[-1]), 300, 1)
    assert res is not None and res.decision["stop"] and "excludes 0" in res.decision["reason"]
    used = res.decision["seeds"]
    assert used < 12 and len(jobs) == used // 2  # one job per round, the rule decided before max
    store = ResultStore(tmp_path / "slurm" / "adaptslurm")
    rounds = [sorted({b["seed"] for bs in sub["tasks"].values() for b in bs}) for sub in submissions(store)]
    assert rounds == [[s, s + 1] for s in range(0, used, 2)]
    local_text = ADAPTIVE.replace("kind: slurm", "kind: local")
    local = run_sweep(build_plan(parse_spec(local_text)), tmp_path / "local", engine="scripted", observer=Collect())
    assert local.decision["seeds"] == used and local.decision["intervals"] == res.decision["intervals"]
    want = ResultStore(tmp_path / "local" / "adaptslurm").decisions()
    got = store.decisions()
    assert [(d["round"], d["stop"], d["intervals"]) for d in got] == [
        (d["round"], d["stop"], d["intervals"]) for d in want]
    pd.testing.assert_frame_equal(_table(store.root), _table(tmp_path / "local" / "adaptslurm"))


BAD_EXECUTOR = [
    ("executor: {kind: slurm, gpus_per_node: 0, sbatch_lines: ['--exclusive']}\n", "executor.sbatch_lines", "#SBATCH"),
    ("executor: {kind: slurm, max_requeues: -1}\n", "executor.max_requeues", "greater than or equal"),
    ("executor: {kind: slurm, qos: ''}\n", "executor.qos", "at least 1"),
    ("executor: {kind: slurm, partitoin: gpu}\n", "executor.partitoin", "unknown key"),
    ("executor: {kind: slurm, gpus_per_node: 2}\n", "executor.gpus_per_node", "tensor_parallel_size"),
]


@pytest.mark.parametrize("tail,key,msg", BAD_EXECUTOR)
def test_malformed_executor_settings_submit_nothing(tmp_path: Path, tail: str, key: str, msg: str) -> None:
    spec = tmp_path / "bad.yaml"
    base = "name: bad\nmodel: {id: x, engine: {tensor_parallel_size: 4}}\ntasks: [{name: math500, limit: 2}]\n"
    spec.write_text(base + tail)
    def queued() -> set[str]:
        return set(subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split())

    before = queued()
    res = CliRunner().invoke(app, ["sweep", str(spec), "--engine", "scripted", "--results", str(tmp_path / "r")])
    assert res.exit_code == 2 and f"bad.yaml:4: {key}" in res.output and msg in res.output, res.output
    assert not (tmp_path / "r").exists()
    assert not queued() - before  # nothing submitted
    with pytest.raises(SpecError):
        build_plan(parse_spec(base + tail))


def test_real_vllm_task_on_slurm(tmp_path: Path) -> None:
    from evalkit.generate.packs import installed

    if not installed("smollm2-135m"):
        pytest.fail("the smollm2-135m pack is not installed") if REQUIRED else pytest.skip("no smollm2 pack")
    text = """\
name: vllm_on_slurm
model: {id: smollm2-135m, engine: {max_model_len: 1024, gpu_memory_utilization: 0.1}}
tasks: [{name: math500, where: {level: [1]}, limit: 3}]
seeds: [0]
sampling: {temperature: 0.7, answer_max_tokens: 24}
sequential: {caps: [48], ignores: [0, 1]}
executor: {kind: slurm, gpus_per_node: 0, cpus_per_task: 2, mem_gb: 8, timeout_min: 15}
"""
    res = run_sweep(build_plan(parse_spec(text)), tmp_path, observer=Collect(), wait=True)
    assert res.job_id and not res.failed_batches and res.samples == 3 * 2
    store = ResultStore(tmp_path / "vllm_on_slurm")
    assert len(store.read_rows()) == 6 and list(store.logs_dir.glob("engine-job*.log"))
