"""Array jobs through submitit: ``submitit-local`` (local processes, for tests and single machines)
blocks until every task returns. Each array task loads the engine once, runs its batches and writes
its parts into the shared results directory; the parts are the results, so nothing needs merging
afterwards. Slurm has its own, detached executor (:mod:`evalkit.integrations.slurm.executor`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import submitit

from evalkit.pipeline.batches import Batch
from evalkit.pipeline.context import SweepContext, SweepResult
from evalkit.pipeline.models import EngineFactory, Resolver
from evalkit.pipeline.observer import Observer
from evalkit.spec import Plan, SweepSpec, build_plan
from evalkit.store import ResultStore


def _task(spec_json: str, root: str, batches: list[Batch], engine_factory: EngineFactory, resolve: Resolver,
          writer: str, retries: int) -> dict[str, Any]:
    """One array task (runs in the job's own process)."""
    plan = build_plan(SweepSpec.model_validate_json(spec_json))
    store = ResultStore(root)
    result = SweepResult(store.root, 0, 0, 0)
    observer = Observer()  # the task's lines go to its submitit log, the engine's to the results' logs
    with observer.engine_output(store.logs_dir / f"engine-{writer}.log") as log_path:
        ctx = SweepContext(plan, store, engine_factory, resolve, observer, writer=writer, engine_log=log_path)
        try:
            ctx.run_batches(batches, result, retries)
        finally:
            ctx.close()
    return {"parts": result.generated_shards, "samples": result.samples, "failed": result.failed_batches,
            "tokens": result.generated_tokens, "generate_s": result.generate_s, "models": ctx.models_info}


class SubmititExecutor:
    """A job array through submitit, blocking until every task returns: ``submitit-local`` (local
    processes, for tests and single machines). Slurm has its own, detached executor
    (:mod:`evalkit.integrations.slurm.executor`)."""

    kind = "submitit-local"

    def __init__(self, wait: bool = True, kind: str = "submitit-local") -> None:
        self.kind = kind  # "slurm" here: a blocking array through submitit's AutoExecutor (not the default)

    def make(self, folder: Path, ex_spec: Any):  # noqa: ANN201
        if self.kind == "submitit-local":
            ex = submitit.LocalExecutor(folder=str(folder))
            ex.update_parameters(timeout_min=ex_spec.timeout_min)
            return ex
        ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
        params: dict[str, Any] = {
            "timeout_min": ex_spec.timeout_min,
            "gpus_per_node": ex_spec.gpus_per_node,
            "cpus_per_task": ex_spec.cpus_per_task,
            "mem_gb": ex_spec.mem_gb,
            "slurm_array_parallelism": ex_spec.array_parallelism,
            "name": "evalkit",
        }
        if ex_spec.partition:
            params["slurm_partition"] = ex_spec.partition
        ex.update_parameters(**params)
        return ex

    def run(self, plan: Plan, store: ResultStore, batches: list[Batch], result: SweepResult,
            models: dict[str, Any], *, engine_factory: EngineFactory, resolve: Resolver,
            observer: Observer) -> None:
        ex_spec = plan.spec.executor
        per = ex_spec.batches_per_task
        groups = [batches[i:i + per] for i in range(0, len(batches), per)]
        ex = self.make(store.logs_dir / "submitit", ex_spec)
        n = len(groups)
        jobs = ex.map_array(_task, [plan.spec.model_dump_json()] * n, [str(store.root)] * n, groups,
                            [engine_factory] * n, [resolve] * n, [f"task{i:05d}" for i in range(n)],
                            [ex_spec.retries] * n)
        observer.say(f"submitted {n} array tasks ({self.kind}): job {jobs[0].job_id.split('_')[0] if jobs else '-'}; "
            f"logs in {store.logs_dir / 'submitit'}")
        for job, group in zip(jobs, groups, strict=True):
            try:
                out = job.result()
            except Exception as e:  # noqa: BLE001 - a task that died: its batches are failed, the rest go on
                for b in group:
                    store.record_failure(b.batch_id, 0, f"array task {job.job_id} failed: {e!r}")
                    result.failed_batches.append(b.batch_id)
                continue
            result.generated_shards += out["parts"]
            result.samples += out["samples"]
            result.generated_tokens += out["tokens"]
            result.generate_s += out["generate_s"]
            result.failed_batches.extend(out["failed"])
            models.update(out.get("models") or {})

    def held(self, store: ResultStore) -> set[tuple[str, int, str]]:
        return set()  # it blocks until its tasks return: nothing is left queued
