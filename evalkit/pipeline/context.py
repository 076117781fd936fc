"""Running batches: generate, grade and store every sample of a batch (one engine per model,
loaded once per process).

Batches stay the unit of resumption, retry, parts and Slurm array tasks, but the engine sees the trees
of as many consecutive batches of one model as it takes to keep ``max_in_flight`` requests in flight
(:mod:`evalkit.generate.fill`; the spec's ``executor.max_in_flight``, else the engine's own default).
Each batch is graded and written, in a thread of its own, the moment its last answer arrives, while
the engine generates on. A batch that cannot start, or whose rows cannot be built or written, and
every batch in flight when the engine fails, is run again alone with the usual retries."""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.generate import Job, run_trees
from evalkit.generate.engine import has_cuda
from evalkit.generate.fill import FillRun, Unit
from evalkit.generate.hardware import cpu_engine_choice
from evalkit.grade import GraderConfig, Item, answer_classes, grade_cached
from evalkit.grade.verifiers import load_verifier
from evalkit.pipeline.batches import Batch
from evalkit.pipeline.engine_log import tail
from evalkit.pipeline.models import EngineFactory, Resolver, flops_columns, flops_shape
from evalkit.pipeline.observer import Observer
from evalkit.pipeline.provenance import now
from evalkit.records import Generation, Grade, Problem
from evalkit.spec import Plan
from evalkit.spec.schema import ModelEntry
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
        self.observer = observer
        self._say_lock = threading.Lock()  # messages come from the generating and the writing thread
        self.writer = writer
        self.engine_log = engine_log  # where the engine's own output goes (None: the terminal)
        self.progress = observer.progress()
        self.cells = {c.cell_id: c for c in plan.cells}
        self.engines: dict[str, Any] = {}
        self.shapes: dict[str, Any] = {}
        self.models_info: dict[str, Any] = {}
        self.problems: dict[tuple[str, int], list[Problem]] = {}
        self.k = 0  # the running batch's index
        self.n_batches = self.finished = 0
        self.verifier = None
        spec = plan.spec
        if spec.parallel is not None and spec.parallel.verifier:
            self.verifier = load_verifier(spec.parallel.verifier)

    def say(self, msg: str) -> None:
        with self._say_lock:
            self.observer.say(msg)

    def engine(self, model_id: str) -> Any:
        if model_id not in self.engines:
            entry = next(e for e in self.plan.spec.model_entries() if e.id == model_id)
            path, info = self.resolve(model_id)
            self.say(f"model {model_id}: {path}")
            shape = flops_shape(model_id, path, entry.flops_config)  # what can fail from the spec, before a load
            self.say(f"loading the engine for {model_id} … (its output: "
                     f"{self.engine_log if self.engine_log is not None else 'the terminal'})")
            t0 = time.perf_counter()
            eng = self.engine_factory(model_id, path, self.stored_dtype(entry), self.plan)
            self.say(f"engine loaded in {time.perf_counter() - t0:.1f} s")
            if hasattr(eng, "server_info"):  # a served model: its warnings (a replica dropped) go to the run log
                eng.say = self.say
            try:
                self.models_info[model_id] = {
                    **info, "path": path, "engine": getattr(eng, "kind", type(eng).__name__),
                    "test_double": bool(getattr(eng, "test_double", False)),
                    "flops_n_active": shape.n_active if shape else None,
                    "engine_args": getattr(eng, "resolved_args", dict(entry.engine)),
                    **({"dtype_used": eng.dtype_used} if getattr(eng, "dtype_used", None) else {}),
                    **({"cpu_choice": eng.cpu_choice} if getattr(eng, "cpu_choice", None) else {}),
                    **({"load_s": round(eng.load_s, 1)} if isinstance(getattr(eng, "load_s", None), float) else {}),
                    "max_model_len": eng.max_model_len,
                    **({"server": eng.server_info} if hasattr(eng, "server_info") else {})}
            except BaseException:
                if hasattr(eng, "close"):
                    eng.close()
                raise
            self.engines[model_id], self.shapes[model_id] = eng, shape
        return self.engines[model_id]

    def stored_dtype(self, entry: ModelEntry) -> dict[str, Any]:
        """The model's engine arguments, with the dtype its stored rows were generated in when the spec
        gives none: a resume on another machine (a CPU without native bf16, which evalkit would run in
        float32; a GPU) generates the rest of the sweep in the same dtype, never a mix of two."""
        given = dict(entry.engine)
        if "dtype" in given or entry.server is not None:
            return given
        stored = (self.store.read_manifest().get("models") or {}).get(entry.id)
        if not isinstance(stored, dict) or stored.get("engine") != "vllm":
            return given
        dtype = stored.get("dtype_used") or (stored.get("cpu_choice") or {}).get("dtype_used")
        if not dtype:
            return given
        mine = cpu_engine_choice()["dtype"] if not has_cuda() else None  # None: vLLM's auto (the model's dtype)
        if mine is not None and mine != dtype or mine is None and dtype == "float32":
            self.say(f"model {entry.id}: generating in {dtype}, the dtype of its stored rows (this machine alone "
                     f"would use {mine or 'the model config dtype'}); give engine: {{dtype: ...}} in the spec "
                     f"to choose (a changed dtype is another experiment)")
        return {**given, "dtype": dtype}

    def problems_of(self, task: str, seed: int) -> list[Problem]:
        if (task, seed) not in self.problems:
            self.problems[(task, seed)] = self.plan.selections[task].problems(seed)
        return self.problems[(task, seed)]

    def jobs_of(self, batch: Batch) -> list[Job]:
        """The batch's jobs (announced, and shown as the running batch)."""
        probs = {p.problem_id: p for p in self.problems_of(batch.task, batch.seed)}
        jobs = [Job(self.cells[cid], probs[pid], batch.seed, i) for cid in batch.cell_ids
                for pid in batch.problem_ids for i in range(self.cells[cid].n_samples)]
        self.say(f"batch {batch.batch_id}: {len(batch.cell_ids)} cells x {len(batch.problem_ids)} problems, "
                 f"{len(jobs)} samples")
        self.progress.batch(self.k, batch.batch_id, len(jobs))
        return jobs

    @staticmethod
    def attempts_of(jobs: Sequence[Job]) -> list[int]:
        return [j.cell.max_attempts if j.cell.method == "rejection" else 0 for j in jobs]

    def in_flight_target(self, engine: Any) -> int:
        """Requests to keep in flight: the spec's ``executor.max_in_flight``, else the engine's default
        (what fills it: a served model's concurrency over its replicas; one batch at a time where none)."""
        n = self.plan.spec.executor.max_in_flight
        return int(n if n is not None else getattr(engine, "max_in_flight", 1))

    def generate(self, batch: Batch, result: SweepResult) -> tuple[list, list[Generation]]:
        """The batch's jobs and their generations (every job in one event-driven run: cells share
        trajectory trees, a rejection job's attempts are trajectories of its samples)."""
        engine = self.engine(batch.model)
        jobs = self.jobs_of(batch)
        t0 = time.perf_counter()
        before = getattr(engine, "generated_tokens", 0)
        attempts = self.attempts_of(jobs)
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
        self.store_batch(batch, jobs, gens, result)
        self.journal_generated(batch.batch_id, result.generated_tokens - tokens, result.generate_s - seconds)

    def journal_generated(self, batches: str, tokens: int, seconds: float) -> None:
        """What the engine generated for a batch, or for batches that shared its stream (a prefix that cells
        share counts once), for `evalkit status`."""
        self.store.append_journal(self.writer, {"time": now(), "event": "batch", "batch": batches,
                                                "generated_tokens": tokens, "generate_s": round(seconds, 3)})

    def store_batch(self, batch: Batch, jobs: Sequence[Job], gens: Sequence[Generation], result: SweepResult) -> None:
        """Grade a batch's generations and write its parts (one per cell)."""
        grades = self.grade(jobs, gens)
        shape, n_seeds, sweep = self.shapes[batch.model], len(self.plan.seeds), str(self.plan.spec.name)
        by_cell: dict[str, list[SampleRow]] = {}
        for j, g, v in zip(jobs, gens, grades, strict=True):
            flops = flops_columns(shape, g, j.problem, j.cell.n_samples, n_seeds)
            by_cell.setdefault(j.cell.cell_id, []).append(SampleRow.build(sweep, j.cell, j.problem, g, v, **flops))
        problems = {p.problem_id: p for p in self.problems_of(batch.task, batch.seed)}
        by_cell = {cid: verifier_scores(assign_classes(rows), self.verifier, problems) for cid, rows in by_cell.items()}
        self.store.write_batch(batch.seed, batch.batch_id, by_cell, writer=self.writer)  # shared texts once
        result.generated_shards += len(by_cell)
        result.samples += sum(len(rows) for rows in by_cell.values())

    def run_batches(self, batches: list[Batch], result: SweepResult, retries: int) -> None:
        """Every batch, each retried up to ``retries`` more times; a failure is recorded and the
        others go on. Consecutive batches of one model share the engine (see the module's docstring)."""
        self.progress.start(len(batches))
        self.n_batches, self.finished = len(batches), 0
        try:
            for _, group in itertools.groupby(batches, key=lambda b: b.model):
                self._run_filled(list(group), result, retries)
        finally:
            self.progress.close()

    def _batch_done(self, samples: int, failed: bool, result: SweepResult) -> None:
        with self._say_lock:
            self.finished += 1
            self.progress.batch_done(samples, failed)
            self.observer.say(f"[{self.finished}/{self.n_batches} batches] {result.samples} samples written, "
                              f"{result.generated_tokens} tokens generated")

    def _alone(self, b: Batch, result: SweepResult, retries: int, first_try: int = 0) -> None:
        before = result.samples
        ok = self._run_with_retries(b, result, retries, first_try)
        self._batch_done(result.samples - before, not ok, result)
        self.k += 1

    def _units(self, pending: Iterator[Batch], failed: list[Batch]) -> Iterator[Unit]:
        for b in pending:
            try:
                jobs = self.jobs_of(b)
            except Exception:  # noqa: BLE001 - run alone later, where the failure is recorded
                failed.append(b)
                continue
            self.k += 1
            yield Unit(b, jobs, self.attempts_of(jobs))

    def _run_filled(self, group: list[Batch], result: SweepResult, retries: int) -> None:
        """One model's batches through one engine stream (refilled as batches finish); each batch
        graded and written by a writer thread as soon as its answers are in."""
        try:
            engine = self.engine(group[0].model)
        except Exception:  # noqa: BLE001 - the engine does not load: the first batch's first try, as alone
            self._failed_try(group[0], 0, retries)
            self._alone(group[0], result, retries, first_try=1)
            for b in group[1:]:
                self._alone(b, result, retries)
            return
        again: list[Batch] = []  # run alone afterwards, with the usual retries
        pending = iter(group)
        writes: list[tuple[Batch, Future]] = []
        with ThreadPoolExecutor(1, thread_name_prefix="evalkit-writer") as writer:
            def complete(unit: Unit, gens: list[Generation]) -> None:
                while sum(not f.done() for _, f in writes) >= 8:  # bound what waits in memory
                    next(f for _, f in writes if not f.done()).exception()
                writes.append((unit.tag, writer.submit(self._write, unit.tag, unit.jobs, gens, result)))

            exhausted = False
            while not exhausted:
                streamed = len(writes)
                run = FillRun(engine, self._units(pending, again), max_in_flight=self.in_flight_target(engine),
                              reuse=self.plan.spec.reuse, on_complete=complete,
                              on_error=lambda u, e: self._later(u.tag, e, again), progress=self.say,
                              status=self.progress.update)
                t0, before = time.perf_counter(), getattr(engine, "generated_tokens", 0)
                try:
                    run.run()
                except Exception:  # noqa: BLE001 - the batches in flight run again alone
                    last = traceback.format_exc().strip().splitlines()[-1]
                    self.say(f"{len(run.active)} batches generating together failed ({last}); each runs again alone")
                    again.extend(u.tag for u in run.active)
                seconds, tokens = time.perf_counter() - t0, getattr(engine, "generated_tokens", 0) - before
                result.generate_s += seconds
                result.generated_tokens += tokens
                self.journal_generated("+".join(b.batch_id for b, _ in writes[streamed:]), tokens, seconds)
                exhausted = run.exhausted
            for b, f in writes:
                if (e := f.exception()) is not None:
                    self._later(b, e, again)
        for b in sorted(again, key=group.index):
            self._alone(b, result, retries)

    def _later(self, b: Batch, e: BaseException, again: list[Batch]) -> None:
        self.say(f"batch {b.batch_id}: {type(e).__name__}: {e}; it runs again alone")
        again.append(b)

    def _write(self, b: Batch, jobs: Sequence[Job], gens: Sequence[Generation], result: SweepResult) -> None:
        """In the writer thread: grade and write a batch generated with others."""
        before = result.samples
        self.store_batch(b, jobs, gens, result)
        self.store.clear_failures(b.batch_id)
        self._batch_done(result.samples - before, False, result)

    def _failed_try(self, b: Batch, attempt: int, retries: int) -> None:
        """Record the exception being handled as try ``attempt`` of batch ``b``."""
        tb = traceback.format_exc()
        self.store.record_failure(b.batch_id, attempt, tb, writer=self.writer)
        self.say(f"batch {b.batch_id} failed (try {attempt + 1} of {retries + 1}): {tb.strip().splitlines()[-1]}")

    def _run_with_retries(self, b: Batch, result: SweepResult, retries: int, first_try: int = 0) -> bool:
        for attempt in range(first_try, retries + 1):
            try:
                self.run_batch(b, result)
                self.store.clear_failures(b.batch_id)
                return True
            except Exception:  # noqa: BLE001 - isolate the failure, record it, go on
                self._failed_try(b, attempt, retries)
        result.failed_batches.append(b.batch_id)
        if self.engine_log is not None:
            last = tail(self.engine_log)
            self.say(f"engine log {self.engine_log}" + (f", its last lines:\n{last}" if last else ""))
        return False

    def close(self) -> None:
        for eng in self.engines.values():
            if hasattr(eng, "close"):
                eng.close()
