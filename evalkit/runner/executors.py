"""Where batches run: in this process, or as a submitit job array (Slurm, or submitit's local
executor for tests and single machines). Each array task loads the engine once, runs its batches and
writes its parts into the shared results directory; the parts are the results, so nothing needs
merging afterwards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from evalkit.runner.batches import Batch
from evalkit.runner.context import SweepContext, SweepResult
from evalkit.runner.models import EngineFactory, Resolver
from evalkit.spec import Plan
from evalkit.store import ResultStore

ExecutorKind = Literal["local", "slurm", "submitit-local"]
EXECUTOR_KINDS: tuple[str, ...] = get_args(ExecutorKind)


class Executor(Protocol):
    """Runs batches of a plan into a store; adds what it did to ``result`` and the models' manifest
    entries (path, engine arguments, context length) to ``models``, also when a batch fails."""

    kind: str

    def run(self, plan: Plan, store: ResultStore, batches: list[Batch], result: SweepResult,
            models: dict[str, Any], *, engine_factory: EngineFactory, resolve: Resolver,
            say: Callable[[str], None]) -> None: ...


class LocalExecutor:
    kind = "local"

    def __init__(self, progress: Any = None) -> None:  # noqa: ANN401 - a ProgressSink, or None: lines
        self.progress = progress

    def run(self, plan: Plan, store: ResultStore, batches: list[Batch], result: SweepResult,
            models: dict[str, Any], *, engine_factory: EngineFactory, resolve: Resolver,
            say: Callable[[str], None]) -> None:
        from evalkit.runner.quiet import _TERMINAL

        ctx = SweepContext(plan, store, engine_factory, resolve, say,
                           engine_log=store.logs_dir / "engine.log" if _TERMINAL else None, progress=self.progress)
        try:
            ctx.run_batches(batches, result, plan.spec.executor.retries)
        finally:
            models.update(ctx.models_info)
            ctx.close()


def _task(spec_json: str, root: str, batches: list[Batch], engine_factory: EngineFactory, resolve: Resolver,
          writer: str, retries: int) -> dict[str, Any]:
    """One array task (runs in the job's own process)."""
    from evalkit.runner.quiet import engine_output, terminal
    from evalkit.spec import SweepSpec, build_plan

    plan = build_plan(SweepSpec.model_validate_json(spec_json))
    store = ResultStore(root)
    result = SweepResult(store.root, 0, 0, 0)
    with engine_output(store.logs_dir / f"engine-{writer}.log") as log_path:
        ctx = SweepContext(plan, store, engine_factory, resolve, say=lambda m: print(m, file=terminal(), flush=True),
                           writer=writer, engine_log=log_path)
        try:
            ctx.run_batches(batches, result, retries)
        finally:
            ctx.close()
    return {"parts": result.generated_shards, "samples": result.samples, "failed": result.failed_batches,
            "tokens": result.generated_tokens, "generate_s": result.generate_s, "models": ctx.models_info}


class SubmititExecutor:
    """A job array through submitit, blocking until every task returns: ``submitit-local`` (local
    processes, for tests and single machines). Slurm has its own, detached executor
    (:mod:`evalkit.runner.slurm`)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def make(self, folder: Path, ex_spec: Any):  # noqa: ANN401, ANN201
        import submitit

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
            say: Callable[[str], None]) -> None:
        ex_spec = plan.spec.executor
        per = ex_spec.batches_per_task
        groups = [batches[i:i + per] for i in range(0, len(batches), per)]
        ex = self.make(store.logs_dir / "submitit", ex_spec)
        n = len(groups)
        jobs = ex.map_array(_task, [plan.spec.model_dump_json()] * n, [str(store.root)] * n, groups,
                            [engine_factory] * n, [resolve] * n, [f"task{i:05d}" for i in range(n)],
                            [ex_spec.retries] * n)
        say(f"submitted {n} array tasks ({self.kind}): job {jobs[0].job_id.split('_')[0] if jobs else '-'}; "
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


def get_executor(kind: str, progress: Any = None, wait: bool = False) -> Executor:  # noqa: ANN401
    if kind == "local":
        return LocalExecutor(progress)
    if kind == "slurm":
        from evalkit.runner.slurm import SlurmExecutor

        return SlurmExecutor(wait)
    if kind == "submitit-local":
        return SubmititExecutor(kind)
    raise ValueError(f"executor must be one of {', '.join(EXECUTOR_KINDS)}, got {kind!r}")
