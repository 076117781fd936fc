"""``evalkit-vllm``: an lm-evaluation-harness model that generates through evalkit's engines and
budget-forcing strategies, and understands the s1 fork's gen_kwargs (see :mod:`evalkit.integrations.lmeval.gen_kwargs`).

Importing this module registers the model with lm-eval's registry (it needs the ``lmeval`` extra).
lm-eval 0.4.13 discovers no models from other packages, so its CLI must run in a process that
imported this module first: ``evalkit-lm-eval`` (or ``python -m evalkit.integrations.lmeval.cli``) is exactly
lm-eval's CLI with that done; from Python, import this module before ``lm_eval.simple_evaluate``.
evalkit also declares the ``lm_eval.models`` entry point, which lm-eval releases with entry-point
discovery would use (untested: the pinned 0.4.13 has no such discovery).

The context of a ``generate_until`` request is already a rendered prompt (chat-templated when lm-eval
ran with ``--apply_chat_template``). evalkit therefore never applies its own chat template here: the
think format's start string is appended to the context exactly as s1's fork appends
``thinking_start`` to it, and everything after that (thinking rounds, ignored end attempts with their
control strings, the forced delimiter and answer prefix, the answer) is :func:`run_sequential` /
:func:`run_rejection` on token ids. The returned text is ``start + thinking + delimiter [+ prefix] +
answer``, as s1's fork returns it, with the task's ``until`` strings applied to the answer only (a
stop string inside the thinking, such as a blank line, does not end it). Requests without any
thinking keyword are generated plainly (one request, stopped by end-of-sequence, then ``until``), as
s1's fork does.

Model args: ``pretrained`` (an installed evalkit model pack, a local model directory or a hub id, run on
vLLM; or ``scripted``, the test double), ``seed`` (run seed; per-request seeds derive from it, the task,
the doc and the repeat), ``max_gen_toks`` (default when a task gives none), ``think_format`` (base
format that s1 keywords override: a preset or its JSON; default s1's fork), for ``scripted`` also
``golds`` (a JSON file mapping problem text to its answer), ``p_end`` and ``max_difficulty``; every
other model arg goes to vLLM (``max_model_len``, ``dtype``, ``tokenizer``, ...). lm-eval's
``batch_size`` / ``device`` are accepted and unused: evalkit sends every request of a round to the
engine at once.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lm_eval.models  # noqa: F401 - lm-eval's own models stay registered beside ours
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

import evalkit
from evalkit.generate.engine import GenRequest, VLLMEngine
from evalkit.generate.forcing import BudgetError, Job, derive_seed, run_trees
from evalkit.generate.formats import ThinkFormat, get_format
from evalkit.generate.packs import resolve_model
from evalkit.generate.scripted import ScriptedEngine
from evalkit.integrations.lmeval.gen_kwargs import LmEvalGen, apply_until, format_key, parse_gen_kwargs
from evalkit.records import Cell, ForcingConfig, Generation, Problem, SamplingConfig

log = logging.getLogger("evalkit.lm_eval")
MODEL_NAME = "evalkit-vllm"


@dataclass(frozen=True)
class LmEvalRequest:
    """One generate_until request: ``sample`` numbers the repeats of one (task, doc, idx)."""

    task: str
    doc_id: int | str
    idx: int
    sample: int
    context: str
    gen_kwargs: dict[str, Any]

    @property
    def problem_id(self) -> str:
        return str(self.doc_id) if not self.idx else f"{self.doc_id}.{self.idx}"


class _ContextTokenizer:
    """The engine's tokenizer, except that prompts are already rendered: no chat template on top."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def chat_prompt(self, user: str) -> str:
        return user

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _ContextEngine:
    """An engine whose prompts are lm-eval contexts (see :class:`_ContextTokenizer`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.tokenizer = _ContextTokenizer(inner.tokenizer)
        self.max_model_len = inner.max_model_len
        self.name = inner.name

    def generate(self, requests: list[GenRequest]) -> list:
        return self.inner.generate(requests)


def build_engine(pretrained: str, engine_args: dict[str, Any], *, golds: str | None = None,
                 p_end: float = 0.02, max_difficulty: int = 400) -> Any:
    """``scripted`` (the test double) or a vLLM engine on a pack, a local directory or a hub id."""
    if pretrained == "scripted":
        extra = sorted(set(engine_args) - {"max_model_len"})
        if extra:
            raise ValueError(f"model_args {', '.join(extra)}: not used by the scripted engine")
        gold_map = json.loads(Path(golds).read_text()) if golds else {}
        if not isinstance(gold_map, dict):
            raise ValueError(f"golds={golds}: expected a JSON object mapping problem text to its answer")
        return ScriptedEngine(
            golds={str(k): str(v) for k, v in gold_map.items()},
            p_end=float(p_end),
            max_difficulty=int(max_difficulty),
            **({"max_model_len": int(engine_args["max_model_len"])} if "max_model_len" in engine_args else {}),
        )
    path, _info = resolve_model(pretrained)
    return VLLMEngine(path, dict(engine_args), name=pretrained)


def _chatml(messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


@register_model(MODEL_NAME)
class EvalkitLM(LM):
    """lm-eval model over evalkit's engine and strategies (generative tasks only)."""

    def __init__(self, pretrained: str = "", seed: int = 0, max_gen_toks: int = 256, think_format: str | None = None,
                 golds: str | None = None, p_end: float = 0.02, max_difficulty: int = 400,
                 batch_size: Any = None, max_batch_size: Any = None, device: Any = None,
                 engine: Any = None, **engine_args: Any) -> None:
        super().__init__()
        if engine is None and not pretrained:
            raise ValueError(
                "evalkit-vllm needs model_args pretrained=<pack name | model directory | hub id | scripted>"
            )
        self.model_name = pretrained or getattr(engine, "name", "engine")
        self.seed = int(seed)
        self.max_gen_toks = int(max_gen_toks)
        self.base_format: ThinkFormat | None = get_format(think_format) if think_format else None
        if engine_args.get("seed") is None and pretrained != "scripted" and engine is None:
            engine_args["seed"] = self.seed
        self.engine = engine if engine is not None else build_engine(
            pretrained, engine_args, golds=golds, p_end=p_end, max_difficulty=max_difficulty)
        self._ctx_engine = _ContextEngine(self.engine)
        self.last_generations: list[tuple[LmEvalRequest, Generation | None, str]] = []

    # -- lm-eval interface -------------------------------------------------------------------------

    def loglikelihood(self, requests: list) -> list:
        raise NotImplementedError("evalkit-vllm runs generative tasks (output_type: generate_until) only; "
                                  "use lm-eval's vllm or hf model for loglikelihood tasks")

    def loglikelihood_rolling(self, requests: list) -> list:
        raise NotImplementedError("evalkit-vllm runs generative tasks (output_type: generate_until) only")

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        if not requests:
            return []
        seen: Counter[tuple] = Counter()
        items = []
        for req in requests:
            args = req.args
            context, gen_kwargs = args[0], (args[1] if len(args) > 1 else {})
            key = (req.task_name, req.doc_id, req.idx)
            items.append(LmEvalRequest(task=str(req.task_name or "lm-eval"), doc_id=req.doc_id if req.doc_id is not None
                                       else len(seen), idx=int(req.idx or 0), sample=seen[key], context=context,
                                       gen_kwargs=dict(gen_kwargs or {})))
            seen[key] += 1
        out = self.generate_requests(items)
        for req, text in zip(requests, out, strict=True):
            self.cache_hook.add_partial("generate_until", req.args, text)
        return out

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        hf = getattr(self.engine.tokenizer, "hf", None)
        if hf is not None and getattr(hf, "chat_template", None):
            return hf.apply_chat_template(chat_history, tokenize=False, add_generation_prompt=add_generation_prompt)
        return _chatml(chat_history, add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        return self.model_name.replace("/", "__")

    def get_model_info(self) -> dict[str, Any]:
        return {"evalkit_version": evalkit.__version__, "evalkit_engine": type(self.engine).__name__,
                "evalkit_seed": self.seed}

    # -- generation --------------------------------------------------------------------------------

    def generate_requests(self, items: list[LmEvalRequest]) -> list[str]:
        """Texts for the requests, in order. Thinking requests go through the budget-forcing strategies
        (one batched engine call per round for all of them), the others are generated plainly."""
        eng = self._ctx_engine
        tok = eng.tokenizer
        specs: list[LmEvalGen] = []
        for it in items:
            try:
                specs.append(parse_gen_kwargs(it.gen_kwargs, default_max_gen_toks=self.max_gen_toks,
                                              default_format=self.base_format))
            except ValueError as e:
                raise ValueError(f"{it.task} doc {it.doc_id}: {e}") from None
        texts: list[str | None] = [None] * len(items)
        gens: list[Generation | None] = [None] * len(items)
        seq: list[tuple[int, Job]] = []
        rej: dict[int, list[tuple[int, Job]]] = {}
        plain: list[tuple[int, GenRequest]] = []
        encoded: dict[str, int] = {}

        def n_tokens(text: str) -> int:
            if text not in encoded:
                encoded[text] = len(tok.encode(text))
            return encoded[text]

        for i, (it, sp) in enumerate(zip(items, specs, strict=True)):
            if not sp.thinking:
                prompt = tuple(tok.encode(it.context))
                room = eng.max_model_len - len(prompt)
                if room < 1:
                    raise BudgetError(f"{it.task} doc {it.doc_id}: the context ({len(prompt)} tokens) fills the "
                                      f"model's context of {eng.max_model_len} tokens")
                plain.append((i, GenRequest(
                    prompt_ids=prompt, max_tokens=min(sp.max_gen_toks, room), temperature=sp.temperature,
                    top_p=sp.top_p, stop_token_ids=tuple(tok.eos_ids),
                    seed=derive_seed(self._seed(sp), it.task, it.problem_id, "plain", it.sample))))
                continue
            fmt = sp.fmt
            forced = n_tokens(fmt.delimiter) + (n_tokens(fmt.answer_prefix) if fmt.answer_prefix else 0)
            try:
                cap, answer_max = sp.budget(len(tok.encode(it.context + fmt.start)), forced, eng.max_model_len)
            except ValueError as e:
                raise BudgetError(f"{it.task} doc {it.doc_id}: {e}") from None
            cell = Cell(task=it.task, model=self.model_name, think_format=format_key(fmt),
                        forcing=ForcingConfig(cap=cap, n_ignore=sp.n_ignore, controls=sp.controls,
                                              min_tokens=sp.min_tokens),
                        sampling=SamplingConfig(temperature=sp.temperature, top_p=sp.top_p,
                                                answer_max_tokens=answer_max),
                        method=sp.method, max_attempts=sp.max_attempts if sp.rejection else 0)
            if sp.rejection:
                # attempts are run_rejection's sample index, so a repeat is another problem draw
                pid = it.problem_id if not it.sample else f"{it.problem_id}#r{it.sample}"
                job = Job(cell, Problem(it.task, pid, it.context, "", "math"), self._seed(sp), 0)
                rej.setdefault(sp.max_attempts, []).append((i, job))
            else:
                job = Job(cell, Problem(it.task, it.problem_id, it.context, "", "math"), self._seed(sp), it.sample)
                seq.append((i, job))

        # one event-driven run for forced and rejection-sampled requests alike
        todo = seq + [(i, j) for group in rej.values() for i, j in group]
        attempts = [0] * len(seq) + [m for m, group in rej.items() for _ in group]
        if todo:
            for (i, _), g in zip(todo, run_trees(eng, [j for _, j in todo], max_attempts=attempts, progress=log.info),
                                 strict=True):
                gens[i] = g
        if plain:
            outs = eng.generate([r for _, r in plain])
            for (i, _), o in zip(plain, outs, strict=True):
                texts[i] = apply_until(tok.decode(list(o.token_ids)), specs[i].until)
        for i, g in enumerate(gens):
            if g is None:
                continue
            fmt = specs[i].fmt
            head = tok.decode(g.thinking_ids + g.forced_ids)
            answer = g.response[len(head):] if g.response.startswith(head) else tok.decode(g.answer_ids)
            texts[i] = fmt.start + head + apply_until(answer, specs[i].until)
        self.last_generations = [(it, g, t) for it, g, t in zip(items, gens, texts, strict=True)]  # type: ignore[misc]  # texts[i] is set for every item above
        return texts  # type: ignore[return-value]  # texts[i] is set for every item above

    def _seed(self, sp: LmEvalGen) -> int:
        return self.seed if sp.seed is None else sp.seed
