"""Where a sweep stands (``evalkit status``), from the results directory and, when the sweep was
submitted to Slurm, from ``squeue``: every (cell, seed, problem) is done, running, pending, failed
or not started."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from evalkit.integrations.slurm.executor import SlurmError, squeue, submissions
from evalkit.pipeline.adaptive import round_sizes
from evalkit.pipeline.batches import Batch
from evalkit.spec import Plan, SweepSpec, build_plan
from evalkit.store import open_results

STATES = ("done", "running", "pending", "failed", "missing")


@dataclass
class CellStatus:
    cell_id: str
    label: str
    seeds: dict[int, dict[str, int]]  # seed -> state -> problems


@dataclass
class SweepStatus:
    root: Path
    cells: list[CellStatus]
    totals: dict[str, int]
    samples: int
    tokens: int
    tokens_per_s: float | None
    eta_s: float | None
    jobs: list[str] = field(default_factory=list)
    queue: dict[str, str] = field(default_factory=dict)  # array task -> squeue state
    failures: list[str] = field(default_factory=list)  # failure records and the logs of lost tasks
    note: str = ""


def _units(plan: Any) -> list[tuple[str, int, str]]:
    out = []
    for c in plan.cells:
        for s in plan.seeds:
            out += [(c.cell_id, s, p.problem_id) for p in plan.selections[c.task].problems(s)]
    return out


def _batch(d: dict[str, Any]) -> Batch:
    return Batch(**{**d, "problem_ids": tuple(d["problem_ids"]), "cell_ids": tuple(d["cell_ids"])})


def _queue(store: Any) -> tuple[list[dict], dict[str, str], str]:
    subs = submissions(store)
    if not subs:
        return [], {}, ""
    try:
        return subs, squeue(s["job_id"] for s in subs), ""
    except SlurmError as e:
        return subs, {}, f"{e}; states of submitted tasks are inferred from the disk only"


def _rates(store: Any, subs: list[dict], done: int, todo: int) -> tuple[int, int, float | None, float | None]:
    files = [str(f) for f in store.shard_files()]
    if not files:
        return 0, 0, None, None
    t = ds.dataset(files, format="parquet").to_table(columns=["thinking_tokens", "forced_tokens", "answer_tokens"])
    tokens = int(sum(int(t[c].to_pandas().fillna(0).sum()) for c in t.column_names))
    start = min((datetime.fromisoformat(s["time"]).timestamp() for s in subs), default=None)
    if start is None:
        runs = store.read_manifest().get("runs", [])
        start = datetime.fromisoformat(runs[0]["start"]).timestamp() if runs else None
    last = max(f.stat().st_mtime for f in store.shard_files())
    rate = tokens / (last - start) if start and last > start else None
    eta = (last - start) / done * todo if start and done and todo and last > start else (0.0 if not todo else None)
    return t.num_rows, tokens, rate, eta


def adaptive_state(plan: Plan, decisions: list[dict[str, Any]]) -> tuple[Plan, str]:
    """An adaptive sweep's plan cut to the seeds of its current round, and where its rule stands."""
    a = plan.spec.adaptive
    if a is None:
        return plan, ""
    sizes = round_sizes(a)
    if not decisions:
        return replace(plan, active_seeds=plan.spec.seed_list[:sizes[0]]), (
            f"adaptive seeds: round 1 ({sizes[0]} seeds) not decided yet; at most {a.max} seeds")
    last = decisions[-1]
    ivs = "; ".join(f"{k}: {100 * e:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
                    for k, (e, lo, hi) in last["intervals"].items())
    if last["stop"]:
        return replace(plan, active_seeds=plan.spec.seed_list[:last["seeds"]]), (
            f"adaptive seeds: stopped after round {last['round'] + 1} ({last['seeds']} seeds): {last['reason']}; {ivs}")
    nxt = sizes[min(last["round"] + 1, len(sizes) - 1)]
    return replace(plan, active_seeds=plan.spec.seed_list[:nxt]), (
        f"adaptive seeds: round {last['round'] + 1} ({last['seeds']} seeds): {last['reason']}; {ivs}; "
        f"next round: {nxt} seeds, at most {a.max}")


def sweep_status(results_dir: str | Path) -> SweepStatus:
    store = open_results(results_dir)
    plan, rule = adaptive_state(build_plan(SweepSpec.model_validate(store.read_manifest()["spec"])), store.decisions())
    done = store.completed()
    subs, queue, note = _queue(store)
    state: dict[tuple[str, int, str], str] = {}
    failures = [str(f) for f in store.failures()]
    submitted: set[tuple[str, int, str]] = set()
    for s in subs:
        for i, bs in s["tasks"].items():
            tid = f"{s['job_id']}_{i}"
            q = queue.get(tid)
            for b in map(_batch, bs):
                for u in ((c, b.seed, p) for c in b.cell_ids for p in b.problem_ids):
                    submitted.add(u)
                    if q == "RUNNING":
                        state[u] = "running"
                    elif q is not None:
                        state.setdefault(u, "pending")
            if q is None and not note:
                err = store.logs_dir / "submitit" / f"{s['job_id']}_{i}_0_log.err"
                failures.append(str(err))
    failed_batches = {f.name.split(".attempt")[0] for f in store.failures()}
    cells = []
    totals = dict.fromkeys(STATES, 0)
    by_cell: dict[str, dict[int, dict[str, int]]] = {}
    for u in _units(plan):
        if u in done:
            st = "done"
        elif u in state:
            st = state[u]
        elif u in submitted or failed_batches:
            st = "failed"
        else:
            st = "missing"
        totals[st] += 1
        by_cell.setdefault(u[0], {}).setdefault(u[1], dict.fromkeys(STATES, 0))[st] += 1
    for c in plan.cells:
        cells.append(CellStatus(c.cell_id, c.label, by_cell.get(c.cell_id, {})))
    todo = totals["running"] + totals["pending"] + totals["failed"] + totals["missing"]
    samples, tokens, rate, eta = _rates(store, subs, totals["done"], todo)
    lost = [f for f in failures if f.endswith("_log.err")]
    failures = [f for f in failures if not f.endswith("_log.err")] + [
        f for f in lost if any(x in f for x in {s["job_id"] for s in subs}) and Path(f).exists()]
    return SweepStatus(store.root, cells, totals, samples, tokens, rate, eta, [s["job_id"] for s in subs], queue,
                       sorted(set(failures)) if totals["failed"] else [], "\n".join(x for x in (note, rule) if x))


def render(st: SweepStatus) -> tuple[list[str], list[list[str]], list[str]]:
    """(headers, rows, lines) of a status: one row per cell, one column per seed."""
    seeds = sorted({s for c in st.cells for s in c.seeds})
    headers = ["cell", *[f"seed {s}" for s in seeds]]
    rows = []
    for c in st.cells:
        row = [c.label]
        for s in seeds:
            d = c.seeds.get(s, {})
            total = sum(d.values())
            parts = [f"{d.get(k, 0)} {k}" for k in STATES[1:] if d.get(k)]
            row.append(f"{d.get('done', 0)}/{total} done" + (f" ({', '.join(parts)})" if parts else ""))
        rows.append(row)
    t = st.totals
    lines = [f"{st.root}: {t['done']} of {sum(t.values())} (cell, seed, problem) units done; " + ", ".join(
        f"{t[k]} {k}" for k in STATES[1:] if t[k]),
        f"samples {st.samples:,}; generated tokens {st.tokens:,}"
        + (f"; {st.tokens_per_s:.1f} tok/s" if st.tokens_per_s else "")
        + (f"; ETA {int(st.eta_s // 3600)}h{int(st.eta_s % 3600 // 60):02d}m{int(st.eta_s % 60):02d}s"
           if st.eta_s else "")]
    if st.jobs:
        live = {k: v for k, v in st.queue.items()}
        lines.append(
            f"Slurm jobs {', '.join(st.jobs)}: "
            + (", ".join(f"{k} {v.lower()}" for k, v in sorted(live.items())) if live else "none in the queue")
        )
    if st.note:
        lines.append(st.note)
    lines += [f"failure: {f}" for f in st.failures]
    if t["failed"] or t["missing"]:
        lines.append(f"run `evalkit sweep` with the same spec again to submit the {t['failed'] + t['missing']} units "
                     "that are neither done nor queued")
    return headers, rows, lines
