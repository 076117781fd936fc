"""One results directory, one experiment: a plan is compared with what its results directory already
holds (``cells.json`` and the manifest's spec) before anything is generated.

Adding seeds or problems to the stored cells, resuming, running a subset of them, or extending the grid
(caps, ignores, controls, min_tokens, a parallel or rejection family) is the same experiment. Anything
else that defines how a sample is made (model, sampling, think format, task selection, engine
arguments, grader settings, a verifier) would put rows of two experiments side by side under one name:
:func:`check_store` refuses it, naming every difference, unless the caller adds cells on purpose
(``evalkit sweep --add-cells``); the report then labels the cells by each setting that differs
(:mod:`evalkit.store.provenance`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.spec import Plan, SpecError
from evalkit.store import ResultStore
from evalkit.store.provenance import flat_key

# a cell key's grid axes: cells that differ only here belong to one experiment
_GRID = frozenset({"forcing.cap", "forcing.n_ignore", "forcing.controls", "forcing.min_tokens", "n_samples",
                   "max_attempts"})


def _spec_path(key: str, task: str) -> str:
    """A flattened cell key as the spec names it: ``selection.limit`` -> ``tasks[math500].limit``."""
    if key.startswith("selection."):
        return f"tasks[{task}].{key.removeprefix('selection.')}"
    return key


def _compared(key: Mapping[str, Any], same_task: bool) -> dict[str, str]:
    flat = {k: v for k, v in flat_key(key).items() if k not in _GRID}
    if not same_task:
        flat = {k: v for k, v in flat.items() if k != "task" and not k.startswith("selection.")}
    return flat


def _cell_changes(new: Mapping[str, Any], stored: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """How a cell the store lacks differs from the nearest stored cell of its method (and task, when the
    store has that task): [] when some stored cell matches it outside the grid, or none is comparable."""
    method = new.get("method", "sequential")
    peers = [k for k in stored.values() if k.get("method", "sequential") == method]
    same = [k for k in peers if k.get("task") == new.get("task")]
    if not peers:
        return []  # a new family (e.g. parallel next to sequential): the compared axis itself
    cand, same_task = (same, True) if same else (peers, False)
    mine = _compared(new, same_task)
    best: list[str] | None = None
    for old in cand:
        theirs = _compared(old, same_task)
        diff = [f"{_spec_path(k, str(new.get('task')))}: {theirs.get(k, '-')} -> {mine.get(k, '-')}"
                for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
        if not diff:
            return []
        if best is None or len(diff) < len(best):
            best = diff
    return best or []


def _models(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """model id -> what of its entry shapes the samples (engine arguments, served model, token ids)."""
    entries = ([spec["model"]] if spec.get("model") else []) + list(spec.get("models") or [])
    out = {}
    for e in entries:
        e = {"id": e} if isinstance(e, str) else e
        server = e.get("server") or {}
        out[str(e["id"])] = {"engine": e.get("engine") or {}, "flops_config": e.get("flops_config"),
                             "server.model": server.get("model"), "server.token_ids": server.get("token_ids")}
    return out


def _spec_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Differences between two specs (as the manifest stores them) that no cell key holds."""
    out = []
    om, nm = _models(old), _models(new)
    for mid in sorted(set(om) & set(nm)):
        for k in ("flops_config", "server.model", "server.token_ids"):
            if om[mid][k] != nm[mid][k]:
                out.append(f"model[{mid}].{k}: {om[mid][k]} -> {nm[mid][k]}")
        oe, ne = om[mid]["engine"], nm[mid]["engine"]
        out += [f"model[{mid}].engine.{k}: {oe.get(k, '-')} -> {ne.get(k, '-')}"
                for k in sorted(set(oe) | set(ne)) if oe.get(k) != ne.get(k)]
    og, ng = old.get("grader") or {}, new.get("grader") or {}
    out += [f"grader.{k}: {og.get(k, '-')} -> {ng.get(k, '-')}"
            for k in ("unclosed_thinking", "unit_letters") if k in og and k in ng and og[k] != ng[k]]
    ov, nv = (old.get("parallel") or {}).get("verifier"), (new.get("parallel") or {}).get("verifier")
    if old.get("parallel") and new.get("parallel") and ov != nv:
        out.append(f"parallel.verifier: {ov} -> {nv}")
    return out


def plan_changes(plan: Plan, store: ResultStore) -> list[str]:
    """Every way the plan's experiment differs from the one stored (``[]``: the same experiment, or
    nothing stored yet), each as ``key: stored -> planned``."""
    if not store.exists():
        return []
    stored = store.read_cells()
    changes: list[str] = []
    for c in plan.cells:
        if c.cell_id not in stored:
            changes += [ch for ch in _cell_changes(c.key, stored) if ch not in changes]
    old_spec = store.read_manifest().get("spec")
    if isinstance(old_spec, Mapping):
        changes += [ch for ch in _spec_changes(old_spec, plan.spec.model_dump(mode="json")) if ch not in changes]
    return changes


def check_store(plan: Plan, store: ResultStore, add_cells: bool = False) -> list[str]:
    """Refuse (:class:`SpecError`, exit 2) a plan whose experiment differs from the stored one, naming each
    difference; with ``add_cells`` the differences are accepted and returned (the run records them)."""
    changes = plan_changes(plan, store)
    if changes and not add_cells:
        raise SpecError([
            f"{store.root} holds another experiment under this name; the plan differs in:",
            *(f"  {ch}" for ch in changes),
            "rows of both would be reported side by side. Give the sweep a new name, restore the stored "
            "settings, or pass --add-cells to add these cells on purpose (every table and figure then "
            "labels the cells by each setting that differs)"])
    return changes
