"""Where batches run, by kind (:data:`EXECUTORS`, the one table of them): in this process
(:class:`LocalExecutor`), or at the edge: a submitit job array (``submitit-local``) or a Slurm job array
(``slurm``), in :mod:`evalkit.integrations.slurm`, loaded by name so that the pipeline does not depend on
submitit or Slurm."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from evalkit.pipeline.batches import Batch
from evalkit.pipeline.context import SweepContext, SweepResult
from evalkit.pipeline.models import EngineFactory, Resolver
from evalkit.pipeline.observer import Observer
from evalkit.spec import Plan
from evalkit.store import ResultStore


class Executor(Protocol):
    """Runs batches of a plan into a store; adds what it did to ``result`` and the models' manifest
    entries (path, engine arguments, context length) to ``models``, also when a batch fails.
    ``held(store)``: units that tasks still queued or running will write (never submitted twice)."""

    kind: str

    def run(self, plan: Plan, store: ResultStore, batches: list[Batch], result: SweepResult,
            models: dict[str, Any], *, engine_factory: EngineFactory, resolve: Resolver,
            observer: Observer) -> None: ...

    def held(self, store: ResultStore) -> set[tuple[str, int, str]]: ...


class LocalExecutor:
    """In this process, the engine loaded once per model; its output goes to ``logs/engine.log`` while
    it runs, unless the observer keeps it on the terminal."""

    kind = "local"

    def __init__(self, wait: bool = False) -> None:
        pass

    def run(self, plan: Plan, store: ResultStore, batches: list[Batch], result: SweepResult,
            models: dict[str, Any], *, engine_factory: EngineFactory, resolve: Resolver,
            observer: Observer) -> None:
        with observer.engine_output(store.logs_dir / "engine.log") as engine_log:
            ctx = SweepContext(plan, store, engine_factory, resolve, observer, engine_log=engine_log)
            try:
                ctx.run_batches(batches, result, plan.spec.executor.retries)
            finally:
                models.update(ctx.models_info)
                ctx.close()

    def held(self, store: ResultStore) -> set[tuple[str, int, str]]:
        return set()


#: The executors by kind, as ``module:class`` (a class taking ``wait``): loaded by name so that the pipeline does
#: not depend on submitit or Slurm. A new executor is its module plus one line here; ``--executor`` and its
#: help read this table.
EXECUTORS: dict[str, str] = {
    "local": "evalkit.pipeline.executors:LocalExecutor",
    "slurm": "evalkit.integrations.slurm.executor:SlurmExecutor",
    "submitit-local": "evalkit.integrations.slurm.arrays:SubmititExecutor",
}
EXECUTOR_KINDS: tuple[str, ...] = tuple(EXECUTORS)


def get_executor(kind: str, wait: bool = False) -> Executor:
    """The executor of a kind; ``wait``: a detached one (Slurm) blocks until its jobs have left the queue."""
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTOR_KINDS)}, got {kind!r}")
    module, name = EXECUTORS[kind].split(":")
    executor: Executor = getattr(importlib.import_module(module), name)(wait)
    return executor
