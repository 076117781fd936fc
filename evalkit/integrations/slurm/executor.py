"""Sweeps on Slurm: one job array through submitit, submitted and left running (``--wait`` blocks).

Job states come from ``squeue`` (pending and running tasks) and from the results directory (done:
the parts; failed: failure records, or a task that left the queue without writing its units); never
from ``sacct``, which needs Slurm accounting (slurmdbd) that many clusters and this CI do not run.
Every submission is journaled (``journal/submit.jsonl``: job id, and each array task's batches), so
a later ``evalkit sweep`` submits only units that are neither on disk nor held by a task still in the
queue, and ``evalkit status`` can say where every (cell, seed, problem) stands.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from typing import Any

import submitit
from submitit.helpers import Checkpointable

from evalkit.errors import EvalkitError
from evalkit.pipeline.batches import Batch
from evalkit.pipeline.context import SweepContext, SweepResult
from evalkit.pipeline.models import EngineFactory, Resolver
from evalkit.pipeline.observer import Observer
from evalkit.spec import Plan, SweepSpec, build_plan
from evalkit.store import ResultStore

LIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "REQUEUE_HOLD",
        "REQUEUE_FED", "SIGNALING", "STAGE_OUT", "STOPPED"}
Unit = tuple[str, int, str]


class SlurmError(EvalkitError, RuntimeError):
    exit_code = 1


def units_of(b: Batch) -> set[Unit]:
    return {(c, b.seed, p) for c in b.cell_ids for p in b.problem_ids}


def remaining(batches: list[Batch], done: set[Unit]) -> list[Batch]:
    """The batches cut down to their cells and problems not on disk (a requeued task resumes to the
    cell: parts are written per cell, so a cell of a batch is done or not)."""
    out = []
    for b in batches:
        cells = tuple(c for c in b.cell_ids if any((c, b.seed, p) not in done for p in b.problem_ids))
        probs = tuple(p for p in b.problem_ids if any((c, b.seed, p) not in done for c in cells))
        if cells and probs:
            out.append(replace(b, cell_ids=cells, problem_ids=probs))
    return out


class SweepTask(Checkpointable):
    """One array task: its batches, skipping units already on disk (so a requeued task resumes to
    the sample). Checkpointable: submitit requeues it on a time limit or preemption."""

    def __init__(self, spec_json: str, root: str, engine_factory: EngineFactory, resolve: Resolver,
                 retries: int) -> None:
        self.spec_json, self.root, self.engine_factory, self.resolve = spec_json, root, engine_factory, resolve
        self.retries = retries

    def __call__(self, batches: list[Batch]) -> dict[str, Any]:
        plan = build_plan(SweepSpec.model_validate_json(self.spec_json))
        store = ResultStore(self.root)
        todo = remaining(batches, store.completed())
        writer = f"job{os.environ.get('SLURM_ARRAY_JOB_ID', os.environ.get('SLURM_JOB_ID', 'x'))}_" \
                 f"{os.environ.get('SLURM_ARRAY_TASK_ID', '0')}"
        result = SweepResult(store.root, 0, 0, 0)
        observer = Observer()  # the task's lines go to its submitit log, the engine's to the results' logs
        with observer.engine_output(store.logs_dir / f"engine-{writer}.log") as log_path:
            observer.say(f"{writer}: {len(todo)} of {len(batches)} batches to run")
            ctx = SweepContext(plan, store, self.engine_factory, self.resolve, observer, writer=writer,
                               engine_log=log_path)
            try:
                ctx.run_batches(todo, result, self.retries)
            finally:
                ctx.close()
        return {"parts": result.generated_shards, "samples": result.samples, "failed": result.failed_batches}

    def checkpoint(self, batches: list[Batch]) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self, batches)


class PlainTask(SweepTask):
    """A task that is not requeued (``requeue: false``)."""

    def checkpoint(self, batches: list[Batch]) -> None:  # type: ignore[override]  # submitit calls checkpoint with the task's own arguments: the batches
        return None


def slurm_parameters(ex_spec: Any, name: str) -> dict[str, Any]:
    params: dict[str, Any] = {"time": ex_spec.timeout_min, "gpus_per_node": ex_spec.gpus_per_node or None,
                              "cpus_per_task": ex_spec.cpus_per_task, "mem": f"{ex_spec.mem_gb}GB",
                              "array_parallelism": ex_spec.array_parallelism, "job_name": f"evalkit-{name}",
                              "signal_delay_s": min(90, max(10, ex_spec.timeout_min * 6))}
    for k in ("partition", "qos", "account", "constraint"):
        if getattr(ex_spec, k):
            params[k] = getattr(ex_spec, k)
    extra = sbatch_options(ex_spec.sbatch_lines)
    if extra:
        params["additional_parameters"] = extra
    return {k: v for k, v in params.items() if v is not None}


def sbatch_options(lines: list[str]) -> dict[str, Any]:
    """``#SBATCH --key=value`` (or ``--flag``) lines as submitit's additional parameters."""
    out: dict[str, Any] = {}
    for line in lines:
        opt = line.removeprefix("#SBATCH").strip().removeprefix("--")
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(" ")
        out[key.strip().replace("-", "_")] = value.strip() if sep and value.strip() else True
    return out


def _executor(store: ResultStore, ex_spec: Any, name: str) -> submitit.SlurmExecutor:
    ex = submitit.SlurmExecutor(folder=str(store.logs_dir / "submitit"), max_num_timeout=ex_spec.max_requeues)
    ex.update_parameters(**slurm_parameters(ex_spec, name))
    return ex


def sbatch_script(plan: Plan, store: ResultStore, n_tasks: int) -> str:
    """The script ``sbatch`` receives for this sweep's array (what ``--dry-run`` prints)."""
    from submitit.slurm.slurm import _make_sbatch_string

    ex_spec = plan.spec.executor
    command = " ".join(["python", "-u", "-m", "submitit.core._submit", str(store.logs_dir / "submitit")])
    return _make_sbatch_string(command=command, folder=str(store.logs_dir / "submitit"), map_count=n_tasks,
                               **slurm_parameters(ex_spec, str(plan.spec.name)))


def squeue(job_ids: Iterable[str]) -> dict[str, str]:
    """Array task id ("123_4") -> state, for the tasks of these jobs still in the queue."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    try:
        r = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T", "-j", ",".join(ids)], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        raise SlurmError(f"cannot reach Slurm (squeue: {e})") from None
    if r.returncode != 0 and "Invalid job id" not in r.stderr:
        raise SlurmError(f"cannot reach Slurm (squeue: {r.stderr.strip()})")
    out = {}
    for line in r.stdout.splitlines():
        tid, _, state = line.strip().partition("|")
        out[tid] = state
    return out


def live_units(store: ResultStore) -> set[Unit]:
    """Every (cell, seed, problem) held by a submitted task still in the queue."""
    return {u for _, bs in live_tasks(store).values() for b in bs for u in units_of(b)}


def job_writes(store: ResultStore, job_id: str) -> tuple[int, int]:
    """(parts, samples) the tasks of a job have written, from their journals."""
    parts = samples = 0
    for f in store.journal_dir.glob(f"job{job_id}_*.jsonl"):
        for e in store.read_journal(f.stem):
            if e.get("event") == "part":
                parts += 1
                samples += int(e["rows"])
    return parts, samples


class SlurmExecutor:
    """Submit the batches as a job array and return (``wait``: block until the queue holds none of
    its tasks, then count what they wrote)."""

    kind = "slurm"

    def __init__(self, wait: bool = False) -> None:
        self.wait = wait

    def run(self, plan: Plan, store: ResultStore, batches: list[Batch], result: SweepResult, models: dict[str, Any],
            *, engine_factory: EngineFactory, resolve: Resolver, observer: Observer) -> None:
        job_id = submit(plan, store, batches, engine_factory=engine_factory, resolve=resolve, say=observer.say)
        result.job_id = job_id
        if not self.wait:
            return
        wait(store, job_id, observer.say)
        result.generated_shards, result.samples = job_writes(store, job_id)
        done = store.completed()
        result.failed_batches = [b.batch_id for b in batches if not units_of(b) <= done]

    def held(self, store: ResultStore) -> set[Unit]:
        """Units that tasks still in the queue will write (never submitted twice)."""
        return live_units(store) if store.root.exists() else set()


def submissions(store: ResultStore) -> list[dict[str, Any]]:
    return [e for e in store.read_journal("submit") if e.get("event") == "submit"]


def live_tasks(store: ResultStore) -> dict[str, tuple[str, list[Batch]]]:
    """Array task id -> (state, its batches), for submitted tasks still in the queue."""
    subs = submissions(store)
    states = squeue(s["job_id"] for s in subs)
    out = {}
    for s in subs:
        for i, bs in s["tasks"].items():
            tid = f"{s['job_id']}_{i}"
            if tid in states and states[tid] in LIVE:
                out[tid] = (states[tid], [Batch(**{**b, "problem_ids": tuple(b["problem_ids"]),
                                                   "cell_ids": tuple(b["cell_ids"])}) for b in bs])
    return out


def submit(plan: Plan, store: ResultStore, batches: list[Batch], *, engine_factory: EngineFactory,
           resolve: Resolver, say: Callable[[str], None]) -> str:
    """Submit the batches as one job array (``batches_per_task`` each); journal it; return the job id."""
    ex_spec = plan.spec.executor
    per = ex_spec.batches_per_task
    groups = [batches[i:i + per] for i in range(0, len(batches), per)]
    ex = _executor(store, ex_spec, str(plan.spec.name))
    task_cls = SweepTask if ex_spec.requeue else PlainTask
    task = task_cls(plan.spec.model_dump_json(), str(store.root), engine_factory, resolve, ex_spec.retries)
    jobs = ex.map_array(task, groups)
    job_id = jobs[0].job_id.split("_")[0]
    store.append_journal("submit", {"event": "submit", "job_id": job_id, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                    "tasks": {str(i): [asdict(b) for b in g] for i, g in enumerate(groups)}})
    say(f"submitted job {job_id}: {len(groups)} array tasks ({per} batch{'es' if per > 1 else ''} each) on Slurm; "
        f"logs in {store.logs_dir / 'submitit'}")
    return job_id


def wait(store: ResultStore, job_id: str, say: Callable[[str], None], poll_s: float = 5.0) -> None:
    """Block until no task of the job is in the queue."""
    last = None
    while True:
        states = {t: s for t, s in squeue([job_id]).items() if s in LIVE}
        if not states:
            return
        summary = ", ".join(f"{n} {s.lower()}" for s, n in sorted(
            {s: sum(1 for v in states.values() if v == s) for s in set(states.values())}.items()))
        if summary != last:
            say(f"job {job_id}: {summary}")
            last = summary
        time.sleep(poll_s)
