"""The generation rates of the sweeps that ran here: what the dry run's wall-time estimate for this machine
is made of (issue #38), and ``--within``'s cut of a sweep to that estimate.

Every local sweep that generated with the in-process vLLM engine adds its measured rate (generated tokens
over generation time, and the engine's load time) to ``<cache>/throughput.json``, keyed by this machine
(CPU model, cores, kernel-selecting ISA flags, GPUs), the model, the dtype vLLM used and the executor.
``evalkit sweep --dry-run`` reads the latest entry for the spec's model on this machine. A served model's
rate is the server's, not this machine's: not recorded.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.generate.hardware import cpu_engine_choice
from evalkit.paths import cache_dir
from evalkit.spec import Plan, build_plan

MIN_TOKENS, MIN_SECONDS = 1000, 10.0  # a rate measured on less says little
KEEP = 64  # entries kept (the newest)


def history_path() -> Path:
    """``EVALKIT_THROUGHPUT`` if set (the tests point it elsewhere), else ``<cache>/throughput.json``."""
    if os.environ.get("EVALKIT_THROUGHPUT"):
        return Path(os.environ["EVALKIT_THROUGHPUT"])
    return cache_dir("throughput.json")


def machine_key(hw: dict[str, Any]) -> str:
    gpus = ",".join(g.get("name", "?") for g in hw.get("gpus") or [])
    return f"{hw.get('cpu')} x{hw.get('cores')} [{' '.join(hw.get('isa') or [])}]" + (f" gpus {gpus}" if gpus else "")


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def record(hw: dict[str, Any], model: str, info: dict[str, Any], tokens: int, seconds: float, sweep: str,
           when: str, path: Path | None = None) -> dict[str, Any] | None:
    """Add a sweep's rate for ``model`` (its manifest entry ``info``) if it generated in process with
    vLLM and long enough to measure; the entry, or None. Never fails the sweep (an unwritable cache is
    skipped)."""
    if info.get("engine") != "vllm" or tokens < MIN_TOKENS or seconds < MIN_SECONDS:
        return None
    args = info.get("engine_args") or {}
    entry = {"machine": machine_key(hw), "model": model,
             "dtype": (info.get("cpu_choice") or {}).get("dtype_used") or args.get("dtype") or "auto",
             "executor": args.get("distributed_executor_backend") or "default",
             "tok_s": round(tokens / seconds, 2), "tokens": int(tokens), "generate_s": round(seconds, 1),
             "load_s": info.get("load_s"), "sweep": sweep, "when": when}
    path = path or history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        entries = (_read(path) + [entry])[-KEEP:]
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".throughput-")
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f, indent=1)
        os.replace(tmp, path)
    except OSError:
        return None
    return entry


def lookup(hw: dict[str, Any], model: str, executor: str | None = None, path: Path | None = None
           ) -> dict[str, Any] | None:
    """The latest rate recorded for ``model`` on this machine (with that executor, if one is given)."""
    key = machine_key(hw)
    found = [e for e in _read(path or history_path()) if e.get("machine") == key and e.get("model") == model
             and (executor is None or e.get("executor") == executor)]
    return found[-1] if found else None


# The project's reference rates for the packs when no sweep has run here yet: generated tokens/s of a
# batch of 16 (128 tokens each, top_p 0.95) on 2 cores of an AMD EPYC, and the engine's load time, by
# whether the CPU has native bf16 (AVX-512 BF16 kernels, bf16) or not (AVX2 kernels, float32: evalkit's
# choice there), and executor. benchmarks/engine_cpu_results.md, 2026-12-07.
REFERENCE: dict[tuple[str, bool, str], tuple[float, float]] = {
    ("smollm2-135m", True, "default"): (113.0, 35.0), ("smollm2-135m", True, "uni"): (178.0, 9.0),
    ("smollm2-135m", False, "default"): (65.0, 33.0), ("smollm2-135m", False, "uni"): (104.0, 10.0),
    ("qwen2.5-coder-0.5b", True, "default"): (46.0, 43.0), ("qwen2.5-coder-0.5b", True, "uni"): (76.0, 13.0),
    ("qwen2.5-coder-0.5b", False, "default"): (23.0, 38.0), ("qwen2.5-coder-0.5b", False, "uni"): (38.0, 14.0),
}


def reference(model: str, native_bf16: bool, executor: str, dtype: str | None) -> tuple[float, float] | None:
    """(tok/s, load s) of the project's reference run for a pack on a CPU of this class, if measured for
    the dtype evalkit picks there (an explicit other dtype has no reference)."""
    if dtype not in (None, "auto", "bfloat16" if native_bf16 else "float32"):
        return None
    return REFERENCE.get((model, native_bf16, executor))


def duration(seconds: float) -> str:
    """``1h05m``, ``9m30s``, ``40s``."""
    s = max(int(round(seconds)), 1)
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def wall_time(seconds: float) -> str:
    """An upper bound: ``<= 1h05m``, ``<= 9m30s``, ``<= 40s``."""
    return f"<= {duration(seconds)}"


@dataclass(frozen=True)
class Estimate:
    """Wall time of one model's generations on this machine: ``tokens`` (the trees' bound) at ``rate``
    tok/s plus ``load_s``; ``rate`` None when neither this machine nor the project's reference knows it.
    ``source``: ``measured`` (the latest sweep here) or ``reference``; ``basis``: what the rate is."""

    model: str
    tokens: int
    rate: float | None
    load_s: float
    source: str
    basis: str

    @property
    def seconds(self) -> float | None:
        return None if self.rate is None else self.tokens / self.rate + self.load_s


def estimates(plan: Plan, hw: dict[str, Any], max_model_len: int | None = None) -> list[Estimate]:
    """One :class:`Estimate` per model the plan runs on this machine (served models run at their
    server's rate and are left out; so is a model whose token bound is unbounded)."""
    out = []
    for m in plan.spec.model_entries():
        if m.server is not None:
            continue
        tokens = plan.tree_token_bound(max_model_len, model=m.id)
        if tokens is None:
            continue
        executor = m.engine.get("distributed_executor_backend") or "default"
        choice = cpu_engine_choice()
        dtype = m.engine.get("dtype") or ("auto" if hw.get("gpus") else choice["dtype"] or "auto")
        got = lookup(hw, m.id, executor)
        if got is not None:
            out.append(Estimate(m.id, tokens, float(got["tok_s"]), float(got.get("load_s") or 0.0), "measured",
                                f"as sweep {got['sweep']!r} measured here on {str(got['when'])[:10]} "
                                f"({got['dtype']}, {got['executor']} executor)"))
            continue
        ref = None if hw.get("gpus") else reference(m.id, choice["dtype"] is None, executor, m.engine.get("dtype"))
        if ref is None:
            out.append(Estimate(m.id, tokens, None, 0.0, "none", f"dtype {dtype}, {executor} executor"))
            continue
        cores = "" if hw.get("cores") == 2 else f"; this machine has {hw.get('cores')} cores"
        native = "with" if choice["dtype"] is None else "without"
        out.append(Estimate(m.id, tokens, ref[0], ref[1], "reference",
                            f"the project's reference for this pack on 2 cores of a CPU {native} native bf16, "
                            f"dtype {dtype}, {executor} executor{cores}; not yet measured here"))
    return out


def fit(plan: Plan, minutes: float, hw: dict[str, Any], stored: dict[str, Any] | None = None,
        max_model_len: int | None = None) -> tuple[Plan, str]:
    """The plan cut to the first problems of each task that the wall-time estimate on this machine fits
    in ``minutes`` (``evalkit sweep --within``), and what was decided, to say. A results directory that
    exists keeps the selection its first run chose (``stored``: its manifest's spec), so a rerun adds
    nothing. Without an estimate the plan runs whole."""
    spec = plan.spec
    if stored is not None:
        limits = {t.get("name"): t.get("limit") for t in stored.get("tasks", [])}
        tasks = [t.model_copy(update={"limit": limits[t.name]}) if t.name in limits else t for t in spec.tasks]
        if tasks == list(spec.tasks):
            return plan, "--within: the stored results' selection is the spec's; nothing to fit"
        kept = ", ".join(f"{t.name}: first {t.limit}" for t in tasks)
        return (build_plan(spec.model_copy(update={"tasks": tasks, "description": stored.get("description")})),
                f"--within: keeps the problems the first run of these results chose ({kept})")
    ests = estimates(plan, hw, max_model_len)
    if not ests or any(e.rate is None for e in ests):
        missing = ", ".join(e.model for e in ests if e.rate is None) or "no model runs here"
        return plan, f"--within {minutes:g}: no rate known on this machine for {missing}; running the whole sweep"
    load = sum(e.load_s for e in ests)
    gen = sum(e.tokens / e.rate for e in ests if e.rate)
    budget = minutes * 60.0
    total = load + gen
    if total <= budget:
        return plan, f"--within {minutes:g}: the whole sweep fits (at most {duration(total)} here)"
    share = max(budget - load, 0.0) / gen
    tasks, cut = [], []
    for t in spec.tasks:
        n = plan.problem_counts.get(t.name)
        if n is None:
            tasks.append(t)
            continue
        k = max(1, math.floor(n * share))
        tasks.append(t.model_copy(update={"limit": k}) if k < n else t)
        if k < n:
            cut.append(f"{t.name}: the first {k} of {n} problems")
    if not cut:
        return plan, f"--within {minutes:g}: up to {duration(total)} here, and no task's problems can be cut"
    note = f"--within {minutes:g} on this machine: {'; '.join(cut)}"
    small = build_plan(spec.model_copy(update={
        "tasks": tasks, "description": f"{spec.description} [{note}]" if spec.description else f"[{note}]"}))
    rates = "; ".join(f"{e.model} at {e.rate:,.0f} tok/s, {e.basis}" for e in ests)
    after = sum(x.seconds or 0.0 for x in estimates(small, hw, max_model_len))
    return small, (f"--within {minutes:g}: the whole sweep could take up to {duration(total)} on this CPU ({rates}); "
                   f"running {', '.join(cut)} (at most {duration(after)}); drop --within for all of them")
