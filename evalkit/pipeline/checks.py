"""Checks of a plan against what is on disk, before anything is generated or written: data that can
be loaded, golds that parse whole, caps that fit the model's context, model settings (FLOPs config,
engine arguments, verifier) that resolve."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from evalkit.analyze import population_floor
from evalkit.generate.packs import PACKS, installed, pack_dir, unavailable_model
from evalkit.generate.server import ServerError, probe
from evalkit.grade import gold_problem
from evalkit.grade.verifiers import load_verifier
from evalkit.pipeline.engines import ENGINES, model_kind, run_kind, selecting_kind
from evalkit.pipeline.flops import ModelShape
from evalkit.pipeline.models import load_model_config
from evalkit.spec import Plan, SpecError


def check_golds(plan: Plan) -> None:
    """Every gold of the plan's problems parses whole (never a fragment at grading time): a SpecError
    naming task, problem id and gold otherwise."""
    bad = []
    for i, (name, sel) in enumerate(plan.selections.items()):
        if name in plan.unavailable:
            continue
        for p in sel.problems(plan.seeds[0]):
            why = gold_problem(p.gold, p.answer_type)
            if why:
                bad.append(f"{plan.spec.where('tasks', i)}: {name}: problem {p.problem_id}: gold {p.gold!r}: {why}")
    if bad:
        raise SpecError(bad)


def model_context(model_id: str, engine_args: dict) -> tuple[int, str] | None:
    """The context length a model will run with, when it is known without loading it: the spec's
    ``max_model_len``, else ``max_position_embeddings`` of an installed pack's or a local directory's
    config.json; with where the number comes from. None for hub ids and packs not installed yet."""
    if engine_args.get("max_model_len"):
        return int(engine_args["max_model_len"]), "engine.max_model_len"

    cfg = None
    if model_id in PACKS and installed(model_id):
        cfg = pack_dir(model_id) / "config.json"
    elif Path(model_id).expanduser().is_dir():
        cfg = Path(model_id).expanduser() / "config.json"
    if cfg is None or not cfg.is_file():
        return None
    n = json.loads(cfg.read_text()).get("max_position_embeddings")
    return (int(n), "its config.json (max_position_embeddings)") if n else None


def check_context(plan: Plan, served: dict[str, tuple[int, str]] | None = None) -> None:
    """Every cap, with the answer budget and at least one prompt token, fits the context of its model
    (``served``: what its servers report, by model id; else see :func:`model_context`)."""
    spec = plan.spec
    bad: dict[str, None] = {}
    for entry in spec.model_entries():
        ctx = (served or {}).get(entry.id) or model_context(entry.id, dict(entry.engine))
        if ctx is None:
            continue
        n, source = ctx
        for c in plan.cells:
            cap = c.forcing.cap
            if c.model != entry.id or cap is None or cap + c.sampling.answer_max_tokens + 1 <= n:
                continue
            fam = c.method
            caps = getattr(spec, fam).caps
            where = spec.where(fam, "caps", caps.index(cap)) if cap in caps else spec.where(fam, "caps")
            bad[f"{where}: cap {cap:,} + answer_max_tokens {c.sampling.answer_max_tokens:,} + the prompt cannot fit "
                f"the context of {entry.id} ({n:,} tokens, from {source})"] = None
    if bad:
        raise SpecError(list(bad))


def _model_loc(plan: Plan, i: int) -> tuple[Any, ...]:
    return ("model",) if plan.spec.model is not None else ("models", i)


def _unknown(key: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.75)
    return f"did you mean {' or '.join(close)}?" if close else f"{len(known)} are known"


def check_models(plan: Plan, engine: str | None = "vllm") -> None:
    """Every model setting the runner resolves later resolves now: ``flops_config`` names a shipped
    config or a config.json (the error lists the shipped names), each ``engine:`` key is an argument
    of the engine kind (when its argument list is known here; ``engine=None``: a caller's own engine
    factory, whose arguments evalkit cannot know), the parallel family's verifier loads."""
    spec = plan.spec
    if engine is not None:
        run_kind(engine)
    bad: list[str] = []
    for i, entry in enumerate(spec.model_entries()):
        loc = _model_loc(plan, i)
        if entry.flops_config:
            try:
                ModelShape.from_config(load_model_config(entry.flops_config))
            except (ValueError, KeyError, TypeError) as e:
                bad.append(f"{spec.where(*loc, 'flops_config')}: {e}")
        selected = selecting_kind(entry)
        if selected is not None and selected.args_refused and entry.engine:
            bad.append(f"{spec.where(*loc, 'engine')}: {selected.args_refused}")
            continue
        kind = model_kind(engine, entry) if engine is not None else None
        known = kind.arg_names() if kind is not None else None
        for key in entry.engine if known is not None else ():
            if key not in known:
                bad.append(f"{spec.where(*loc, 'engine', key)}: not an argument of the {engine} engine "
                           f"({_unknown(key, known)})")
    if spec.parallel is not None and spec.parallel.verifier:
        try:
            load_verifier(spec.parallel.verifier)
        except ValueError as e:
            bad.append(f"{spec.where('parallel', 'verifier')}: {e}")
    if bad:
        raise SpecError(bad)


def check_model_ids(plan: Plan) -> None:
    """Every model the vllm engine loads here is on disk (a pack, a directory, the local Hugging Face cache)
    or served: a misspelt id fails now, naming the nearest packs, instead of a run waiting on a model hub."""
    spec = plan.spec
    bad = []
    for i, entry in enumerate(spec.model_entries()):
        if entry.server is not None:  # check_servers asks the servers
            continue
        why = unavailable_model(entry.id)
        if why:
            raw = spec.model if spec.model is not None else spec.models[i]
            loc = _model_loc(plan, i) if isinstance(raw, str) else (*_model_loc(plan, i), "id")
            bad.append(f"{spec.where(*loc)}: {why}")
    if bad:
        raise SpecError(bad)


def check_servers(plan: Plan) -> dict[str, tuple[int, str]]:
    """Every URL of a served model answers and serves the model (``model 'x' not served; served: ...``);
    returns the context length the servers report, by model id."""
    spec = plan.spec
    bad: list[str] = []
    served: dict[str, tuple[int, str]] = {}
    for i, entry in enumerate(spec.model_entries()):
        if entry.server is None:
            continue
        for k, url in enumerate(entry.server.urls):
            try:
                info = probe(url, entry.server.model or entry.id)
            except ServerError as e:
                bad.append(f"{spec.where(*_model_loc(plan, i), 'server', 'urls', k)}: {e}")
                continue
            if info.max_model_len and info.max_model_len < served.get(entry.id, (1 << 62,))[0]:
                served[entry.id] = (info.max_model_len, f"what {url} reports")
    if bad:
        raise SpecError(bad)
    return served


def check_population_target(plan: Plan) -> None:
    """An adaptive ``halfwidth`` target ``of: population`` that no number of seeds can reach, whatever the
    problems (at or below the floor a benchmark of that many problems sets on every population
    interval): refused before any seed runs, with the floor. (With stored rows, the sweep's first decision
    tests the target against the floor those rows show.)"""
    a = plan.spec.adaptive
    if a is None or a.stop.of != "population" or a.stop.halfwidth is None:
        return
    tasks = {c.task for c in plan.cells if c.cell_id in plan.stop_cells()["halfwidth"]}
    bad = []
    for task in sorted(tasks):
        n = plan.problem_counts.get(task)
        if not n or n < 2:
            continue
        floor = population_floor(n, confidence=a.confidence)
        if a.stop.halfwidth / 100 <= floor.floor_low:
            bad.append(f"{plan.spec.where('seeds', 'adaptive', 'stop', 'halfwidth')}: "
                       f"{floor.message(a.stop.halfwidth / 100, f'{task} as a benchmark')}")
    if bad:
        raise SpecError(bad)


def check_plan(plan: Plan, engine: str | None = "vllm") -> None:
    """What ``evalkit sweep`` (and its dry run) refuse before anything is written or loaded; with an engine
    kind that is not a test double, every model must be on disk (:func:`check_model_ids`) or served by
    servers that answer."""
    if plan.unavailable:
        raise SpecError(list(plan.unavailable.values()))
    check_population_target(plan)
    check_models(plan, engine)
    real = engine is not None and not ENGINES[engine].test_double
    if real:
        check_model_ids(plan)
    check_golds(plan)
    check_context(plan, check_servers(plan) if real else None)
