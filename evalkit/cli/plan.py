"""What ``evalkit sweep --dry-run``, ``evalkit flops`` and ``evalkit doctor`` print."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.table import Table

from evalkit.analyze import accuracies_from_summary, complete_seeds, expected_seeds, population_floor, problem_accuracy
from evalkit.claims import load_reported
from evalkit.cli.common import console, fail, show
from evalkit.generate.engine import has_cuda
from evalkit.generate.packs import PACKS, installed, pack_dir
from evalkit.integrations.slurm.executor import sbatch_script
from evalkit.pipeline import load_model_config, plan_batches
from evalkit.pipeline.adaptive import rule_of
from evalkit.pipeline.flops import ModelShape, sample_flops, span_flops, span_kv_reads
from evalkit.pipeline.provenance import hardware, versions
from evalkit.pipeline.throughput import estimates, wall_time
from evalkit.spec import Plan
from evalkit.spec.shipped import REPORTED_FILE, locate, shipped
from evalkit.spec.tasks import data_status, registry
from evalkit.store import NUMBERS, ResultStore, Samples

REPORTED = shipped(REPORTED_FILE)  # published results shipped with evalkit


def print_plan(plan: Plan, results: Path, throughput: float, executor: str | None = None) -> None:
    s = plan.spec
    console.print(f"sweep [bold]{s.name}[/]: {len(plan.cells)} cells x {len(plan.seeds)} seeds", highlight=False)
    for name, n in plan.problem_counts.items():
        console.print(f"  task {name}: {n if n is not None else '?'} problems"
                      + (f"  ({plan.unavailable[name]})" if name in plan.unavailable else ""), highlight=False)
    for w in plan.warnings:
        console.print(f"warning: {w}", highlight=False, markup=False)
    for m in s.model_entries():
        console.print(f"  model {m.id}" + (f" engine {m.engine}" if m.engine else "")
                      + (f" served by {', '.join(m.server.urls)} as {m.server.model or m.id}" if m.server else ""),
                      highlight=False)
    for c in plan.cells:
        console.print(f"  cell {c.cell_id}  {c.label}", highlight=False)
    mml = next((m.engine.get("max_model_len") for m in s.model_entries() if m.engine.get("max_model_len")), None)
    req = plan.n_requests()
    ub = plan.token_upper_bound(mml)
    console.print(f"requests (problem x seed x cell): {req if req is not None else 'unknown (data unavailable)'}")
    console.print("upper bound on generated tokens, total over all cells (every sample of every problem and seed "
                  "to its cap, before tree reuse): "
                  + (f"{ub:,}" if ub is not None else "unbounded (a cap is null and no max_model_len)"))
    if ub is not None:
        console.print(f"estimated GPU time at {throughput:,.0f} generated tokens/s per GPU: "
                      f"{gpu_time(ub / throughput)}")
        print_machine_estimate(plan, mml)
        print_flops_bound(plan, mml)
    if s.adaptive is not None:
        print_adaptive(plan, results, throughput, ub)
    store = ResultStore(results / str(s.name))
    batches = plan_batches(plan, store.completed() if store.root.exists() else set())
    if store.root.exists():
        console.print(f"{store.root} exists: {len(batches)} batches still to run")
    if (executor or s.executor.kind) == "slurm":
        n = -(-len(batches) // s.executor.batches_per_task)
        console.print(f"slurm: a job array of {n} tasks, {s.executor.batches_per_task} batch(es) each "
                      f"({len(batches)} batches); the script sbatch receives:", highlight=False)
        console.print(sbatch_script(plan, store, max(n, 1)), highlight=False, markup=False)


def print_machine_estimate(plan: Plan, max_model_len: int | None) -> None:
    """Wall time on this machine, per model run here (:func:`evalkit.pipeline.throughput.estimates`): the
    trees' token bound at the rate the latest sweep of that model measured here, else at the project's
    reference rate for this CPU class, plus the engine's load."""
    hw = hardware()
    where = f"{hw['cpu']} x{hw['cores']}" + (f", {len(hw['gpus'])} GPU(s)" if hw["gpus"] else "")
    for e in estimates(plan, hw, max_model_len):
        if e.rate is None:
            console.print(f"wall time on this machine ({where}) for {e.model}: not measured yet ({e.tokens:,} tokens "
                          f"at most with trajectory trees; {e.basis}); every local sweep records its tok/s here for "
                          "the next estimate", highlight=False)
            continue
        console.print(f"estimated wall time on this machine ({where}) for {e.model}: {wall_time(e.seconds or 0.0)} "
                      f"({e.tokens:,} tokens at most with trajectory trees, at {e.rate:,.0f} tok/s"
                      f"{' ' if e.source == 'measured' else ': '}{e.basis}, plus "
                      f"{e.load_s:.0f} s to load the engine)", highlight=False)


def gpu_time(seconds: float) -> str:
    """An upper bound on GPU time in the unit that shows it: ``<= 18.4 GPU-hours``, ``<= 2.5 GPU-minutes``,
    ``<= 12 GPU-seconds``, ``< 1 GPU-second``."""
    if seconds >= 360:
        return f"<= {seconds / 3600:,.1f} GPU-hours"
    if seconds >= 60:
        return f"<= {seconds / 60:.1f} GPU-minutes"
    return f"<= {math.ceil(seconds)} GPU-seconds" if seconds > 1 else "< 1 GPU-second"


def _pilot(plan: Plan, results: Path) -> np.ndarray | None:
    """Outcomes ``[problem, seed]`` of the rule's first cell from rows already stored (a pilot), else None."""
    store = ResultStore(results / str(plan.spec.name))
    if not store.root.exists():
        return None
    rows = Samples.of(store.read_rows(columns=NUMBERS))
    cell = next(iter(plan.stop_cells().values()))[0]
    m = rows.where(rows.cell_id == cell).accuracy_matrix().to_numpy(float) if not rows.empty else np.empty((0, 0))
    m = complete_seeds(m) if m.size else m
    return m if m.size else None


def _published(plan: Plan) -> list[tuple[str, float, float, int]]:
    """The published multi-seed results (label, mean, seed SD, seeds; fractions) on the rule's task in
    ``paper_figs/s1_reported.yaml`` (the working directory's, else the shipped one)."""
    reported = locate(REPORTED_FILE)
    if not reported.exists():
        return []
    cells = {c.cell_id: c.task for c in plan.cells}
    task = cells[next(iter(plan.stop_cells().values()))[0]]
    return [(f"published: {r.system} on {task}, mean {r.mean:g}, seed SD {r.sd:g} over {r.seeds} seeds ({r.source})",
             r.mean / 100, r.sd / 100, r.seeds) for r in load_reported(reported).results
            if r.benchmark == task and r.mean is not None and r.sd is not None and r.seeds and 0 < r.mean < 100]


def print_adaptive(plan: Plan, results: Path, throughput: float, tokens_max: int | None) -> None:
    """An adaptive spec's dry run: the rule, the seeds it is expected to use (and GPU-hours) under stated
    assumptions, and the floor the number of problems sets on the population-of-problems interval."""
    a = plan.spec.adaptive
    assert a is not None
    rule = rule_of(a)
    of = "the population of problems" if a.stop.of == "population" else "these problems"
    what = (f"every interval within +-{a.stop.halfwidth:g} points ({of})" if a.stop.halfwidth is not None else
            f"the difference {' - '.join(a.stop.compare or [])} excludes 0"
            + (f" or lies inside +-{a.stop.margin:g} points" if a.stop.margin is not None else ""))
    console.print(f"adaptive seeds: {a.start}, then {a.step} per round, at most {a.max}; stop when {what} "
                  f"(anytime-valid at {a.confidence:.0%} for these problems)", highlight=False)
    pilot = _pilot(plan, results)
    n = min(v for v in plan.problem_counts.values() if v) if any(plan.problem_counts.values()) else 30
    published = _published(plan) if pilot is None else []  # per-problem accuracies consistent with them
    pilot_acc = problem_accuracy(pilot) if pilot is not None else None
    scenarios = ([("pilot: the stored rows' per-problem accuracies", pilot_acc, 0.0)] if pilot is not None else
                 [(f"{lab}; {n} problems", accuracies_from_summary(m, sd, n), 0.0) for lab, m, sd, _ in published] or
                 [(f"assumed: {n} problems, accuracies Beta(0.6, 0.9) quantiles (mean 0.4)",
                   accuracies_from_summary(0.4, math.sqrt((0.24 - 0.096) / n), n), 0.0)])
    if rule.rule != "halfwidth":
        base = scenarios[0][1]
        scenarios = [(f"{scenarios[0][0]}, difference {e:+.0%}", base, e) for e in (0.0, 0.05, 0.10)]
    per_seed = tokens_max / len(plan.seeds) if tokens_max else None
    for label, acc, effect in scenarios:
        f = expected_seeds(rule, acc, effect=effect, shared=0.8, sims=400)
        hours = f" ({gpu_time(per_seed * f.mean / throughput)})" if per_seed else ""
        console.print(f"  expected seeds {f.mean:.1f}{hours}, 90% of sweeps <= {f.quantiles[0.9]:.0f}, "
                      f"{f.share_at_max:.0%} run to {a.max}: {label}", highlight=False)
        if a.step > 1:  # the same simulated sweeps checked after every seed: what rounds of `step` seeds cost
            one = expected_seeds(replace(rule, step=1), acc, effect=effect, shared=0.8, sims=400).mean
            if f.mean - one >= 0.05:
                console.print(f"    with `step: 1` (checked after every seed; more rounds, smaller batches): "
                              f"{one:.1f} seeds, {1 - one / f.mean:.0%} fewer", highlight=False)
    if pilot is None and published:
        _, m, sd, k = published[0]
        floor = population_floor(n, mean=m, seed_sd=sd, seeds=k, confidence=a.confidence)
    else:
        floor = population_floor(n, correct=pilot if pilot is not None and pilot.shape[1] >= 2 else None,
                                 confidence=a.confidence)
    if a.stop.of == "population" and a.stop.halfwidth is not None:
        console.print(f"  {floor.message(a.stop.halfwidth / 100, 'the population of problems')}", highlight=False)
        return
    console.print(f"  floor of the population-of-problems interval: no number of seeds takes it below +-"
                  f"{100 * floor.floor:.1f} points with {n} problems ({floor.basis}); the rule is about these "
                  "problems", highlight=False)


def print_flops_bound(plan: Plan, max_model_len: int | None) -> None:
    """Upper bound on FLOPs (naive accounting: every sample pays its prompt) when a FLOPs model is known;
    prompt lengths are estimated at 4 characters per token."""
    total = 0.0
    for entry in plan.spec.model_entries():
        ref = entry.flops_config or entry.id
        try:
            shape = ModelShape.from_config(load_model_config(ref))
        except ValueError:
            console.print(f"FLOPs: no model config for {entry.id} (set flops_config)")
            return
        for c in plan.cells:
            if c.model != entry.id or plan.problem_counts.get(c.task) is None:
                continue
            probs = plan.selections[c.task].problems(plan.seeds[0])
            cap = c.forcing.cap if c.forcing.cap is not None else max_model_len
            if cap is None:
                return
            for p in probs:
                prompt = len(p.prompt) // 4 + 20
                total += float(span_flops(shape, 0, prompt + cap + c.sampling.answer_max_tokens)) * \
                    len(plan.seeds) * c.n_samples
    console.print(f"upper bound on FLOPs (naive accounting, before tree reuse): {total:.3g}")


def print_flops(model: str, prompt: int, think: int, answer: int, samples: int) -> None:
    try:
        shape = ModelShape.from_config(load_model_config(model))
    except ValueError as e:
        fail(str(e))
    t = Table(title=f"{model}: N_active = {shape.n_active:,} (non-embedding weights + LM head)")
    for h in ("part", "tokens", "FLOPs", "attention share"):
        t.add_column(h, justify="left" if h == "part" else "right")
    parts = [("prefill (prompt)", 0, prompt), ("thinking (decode)", prompt, think),
             ("answer (decode)", prompt + think, answer)]
    total = 0.0
    for name, start, n in parts:
        f = float(span_flops(shape, start, n))
        attn = f - 2.0 * shape.n_active * n
        total += f
        t.add_row(name, f"{n:,}", f"{f:.4g}", f"{attn / f:.1%}" if f else "-")
    t.add_row("total", f"{prompt + think + answer:,}", f"{total:.4g}", "")
    show(t)
    modes = sample_flops(shape, prompt, think + answer, 1.0 / samples)
    kv = float(span_kv_reads(shape, prompt, think + answer))
    for m, v in modes.items():
        console.print(
            f"  {m:14s} {float(v):.4g} FLOPs per sample" + (f" (1/{samples} of the prompt)" if m != "naive" else "")
        )
    console.print(f"  KV cache elements read while decoding: {kv:.4g}")


def print_doctor() -> bool:
    """Engine import and device, hardware, installed packs, data checksums; False if something is wrong."""
    ok = True
    v = versions()
    console.print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val), highlight=False)
    if importlib.util.find_spec("vllm") is None:
        console.print("engine: vllm NOT importable (install the cpu or gpu extra)")
        ok = False
    else:
        console.print(f"engine: vllm importable; device: {'cuda' if has_cuda() else 'cpu (eager mode)'}")
    hw = hardware()
    gpus = ", ".join(f"{g['name']} (driver {g['driver']})" for g in hw["gpus"]) or "none"
    console.print(f"hardware: {hw['cpu']} x{hw['cores']}, ISA {' '.join(hw['isa']) or '-'}"
                  f"{' (AMX: a branch and an independent run can part at bf16 near ties)' if hw['amx'] else ''}; "
                  f"GPUs: {gpus}", highlight=False)
    for name in PACKS:
        console.print(f"pack {name}: {pack_dir(name) if installed(name) else 'not installed'}", highlight=False)
    for name, td in sorted(registry().items()):
        status, n = data_status(td)
        bad = status.startswith("error")
        ok &= not bad
        console.print(f"data {name}: {status}" + (f", {n} problems" if n is not None else ""), highlight=False)
    return ok
