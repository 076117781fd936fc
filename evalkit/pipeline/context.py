"""Running batches: generate, grade and store every sample of a batch (one engine per model,
loaded once per process)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.generate import Job, run_trees
from evalkit.grade import GraderConfig, Item, answer_classes, grade_cached
from evalkit.grade.verifiers import load_verifier
from evalkit.pipeline.batches import Batch
from evalkit.pipeline.engine_log import tail
from evalkit.pipeline.models import EngineFactory, Resolver, flops_columns, flops_shape
from evalkit.pipeline.observer import Observer
from evalkit.pipeline.provenance import now
from evalkit.records import Generation, Grade, Problem
from evalkit.spec import Plan
from evalkit.store import ResultStore, SampleRow


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
    job_id: str | None = None  # a Slurm submission's job id (the sweep runs on after this returns)
    held: int = 0  # sample units not on disk but held by tasks still in the Slurm queue
    batches: int = 0  # batches this run set out to run (or submit)
    decision: dict[str, Any] | None = None  # an adaptive sweep's last decision (evalkit.pipeline.adaptive)

    @property
    def all_failed(self) -> bool:
        """Every batch of this run failed (nothing it set out to do was done)."""
        return bool(self.failed_batches) and len(self.failed_batches) >= self.batches


def assign_classes(rows: Sequence[SampleRow]) -> list[SampleRow]:
    """Equivalence classes of the extracted answers among the samples of each (problem, seed), for
    votes (``1/2`` and ``0.5`` share a class)."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r.problem_id, r.seed), []).append(i)
    out = list(rows)
    for idx in groups.values():
        labels = answer_classes([rows[i].extracted for i in idx], rows[idx[0]].answer_type)
        for i, lab in zip(idx, labels, strict=True):
            out[i] = out[i].replace(answer_class=lab)
    return out


def verifier_scores(rows: Sequence[SampleRow], verifier: Any, problems: dict[str, Problem]) -> list[SampleRow]:
    """Verifier scores of a parallel cell's samples (for best-of-n), per (problem, seed)."""
    if verifier is None or not rows or rows[0].method != "parallel":
        return list(rows)
    groups: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r.problem_id, r.seed), []).append(i)
    out = list(rows)
    for (pid, _), idx in groups.items():
        scores = list(verifier(problems[pid], [rows[i].response for i in idx], [rows[i].extracted for i in idx]))
        if len(scores) != len(idx):
            raise ValueError(f"verifier returned {len(scores)} scores for {len(idx)} samples")
        for i, sc in zip(idx, scores, strict=True):
            out[i] = out[i].replace(verifier_score=float(sc))
    return out


class SweepContext:
    """What a worker needs to run batches: the plan, the store, an engine per model (loaded once)."""

    def __init__(self, plan: Plan, store: ResultStore, engine_factory: EngineFactory, resolve: Resolver,
                 observer: Observer, writer: str = "local", engine_log: Path | None = None) -> None:
        self.plan, self.store, self.engine_factory, self.resolve = plan, store, engine_factory, resolve
        self.observer, self.say = observer, observer.say
        self.writer = writer
        self.engine_log = engine_log  # where the engine's own output goes (None: the terminal)
        self.progress = observer.progress()
        self.cells = {c.cell_id: c for c in plan.cells}
        self.engines: dict[str, Any] = {}
        self.shapes: dict[str, Any] = {}
        self.models_info: dict[str, Any] = {}
        self.problems: dict[tuple[str, int], list[Problem]] = {}
        self.k = 0  # the running batch's index
        self.verifier = None
        spec = plan.spec
        if spec.parallel is not None and spec.parallel.verifier:
            self.verifier = load_verifier(spec.parallel.verifier)

    def engine(self, model_id: str) -> Any:
        if model_id not in self.engines:
            entry = next(e for e in self.plan.spec.model_entries() if e.id == model_id)
            path, info = self.resolve(model_id)
            self.say(f"model {model_id}: {path}")
            shape = flops_shape(model_id, path, entry.flops_config)  # what can fail from the spec, before a load
            self.say(f"loading the engine for {model_id} … (its output: "
                     f"{self.engine_log if self.engine_log is not None else 'the terminal'})")
            t0 = time.perf_counter()
            eng = self.engine_factory(model_id, path, dict(entry.engine), self.plan)
            self.say(f"engine loaded in {time.perf_counter() - t0:.1f} s")
            if hasattr(eng, "server_info"):  # a served model: its warnings (a replica dropped) go to the run log
                eng.say = self.say
            try:
                self.models_info[model_id] = {
                    **info, "path": path, "engine": getattr(eng, "kind", type(eng).__name__),
                    "test_double": bool(getattr(eng, "test_double", False)),
                    "flops_n_active": shape.n_active if shape else None,
                    "engine_args": getattr(eng, "resolved_args", dict(entry.engine)),
                    "max_model_len": eng.max_model_len,
                    **({"server": eng.server_info} if hasattr(eng, "server_info") else {})}
            except BaseException:
                if hasattr(eng, "close"):
                    eng.close()
                raise
            self.engines[model_id], self.shapes[model_id] = eng, shape
        return self.engines[model_id]

    def problems_of(self, task: str, seed: int) -> list[Problem]:
        if (task, seed) not in self.problems:
            self.problems[(task, seed)] = self.plan.selections[task].problems(seed)
        return self.problems[(task, seed)]

    def generate(self, batch: Batch, result: SweepResult) -> tuple[list, list[Generation]]:
        """The batch's jobs and their generations (every job in one event-driven run: cells share
        trajectory trees, a rejection job's attempts are trajectories of its samples)."""
        engine = self.engine(batch.model)
        probs = {p.problem_id: p for p in self.problems_of(batch.task, batch.seed)}
        jobs = [Job(self.cells[cid], probs[pid], batch.seed, i) for cid in batch.cell_ids
                for pid in batch.problem_ids for i in range(self.cells[cid].n_samples)]
        self.say(f"batch {batch.batch_id}: {len(batch.cell_ids)} cells x {len(batch.problem_ids)} problems, "
                 f"{len(jobs)} samples")
        t0 = time.perf_counter()
        before = getattr(engine, "generated_tokens", 0)
        attempts = [j.cell.max_attempts if j.cell.method == "rejection" else 0 for j in jobs]
        self.progress.batch(self.k, batch.batch_id, len(jobs))
        gens = run_trees(engine, jobs, max_attempts=attempts, reuse=self.plan.spec.reuse, progress=self.say,
                         status=self.progress.update)
        result.generate_s += time.perf_counter() - t0
        result.generated_tokens += getattr(engine, "generated_tokens", 0) - before
        return jobs, gens

    def grade(self, jobs: Sequence, gens: Sequence[Generation]) -> list[Grade]:
        """Verdicts of every generation (sandboxed, cached; each distinct answer graded once)."""
        gspec = self.plan.spec.grader
        cfg = GraderConfig(timeout_s=gspec.timeout_s, unclosed_thinking=gspec.unclosed_thinking,
                           unit_letters=gspec.unit_letters)
        items = [Item(g.answer_text, j.problem.gold, j.problem.answer_type) for j, g in zip(jobs, gens, strict=True)]
        unique = list(dict.fromkeys(items))
        verdicts, _ = grade_cached(unique, cfg, workers=1, timeout_s=gspec.timeout_s)
        verdict = dict(zip(unique, verdicts, strict=True))
        return [verdict[it] for it in items]

    def run_batch(self, batch: Batch, result: SweepResult) -> None:
        tokens, seconds = result.generated_tokens, result.generate_s
        jobs, gens = self.generate(batch, result)
        grades = self.grade(jobs, gens)
        shape, n_seeds, sweep = self.shapes[batch.model], len(self.plan.seeds), str(self.plan.spec.name)
        by_cell: dict[str, list[SampleRow]] = {}
        for j, g, v in zip(jobs, gens, grades, strict=True):
            flops = flops_columns(shape, g, j.problem, j.cell.n_samples, n_seeds)
            by_cell.setdefault(j.cell.cell_id, []).append(SampleRow.build(sweep, j.cell, j.problem, g, v, **flops))
        problems = {p.problem_id: p for p in self.problems_of(batch.task, batch.seed)}
        for cid, rows in by_cell.items():
            rows = verifier_scores(assign_classes(rows), self.verifier, problems)
            self.store.write_part(cid, batch.seed, batch.batch_id, rows, writer=self.writer)
            result.generated_shards += 1
            result.samples += len(rows)
        # what the engine generated for the batch (a prefix shared by its cells once), for `evalkit status`
        self.store.append_journal(self.writer, {
            "time": now(), "event": "batch", "batch": batch.batch_id,
            "generated_tokens": result.generated_tokens - tokens, "generate_s": round(result.generate_s - seconds, 3)})

    def run_batches(self, batches: list[Batch], result: SweepResult, retries: int) -> None:
        """Every batch, each retried up to ``retries`` more times; a failure is recorded and the
        others go on."""
        self.progress.start(len(batches))
        try:
            for k, b in enumerate(batches):
                self.k = k
                before = result.samples
                ok = self._run_with_retries(b, result, retries)
                self.progress.batch_done(result.samples - before, not ok)
                self.say(f"[{k + 1}/{len(batches)} batches] {result.samples} samples written, "
                         f"{result.generated_tokens} tokens generated")
        finally:
            self.progress.close()

    def _run_with_retries(self, b: Batch, result: SweepResult, retries: int) -> bool:
        for attempt in range(retries + 1):
            try:
                self.run_batch(b, result)
                self.store.clear_failures(b.batch_id)
                return True
            except Exception:  # noqa: BLE001 - isolate the failure, record it, go on
                tb = traceback.format_exc()
                self.store.record_failure(b.batch_id, attempt, tb, writer=self.writer)
                self.say(f"batch {b.batch_id} failed (try {attempt + 1} of {retries + 1}): "
                         f"{tb.strip().splitlines()[-1]}")
        result.failed_batches.append(b.batch_id)
        if self.engine_log is not None:
            last = tail(self.engine_log)
            self.say(f"engine log {self.engine_log}" + (f", its last lines:\n{last}" if last else ""))
        return False

    def close(self) -> None:
        for eng in self.engines.values():
            if hasattr(eng, "close"):
                eng.close()
