"""Running a sweep: plan -> batches -> generate -> grade -> store, resumable to the sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalkit.grade import GRADER_VERSION
from evalkit.pipeline.adaptive import run_adaptive
from evalkit.pipeline.batches import plan_batches
from evalkit.pipeline.changes import check_store
from evalkit.pipeline.checks import check_plan
from evalkit.pipeline.context import SweepResult
from evalkit.pipeline.engines import EngineFactory, Resolver, run_kind
from evalkit.pipeline.executors import Executor, get_executor
from evalkit.pipeline.models import default_resolve
from evalkit.pipeline.observer import Observer, RunLog
from evalkit.pipeline.provenance import git_commit, hardware, now, versions
from evalkit.pipeline.throughput import record as record_throughput
from evalkit.spec import Plan, SpecError, SweepSpec, build_plan, get_task, load_spec
from evalkit.spec.plan import check_gpus
from evalkit.store import ResultStore
from evalkit.store.compact import AUTO_PARTS, compact


def results_dir(results_root: str | Path, name: str) -> Path:
    """``results_root/name``, refused unless it resolves inside the results root."""
    root = Path(results_root).resolve()
    out = (root / name).resolve()
    if root not in out.parents:
        raise SpecError([f"name: {name!r}: results would be written to {out}, outside the results root {root}"])
    return Path(results_root) / name


def as_plan(sweep: Plan | SweepSpec | str | Path) -> Plan:
    """A plan from a plan, a parsed spec, or the path of a sweep YAML."""
    if isinstance(sweep, Plan):
        return sweep
    return build_plan(sweep if isinstance(sweep, SweepSpec) else load_spec(sweep))


def _engine(engine: str | EngineFactory, resolve: Resolver | None) -> tuple[EngineFactory, Resolver]:
    if isinstance(engine, str):
        kind = run_kind(engine)
        return kind.factory, resolve or kind.resolve
    return engine, resolve or default_resolve


def write_manifest(store: ResultStore, plan: Plan, manifest: dict[str, Any], run: dict[str, Any],
                   models: dict[str, Any]) -> None:
    """The results directory's manifest: the spec, data checksums, models, versions, and every run."""
    spec = plan.spec
    store.write_manifest({
        "sweep": spec.name,
        "spec": spec.model_dump(mode="json"),
        "grader_version": GRADER_VERSION,
        "data": {name: {"sha256": get_task(name).sha256, "selection": sel.key}
                 for name, sel in plan.selections.items()},
        "models": models,
        "versions": versions(),
        "hardware": hardware(),  # where this process generated; each run's own is in runs[]
        "git_commit": git_commit(),
        "created": manifest.get("created", run["start"]),
        "updated": now(),
        "runs": [*manifest.get("runs", []), run],
    })


def run_sweep(
    sweep: Plan | SweepSpec | str | Path,
    results_root: str | Path = "results",
    *,
    engine: str | EngineFactory = "vllm",
    resolve: Resolver | None = None,
    force: bool = False,
    executor: str | None = None,
    observer: Observer | None = None,
    wait: bool = False,
    add_cells: bool = False,
) -> SweepResult:
    """Run (or resume) a sweep: every sample unit missing from ``results_root/<sweep>`` is generated,
    graded and stored, batch by batch.

    ``sweep``: a plan, a spec, or a sweep YAML's path. ``engine``: ``vllm``, ``scripted`` (the test
    double) or a factory ``(model id, path, engine args, plan) -> engine``. ``executor`` overrides the
    spec's (local | slurm | submitit-local). ``observer`` receives evalkit's messages and progress and
    decides where the engine's own output goes (default :class:`~evalkit.pipeline.observer.Observer`:
    lines on stderr, the engine's output in ``logs/engine.log``); every message also goes to the run's
    ``logs/run-<start>.log``. On Slurm the sweep is submitted as a job array and this returns at once
    (``result.job_id``; follow it with ``evalkit status``) unless ``wait``; units held by tasks still in
    the queue are never submitted again. A plan whose experiment differs from the one already stored
    under its name (a changed temperature, model, selection, ...) is refused naming each difference
    (:func:`~evalkit.pipeline.changes.check_store`) unless ``add_cells``."""
    observer = observer or Observer()
    plan = as_plan(sweep)
    spec = plan.spec
    check_plan(plan, engine if isinstance(engine, str) else None)
    factory, resolve = _engine(engine, resolve)
    for w in plan.warnings:
        observer.say(f"warning: {w}")
    kind = executor or spec.executor.kind
    check_gpus(spec, kind)
    run_on = get_executor(kind, wait)
    store = ResultStore(results_dir(results_root, str(spec.name)))
    changes = check_store(plan, store, add_cells)
    if changes:
        observer.say(f"{store.root}: adding cells that differ from the stored ones in: {'; '.join(changes)}")

    def run_pass(p: Plan, first: bool) -> SweepResult:
        return _run_pass(p, store, run_on, factory, resolve, force=force and first, observer=observer,
                         changes=changes)

    if spec.adaptive is not None:
        return run_adaptive(plan, store, run_pass, observer)
    return run_pass(plan, True)


def _run_pass(plan: Plan, store: ResultStore, run_on: Executor, factory: EngineFactory, resolve: Resolver, *,
              force: bool, observer: Observer, changes: list[str] | None = None) -> SweepResult:
    """Every missing unit of the plan's seeds: batches run (or submitted), the run recorded in the manifest."""
    if orphans := store.remove_orphans():
        observer.say(f"{store.root}: removed {orphans} temporary files of writers killed mid-write")
    done = set() if force else (store.completed() if store.root.exists() else set())
    held = run_on.held(store) - done  # never submit twice what a queued or running task will write
    batches = plan_batches(plan, done | held, force=force)
    units = {(c.cell_id, s) for c in plan.cells for s in plan.seeds}
    pending = {(c, b.seed) for b in batches for c in b.cell_ids}
    result = SweepResult(store.root, 0, len(units - pending), 0, held=len(held), batches=len(batches))
    if not batches:
        observer.say(
            f"{store.root}: all {len(units)} (cell, seed) pairs are complete; nothing to generate"
            if not held
            else f"{store.root}: nothing to submit: {len(held)} missing samples are held by tasks still in the Slurm "
            f"queue (evalkit status {store.root})"
        )
        return result
    manifest, started = store.read_manifest(), now()
    log = RunLog(observer, store.logs_dir / f"run-{started.replace(':', '')}.log", now)
    store.write_cells({**store.read_cells(), **{c.cell_id: {"label": c.label, **c.key} for c in plan.cells}})
    log.say(f"{len(batches)} batches to run ({run_on.kind}), {len(units) - len(pending)} of {len(units)} "
        f"(cell, seed) pairs already complete")
    models = manifest.get("models", {})
    try:
        run_on.run(plan, store, batches, result, models, engine_factory=factory, resolve=resolve, observer=log)
        if result.generate_s:
            log.say(f"{result.samples} samples in {result.generated_shards} parts; {result.generated_tokens} generated "
                f"tokens in {result.generate_s:.1f}s ({result.generated_tokens / result.generate_s:.1f} tok/s)")
            loaded = [m for m in plan.spec.model_entries() if m.id in models]
            if run_on.kind == "local" and len(loaded) == 1:  # this machine's rate, for the dry run's estimate
                record_throughput(hardware(), loaded[0].id, models[loaded[0].id], result.generated_tokens,
                                  result.generate_s, str(plan.spec.name), now())
        if result.failed_batches:
            log.say(f"{len(result.failed_batches)} batches failed (tracebacks in {store.failures_dir}); "
                "run the sweep again to retry them")
        elif result.job_id is None or getattr(run_on, "wait", False):  # every batch is written: cells of many
            # parts become one file each (parts still being written beside it are untouched)
            compact(store, min_parts=AUTO_PARTS, say=log.say)
    finally:
        run = {
            "start": started,
            "end": now(),
            "executor": run_on.kind,
            **({"job_id": result.job_id} if result.job_id else {}),
            **({"added_cells_differing_in": changes} if changes else {}),
            "parts_written": result.generated_shards,
            "samples": result.samples,
            "failed_batches": result.failed_batches,
            "generated_tokens": result.generated_tokens,
            "generate_s": round(result.generate_s, 3),
            "git_commit": git_commit(),
            "versions": versions(),
            "hardware": hardware(),
        }
        write_manifest(store, plan, manifest, run, models)
        log.close()
    return result
