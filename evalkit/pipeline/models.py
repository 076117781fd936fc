"""Models of a sweep: the engine kinds' factories (registered in :mod:`evalkit.pipeline.engines`), model
resolution, and the FLOPs model of each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit.generate import ScriptedEngine, VLLMEngine
from evalkit.generate.engine import vllm_arg_names
from evalkit.generate.packs import PACKS, hub_offline, pack_dir, resolve_model
from evalkit.generate.scripted import scripted_arg_names
from evalkit.generate.server import ServerEngine
from evalkit.pipeline.engines import EngineFactory as EngineFactory  # re-exported: the context and executors
from evalkit.pipeline.engines import Resolver as Resolver
from evalkit.pipeline.engines import engine_kind, model_kind
from evalkit.pipeline.flops import ModelShape, sample_flops, span_flops
from evalkit.records import Generation, Problem
from evalkit.spec import Plan
from evalkit.spec.schema import ModelEntry

SHIPPED_CONFIGS = Path(__file__).resolve().parents[1] / "data" / "model_configs"


def load_model_config(ref: str) -> dict[str, Any]:
    """A shipped config name (evalkit/data/model_configs), a config.json, a model directory or an
    installed pack; ValueError naming the choices otherwise."""
    for cand in (SHIPPED_CONFIGS / f"{ref}.json", Path(ref), Path(ref) / "config.json"):
        if cand.is_file():
            return json.loads(cand.read_text())

    if ref in PACKS and (pack_dir(ref) / "config.json").exists():
        return json.loads((pack_dir(ref) / "config.json").read_text())
    names = sorted(p.stem for p in SHIPPED_CONFIGS.glob("*.json"))
    raise ValueError(f"no model config {ref!r}: give a config.json, a model directory, or one of {', '.join(names)}")


def flops_shape(entry_id: str, path: str, flops_config: str | None):  # noqa: ANN201
    """The FLOPs model of a sweep's model: its ``flops_config``, else the config.json beside its weights,
    else a shipped config of the same name; None if none is known (FLOPs columns stay empty)."""
    for ref in (flops_config, path, entry_id):
        if not ref:
            continue
        try:
            return ModelShape.from_config(load_model_config(ref))
        except ValueError:
            if ref == flops_config:
                raise
    return None


FLOPS_FIELDS = ("flops_naive", "flops_prefix_cached", "flops_kv_read", "flops_prompt")


def flops_columns(shape: Any, gen: Generation, problem: Problem, n_samples: int, n_seeds: int) -> dict[str, Any]:
    """FLOPs of one sample under each accounting mode (see :mod:`evalkit.pipeline.flops`); the prompt
    is shared by the samples of a (problem, seed) and, unless the prompt depends on the seed (permuted
    choices), by the seeds too."""
    if shape is None:
        return dict.fromkeys(FLOPS_FIELDS)

    sharing = n_samples * (1 if "permutation" in problem.meta else n_seeds)
    f = sample_flops(shape, gen.prompt_tokens, gen.thinking_tokens + gen.forced_tokens + gen.answer_tokens,
                     1.0 / sharing)
    return {"flops_naive": float(f["naive"]), "flops_prefix_cached": float(f["prefix_cached"]),
            "flops_kv_read": float(f["kv_read"]), "flops_prompt": float(span_flops(shape, 0, gen.prompt_tokens))}


def _entry(plan: Plan, model_id: str) -> ModelEntry | None:
    return next((e for e in plan.spec.model_entries() if e.id == model_id), None)


def scripted_resolve(model: str) -> tuple[str, dict[str, Any]]:
    return model, {"kind": "scripted"}


def default_resolve(model: str) -> tuple[str, dict[str, Any]]:
    return resolve_model(model)


@engine_kind("vllm", resolve=default_resolve, arg_names=vllm_arg_names)
def vllm_factory(model_id: str, path: str, engine_args: dict[str, Any], plan: Plan) -> Any:
    """vLLM in this process, or, for a model whose entry selects another kind (``server:``), that kind's
    engine. vLLM starts with the model hub offline: the model is on disk (``check_model_ids``), so it never
    waits on a hub."""
    kind = model_kind("vllm", _entry(plan, model_id))
    if kind.name != "vllm":
        return kind.factory(model_id, path, engine_args, plan)
    with hub_offline():
        return VLLMEngine(path, engine_args, name=model_id)


@engine_kind("server", resolve=default_resolve, arg_names=frozenset, selected_by="server",
             args_refused="not used with `server:` (the server's own flags decide: "
                          "evalkit models serve <pack> -- <vLLM flags>)")
def server_factory(model_id: str, path: str, engine_args: dict[str, Any], plan: Plan) -> ServerEngine:
    """The engine over the model's running servers (its entry's ``server:``)."""
    entry = _entry(plan, model_id)
    assert entry is not None
    return server_engine(entry, path)


def server_engine(entry: ModelEntry, path: str) -> ServerEngine:
    """The engine over a model's servers; tokenizer and chat template from ``path`` when it is a local
    model directory (an installed pack), else from the server."""
    s = entry.server
    assert s is not None
    return ServerEngine(s.urls, s.model or entry.id, tokenizer_path=path if Path(path).is_dir() else None,
                        name=entry.id, concurrency=s.concurrency, timeout_s=s.timeout_s, retries=s.retries,
                        token_ids=s.token_ids)


@engine_kind("scripted", resolve=scripted_resolve, arg_names=scripted_arg_names, test_double=True)
def scripted_factory(model_id: str, path: str, engine_args: dict[str, Any], plan: Plan) -> Any:
    """The test double, knowing the gold of every problem of the plan."""
    golds = {}
    for sel in plan.selections.values():
        for seed in plan.seeds:
            for p in sel.problems(seed):
                golds[p.prompt] = p.gold
    return ScriptedEngine(golds=golds, **engine_args)
