"""Sweep YAML -> validated :class:`Plan` of cells."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.records import Cell, ForcingConfig, Problem, SamplingConfig
from evalkit.spec.errors import SpecError, format_loc, validate_yaml
from evalkit.spec.schema import MAX_CELLS, SweepSpec, TaskEntry, check_name
from evalkit.spec.shipped import find, nearest
from evalkit.spec.tasks import TaskError, get_task, load_problems


def parse_spec(text: str, source: str = "<spec>") -> SweepSpec:
    """Validate YAML text; every problem is reported as ``source:line: key: message``."""
    spec, index = validate_yaml(text, source, SweepSpec, SpecError, "a sweep spec")
    spec._locate = lambda loc: f"{source}:{index.line(loc) or '?'}: {format_loc(loc)}"  # noqa: SLF001 - set where parsed
    return spec


def load_spec(path: str | Path) -> SweepSpec:
    """A sweep spec from its file: the path, else a sweep of that name in the working directory's ``sweeps/``,
    else a shipped one (``quickstart``, ``sweeps/quickstart.yaml``; :func:`evalkit.spec.shipped.find`)."""
    p = find(path, "sweeps")
    if not p.exists():
        raise SpecError([f"{p}: no such spec file{nearest(p, 'sweeps')}"])
    spec = parse_spec(p.read_text(), source=str(p))
    if spec.name is None:
        try:
            check_name(p.stem)
        except ValueError as e:
            raise SpecError([f"{p}:1: name: the sweep is named after its file, and {e}; give `name:`"]) from None
        locate = spec._locate  # noqa: SLF001 - the parsed spec's locator survives the copy
        spec = spec.model_copy(update={"name": p.stem})
        spec._locate = locate  # noqa: SLF001
    return spec


def _forcings(spec: SweepSpec) -> list[ForcingConfig]:
    seq = spec.sequential_family()
    if seq is None:
        return []
    out: dict[ForcingConfig, None] = {}
    for cap, k, ctl, m in itertools.product(seq.caps, seq.ignores, seq.controls, seq.min_tokens):
        controls = (ctl,) if isinstance(ctl, str) else tuple(ctl)
        if k == 0:
            controls = ()  # the control string is irrelevant without ignores: one cell, not one per control
        out[ForcingConfig(cap=cap, n_ignore=k, controls=controls, min_tokens=m)] = None
    return list(out)


@dataclass
class TaskSelection:
    entry: TaskEntry
    _loaded: dict[int, tuple[Problem, ...]] = field(default_factory=dict, repr=False, compare=False)
    _per_seed: bool | None = field(default=None, repr=False, compare=False)  # problems differ between seeds

    def problems(self, seed: int = 0) -> list[Problem]:
        """The selected problems of a run seed (GPQA's choices are shuffled per seed; a vendored task's are
        the same for every seed), loaded and checked once per seed."""
        e = self.entry
        if self._per_seed is None:
            self._per_seed = get_task(e.name).source == "gpqa_csv"
        key = seed if self._per_seed else 0
        if key not in self._loaded:
            self._loaded[key] = tuple(load_problems(e.name, data_path=e.data_path, run_seed=seed,
                                                    where=e.where or None, limit=e.limit))
        return list(self._loaded[key])

    @property
    def key(self) -> dict[str, Any]:
        return {"name": self.entry.name, "where": self.entry.where, "limit": self.entry.limit}


@dataclass
class Plan:
    spec: SweepSpec
    cells: list[Cell]
    selections: dict[str, TaskSelection]  # task name -> selection
    problem_counts: dict[str, int | None] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # task -> why its data is not loadable
    active_seeds: list[int] | None = None  # an adaptive sweep's round: the seeds it runs so far
    warnings: list[str] = field(default_factory=list)  # what the dry run and the run say before they start

    @property
    def seeds(self) -> list[int]:
        return list(self.active_seeds) if self.active_seeds is not None else self.spec.seed_list

    def stop_cells(self) -> dict[str, list[str]]:
        """The cells an adaptive stop rule names, by role: ``halfwidth`` (the cells it applies to, default
        all) or ``compare`` (two). Resolved and checked by :func:`build_plan`."""
        a = self.spec.adaptive
        if a is None:
            return {}
        if a.stop.compare is not None:
            return {"compare": [resolve_cell(self, ref, ("seeds", "adaptive", "stop", "compare", i))
                                for i, ref in enumerate(a.stop.compare)]}
        names = a.stop.cells
        return {"halfwidth": [c.cell_id for c in self.cells] if names is None else
                [resolve_cell(self, ref, ("seeds", "adaptive", "stop", "cells", i)) for i, ref in enumerate(names)]}

    def n_requests(self) -> int | None:
        total = 0
        for c in self.cells:
            n = self.problem_counts.get(c.task)
            if n is None:
                return None
            total += n * len(self.seeds) * c.n_samples
        return total

    def token_upper_bound(self, max_model_len: int | None = None) -> int | None:
        """Upper bound on generated tokens (thinking incl. controls, plus answer); None if unbounded."""
        return self._cell_bound(self.cells, max_model_len)

    def _cell_bound(self, cells: list[Cell], max_model_len: int | None) -> int | None:
        total = 0
        for c in cells:
            n = self.problem_counts.get(c.task)
            cap = c.forcing.cap if c.forcing.cap is not None else max_model_len
            if n is None or cap is None:
                return None
            total += n * len(self.seeds) * c.n_samples * (cap + c.sampling.answer_max_tokens)
        return total

    def tree_token_bound(self, max_model_len: int | None = None, model: str | None = None) -> int | None:
        """Upper bound on generated tokens with trajectory trees (``reuse``, the default): cells that
        differ only in cap, ignores and answer budget share one trajectory per (problem, seed, sample)
        and control sequence (as :meth:`evalkit.generate.forcing.TreeRun.plant` groups them), which
        thinks to the largest cap and gives each cell its answer. Rejection cells count every attempt.
        Without ``reuse``: the per-cell bound. ``model``: its cells only. None if unbounded."""
        cells = [c for c in self.cells if model is None or c.model == model]
        if not self.spec.reuse:
            return self._cell_bound(cells, max_model_len)
        groups: dict[tuple, dict[tuple, list[Cell]]] = {}
        total = 0
        for c in cells:
            n = self.problem_counts.get(c.task)
            cap = c.forcing.cap if c.forcing.cap is not None else max_model_len
            if n is None or cap is None:
                return None
            if c.max_attempts:  # every attempt may run to its cap
                total += n * len(self.seeds) * c.max_attempts * (cap + 1 + c.sampling.answer_max_tokens)
                continue
            key = (c.task, c.model, c.think_format, c.sampling.temperature, c.sampling.top_p, c.forcing.min_tokens)
            sub = groups.setdefault(key, {})
            if c.forcing.n_ignore:
                sub.setdefault(c.forcing.controls, []).append(c)
        for c in cells:
            if c.max_attempts or c.forcing.n_ignore:
                continue
            sub = groups[(c.task, c.model, c.think_format, c.sampling.temperature, c.sampling.top_p,
                          c.forcing.min_tokens)]
            sub.setdefault(next(iter(sub), ()), []).append(c)
        for (task, *_), sub in groups.items():
            n = self.problem_counts[task] or 0
            for members in sub.values():
                for s in range(max(c.n_samples for c in members)):  # a tree per sample index
                    ms = [c for c in members if c.n_samples > s]
                    cap = max(c.forcing.cap if c.forcing.cap is not None else max_model_len or 0 for c in ms)
                    total += n * len(self.seeds) * (cap + sum(c.sampling.answer_max_tokens for c in ms))
        return total


def _unforced_cells(spec: SweepSpec, selections: dict[str, TaskSelection], caps: list, sampling: SamplingConfig,
                    **method: Any) -> list[Cell]:
    """Cells of a family without ignores (parallel, rejection): one per task x model x cap."""
    return [
        Cell(task=sel.entry.name, model=model.id, think_format=spec.think_format_value(),
             forcing=ForcingConfig(cap=cap, n_ignore=0, controls=()), sampling=sampling, selection=sel.key, **method)
        for sel, model, cap in itertools.product(selections.values(), spec.model_entries(), dict.fromkeys(caps))
    ]


def resolve_cell(plan: Plan, ref: str, loc: tuple) -> str:
    """The id of the cell a spec names: its id, its label, or words of its label that only it has
    (``cap=4096 ignore=2``)."""
    by_id = {c.cell_id: c for c in plan.cells}
    if ref in by_id:
        return ref
    exact = [c for c in plan.cells if c.label == ref]
    words = set(ref.split())
    match = exact or [c for c in plan.cells if words <= set(c.label.split())]
    if len(match) == 1:
        return match[0].cell_id
    if not match:
        raise SpecError([f"{plan.spec.where(*loc)}: no cell is {ref!r}; cells: "
                         + "; ".join(c.label for c in plan.cells[:12]) + (" ..." if len(plan.cells) > 12 else "")])
    raise SpecError([f"{plan.spec.where(*loc)}: {ref!r} names {len(match)} cells ("
                     + "; ".join(c.label for c in match[:6]) + "); add words of the one you mean"])


def build_plan(spec: SweepSpec, *, load_data: bool = True) -> Plan:
    selections: dict[str, TaskSelection] = {}
    for e in spec.task_entries():
        if e.name in selections:
            raise SpecError([f"{spec.where('tasks', len(selections))}: task {e.name!r} is listed twice"])
        selections[e.name] = TaskSelection(e)
    sampling = SamplingConfig(
        temperature=spec.sampling.temperature,
        top_p=spec.sampling.top_p,
        answer_max_tokens=spec.sampling.answer_max_tokens,
    )
    cells = []
    for sel, model, forcing in itertools.product(selections.values(), spec.model_entries(), _forcings(spec)):
        cells.append(
            Cell(
                task=sel.entry.name,
                model=model.id,
                think_format=spec.think_format_value(),
                forcing=forcing,
                sampling=sampling,
                selection=sel.key,
            )
        )
    par = spec.parallel
    if par is not None:
        psampling = SamplingConfig(
            temperature=par.temperature if par.temperature is not None else sampling.temperature,
            top_p=par.top_p if par.top_p is not None else sampling.top_p,
            answer_max_tokens=sampling.answer_max_tokens,
        )
        cells += _unforced_cells(spec, selections, par.caps, psampling, method="parallel", n_samples=par.n)
    rej = spec.rejection
    if rej is not None:
        cells += _unforced_cells(spec, selections, rej.caps, sampling, method="rejection",
                                 max_attempts=rej.max_attempts)
    _check_size(spec, cells)
    check_gpus(spec)
    plan = Plan(spec=spec, cells=cells, selections=selections)
    roles = plan.stop_cells()  # an adaptive rule's cells exist (file:line otherwise)
    if len(set(roles.get("compare", []))) == 1:
        raise SpecError([f"{spec.where('seeds', 'adaptive', 'stop', 'compare')}: compares a cell with itself"])
    if load_data:
        empty = []
        for i, (name, sel) in enumerate(selections.items()):
            try:
                plan.problem_counts[name] = n = len(sel.problems(spec.seed_list[0]))
            except TaskError as e:
                plan.problem_counts[name] = None
                plan.unavailable[name] = f"{spec.where('tasks', i)}: {e}"
                continue
            if n == 0:
                key = ("tasks", i, "where") if sel.entry.where else ("tasks", i)
                empty.append(f"{spec.where(*key)}: selects no problem of {name} (where {sel.entry.where})")
            elif sel.entry.limit is not None and n < sel.entry.limit:
                plan.warnings.append(f"{spec.where('tasks', i, 'limit')}: limit {sel.entry.limit} > the {n} "
                                     f"problems selected; using {n}")
        if empty:
            raise SpecError(empty)
    return plan


def check_gpus(spec: SweepSpec, kind: str | None = None) -> None:
    """On Slurm with GPUs, a task's GPUs must hold the engine: gpus_per_node >= tensor_parallel_size x
    data_parallel_size of every model (``gpus_per_node: 0`` is a CPU engine)."""
    if (kind or spec.executor.kind) != "slurm" or spec.executor.gpus_per_node == 0:
        return
    bad = []
    for i, m in enumerate(spec.model_entries()):
        need = int(m.engine.get("tensor_parallel_size", 1)) * int(m.engine.get("data_parallel_size", 1))
        if need > spec.executor.gpus_per_node:
            key = ("model", "engine") if spec.model is not None else ("models", i, "engine")
            bad.append(f"{spec.where('executor', 'gpus_per_node')}: {spec.executor.gpus_per_node} GPUs per task, but "
                       f"{spec.where(*key)}: tensor_parallel_size x data_parallel_size of {m.id} is {need}")
    if bad:
        raise SpecError(bad)


def _check_size(spec: SweepSpec, cells: list[Cell]) -> None:
    """More cells than :data:`MAX_CELLS` is a typo (a range written out), not a sweep."""
    if len(cells) <= MAX_CELLS:
        return
    sizes = {}
    for fam in ("sequential", "parallel", "rejection"):
        f = getattr(spec, fam)
        if f is not None:
            for key in ("caps", "ignores", "controls", "min_tokens"):
                if key in type(f).model_fields:
                    sizes[(fam, key)] = len(getattr(f, key))
    fam, key = max(sizes, key=sizes.get) if sizes else ("tasks",)
    raise SpecError([f"{spec.where(fam, key)}: {len(cells):,} cells: more than {MAX_CELLS:,} is not meant "
                     f"(this list has {sizes.get((fam, key), 0):,} entries)"])
