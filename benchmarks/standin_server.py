"""A stand-in for vLLM's OpenAI server that emulates a GPU: for benchmarks of the served engine only.

    python benchmarks/standin_server.py [--port 0] [--rate 60] [--concurrency 256] [--sweep s.yaml]
                                        [--p-end 0.02] [--max-seconds 3600]

Protocol as evalkit's served engine meets vLLM 0.32 (docs/design/engine.md, "Served models"): ``/v1/models``
(``id``, ``root``, ``max_model_len``), ``/version``, ``/tokenize`` (a prompt, or messages with the chat
template), ``/detokenize`` (special tokens kept; an id past the vocabulary gives ""), ``/metrics``
(``vllm:num_requests_running`` / ``_waiting``, ``vllm:generation_tokens_total``) and
``/v1/completions``: a prompt of token ids used as is (or text), ``return_token_ids``, ``seed``,
``max_tokens``, ``min_tokens``, ``stop_token_ids``; an EOS ends with ``finish_reason`` "stop",
``stop_reason`` null and the EOS id last of ``token_ids``; a stop id with "stop", ``stop_reason`` the id
and the id last; the cap with "length". A prompt plus ``max_tokens`` over the context is a 400 with
vLLM's message, an unknown model a 404.

The tokens are the scripted engine's (:class:`evalkit.generate.ScriptedEngine`, character tokens):
deterministic from the request's seed, with the prefix property, so a sweep served by the stand-in
stores the rows of the scripted engine in process. ``--sweep`` gives the golds of a sweep's problems
(as the scripted engine knows them). Emulation: each request holds one of ``--concurrency`` slots (the
GPU's batch; the rest wait, as in vLLM's queue) for its generated tokens / ``--rate`` seconds (the
per-sequence decode speed; 0 answers at once). It listens on 127.0.0.1 only and exits after
``--max-seconds``. Never used by a sweep: evalkit's engines do not know it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import msgspec
from aiohttp import web

from evalkit.generate import GenRequest, ScriptedEngine
from evalkit.pipeline.models import scripted_factory
from evalkit.spec import build_plan, load_spec


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(obj), status=status, content_type="application/json")


def _error(message: str, status: int, kind: str) -> web.Response:
    return _json({"error": {"message": message, "type": kind, "param": None, "code": status}}, status)


class StandIn:
    def __init__(self, engine: ScriptedEngine, name: str, rate: float, concurrency: int, max_model_len: int) -> None:
        self.engine, self.name, self.rate, self.max_model_len = engine, name, rate, max_model_len
        self.tok = engine.tokenizer
        self.slots = asyncio.Semaphore(concurrency)
        self.running = self.waiting = self.generated = self.requests = 0

    async def models(self, _: web.Request) -> web.Response:
        return _json({"object": "list", "data": [{"id": self.name, "object": "model", "created": int(time.time()),
                      "owned_by": "vllm", "root": self.name, "parent": None, "max_model_len": self.max_model_len}]})

    async def version(self, _: web.Request) -> web.Response:
        return _json({"version": "0.32.0"})

    async def metrics(self, _: web.Request) -> web.Response:
        text = (f'vllm:num_requests_running{{model_name="{self.name}"}} {self.running}\n'
                f'vllm:num_requests_waiting{{model_name="{self.name}"}} {self.waiting}\n'
                f'vllm:generation_tokens_total{{model_name="{self.name}"}} {self.generated}\n'
                f'vllm:request_success_total{{model_name="{self.name}"}} {self.requests}\n')
        return web.Response(text=text, content_type="text/plain")

    async def tokenize(self, request: web.Request) -> web.Response:
        body = msgspec.json.decode(await request.read())
        if "messages" in body:
            text = self.tok.chat_prompt(str(body["messages"][-1]["content"]))
        else:
            text = str(body.get("prompt", ""))
        ids = self.tok.encode(text)
        return _json({"count": len(ids), "max_model_len": self.max_model_len, "tokens": ids, "token_strs": None})

    async def detokenize(self, request: web.Request) -> web.Response:
        ids = msgspec.json.decode(await request.read()).get("tokens", [])
        return _json({"prompt": self.tok.decode([i for i in ids if 0 <= i < self.tok.vocab_size])})

    def _request(self, body: dict[str, Any]) -> tuple[GenRequest, bool] | web.Response:
        if body.get("model") != self.name:
            return _error(f"The model `{body.get('model')}` does not exist. Valid aliases: {self.name}", 404,
                          "NotFoundError")
        prompt = body.get("prompt")
        ids = list(prompt) if isinstance(prompt, list) else self.tok.encode(str(prompt or ""))
        if any(not isinstance(i, int) or not 0 <= i < self.tok.vocab_size for i in ids):
            return _error(f"Token id out of vocabulary (vocabulary size {self.tok.vocab_size})", 400, "BadRequestError")
        max_tokens = int(body.get("max_tokens") or 16)
        if len(ids) + max_tokens > self.max_model_len:
            return _error(f"This model's maximum context length is {self.max_model_len} tokens. However, your "
                          f"prompt contains {len(ids)} input tokens and requested {max_tokens} output tokens.",
                          400, "BadRequestError")
        stops = [int(i) for i in body.get("stop_token_ids") or []]
        stops += [i for s in body.get("stop") or [] if (i := self.tok.token_id(s)) is not None]
        req = GenRequest(prompt_ids=tuple(ids), max_tokens=max_tokens, seed=int(body.get("seed") or 0),
                         temperature=float(body.get("temperature", 1.0)), top_p=float(body.get("top_p", 1.0)),
                         stop_token_ids=tuple(stops), min_tokens=int(body.get("min_tokens") or 0))
        return req, isinstance(prompt, list)

    async def completions(self, request: web.Request) -> web.Response:
        body = msgspec.json.decode(await request.read())
        got = self._request(body)
        if isinstance(got, web.Response):
            return got
        req, as_ids = got
        self.waiting += 1
        async with self.slots:
            self.waiting -= 1
            self.running += 1
            try:
                res = self.engine.generate([req])[0]
                ids = list(res.token_ids) + ([res.stop_token] if res.stop_token is not None else [])
                if self.rate > 0:
                    await asyncio.sleep(len(ids) / self.rate)
            finally:
                self.running -= 1
        self.generated += len(ids)
        self.requests += 1
        if res.stop_token is None:
            finish, why = "length", None
        else:
            finish, why = "stop", None if res.stop_token in self.tok.eos_ids else res.stop_token
            if not as_ids and why is not None:
                why = self.tok.decode([why])
        choice = {"index": 0, "text": self.tok.decode(ids if as_ids else list(res.token_ids)), "logprobs": None,
                  "finish_reason": finish, "stop_reason": why, "prompt_logprobs": None}
        if body.get("return_token_ids"):
            choice.update(token_ids=ids, prompt_token_ids=None)
        return _json({"id": f"cmpl-{self.requests}", "object": "text_completion", "created": int(time.time()),
                      "model": self.name, "choices": [choice],
                      "usage": {"prompt_tokens": len(req.prompt_ids), "completion_tokens": len(ids),
                                "total_tokens": len(req.prompt_ids) + len(ids), "prompt_tokens_details": None}})


def app(server: StandIn) -> web.Application:
    a = web.Application(client_max_size=1 << 28)
    a.add_routes([web.get("/v1/models", server.models), web.get("/version", server.version),
                  web.get("/metrics", server.metrics), web.post("/tokenize", server.tokenize),
                  web.post("/detokenize", server.detokenize), web.post("/v1/completions", server.completions)])
    return a


async def serve(server: StandIn, port: int, max_seconds: float) -> None:
    runner = web.AppRunner(app(server), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    bound = runner.addresses[0][1]
    print(f"READY http://127.0.0.1:{bound}/v1", flush=True)  # what a parent process waits for
    try:
        await asyncio.sleep(max_seconds)
    finally:
        await runner.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0: a free port (printed on the READY line)")
    ap.add_argument("--model", default="scripted", help="the served model's name")
    ap.add_argument("--rate", type=float, default=60.0, help="tokens/s per sequence (0: answer at once)")
    ap.add_argument("--concurrency", type=int, default=256, help="sequences generated at once (the rest wait)")
    ap.add_argument("--sweep", help="a sweep YAML whose problems' golds the scripted answers know")
    ap.add_argument("--p-end", type=float, default=0.02, help="chance per thinking token of an end attempt")
    ap.add_argument("--max-model-len", type=int, default=32768)
    ap.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long, whatever happens")
    a = ap.parse_args()
    if a.sweep:
        engine = scripted_factory(a.model, a.model, {"p_end": a.p_end}, build_plan(load_spec(a.sweep)))
    else:
        engine = ScriptedEngine(p_end=a.p_end)
    asyncio.run(serve(StandIn(engine, a.model, a.rate, a.concurrency, a.max_model_len), a.port, a.max_seconds))


if __name__ == "__main__":
    sys.exit(main())
