"""How batch-invariant is the engine on this machine? Divergence rates of seeded generation.

    python benchmarks/engine_exactness.py                  # smollm2 pack, bf16 and float32, default and uni executors
    python benchmarks/engine_exactness.py --dtype bfloat16 --executor default --n 20 --tokens 48

For each setting (one engine process each) it generates N seeded requests (MATH500 prompts) and
compares, per request, against the same request run with all N in one batch:
- ``alone``: each request alone in the engine;
- ``pairs``: in batches of 2 (each beside another request);
- ``fives``: in batches of 5;
- ``rerun``: all N in one batch again (run-to-run determinism);
- ``greedy alone``: temperature 0, alone vs all N;
- ``tree``: trajectory tree (caps 24/48/96 x ignores 0/1, one trajectory per problem) against
  independent runs of every cell, through ``run_sequential``.
It prints how many of N differ, the first divergence positions, and how each divergence is classified
by :mod:`evalkit.generate.exactness` (explained near tie / unverifiable / unexplained), plus the
largest log-probability difference seen over shared contexts. Also the CPU flags that select kernels.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

K = 20  # recorded top-k


def one(dtype: str, executor: str, n: int, tokens: int) -> dict:
    import os

    from evalkit.generate import Job, VLLMEngine, run_sequential
    from evalkit.generate.engine import GenRequest
    from evalkit.generate.exactness import compare
    from evalkit.generate.packs import pack_dir
    from evalkit.records import Cell, ForcingConfig, SamplingConfig
    from evalkit.spec import load_problems

    args = {"max_model_len": 1024, "seed": 0, "dtype": dtype, "max_logprobs": K}
    if executor == "uni":
        args["distributed_executor_backend"] = "uni"
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    eng = VLLMEngine(str(pack_dir("smollm2-135m")), args, name="smollm2-135m")
    eng.logprobs = K
    tok = eng.tokenizer
    probs = load_problems("math500", limit=n)
    prompts = [tuple(tok.encode(tok.chat_prompt(p.prompt))) for p in probs]

    def reqs(temp: float) -> list[GenRequest]:
        return [GenRequest(pr, max_tokens=tokens, seed=1000 + i, temperature=temp) for i, pr in enumerate(prompts)]

    def run(batches: list[list[GenRequest]]) -> list:
        out = []
        for b in batches:
            out.extend(eng.generate(b))
        return out

    def summarise(ref: list, other: list, tol: float = 1.0) -> dict:
        verdicts, pos, shared = [], [], 0.0
        for a, b in zip(ref, other, strict=True):
            c = compare(a.token_ids, a.logprobs, b.token_ids, b.logprobs, tol=tol, temperature=0.8)
            verdicts.append(c.verdict)
            shared = max(shared, c.shared_max_diff)
            if c.position is not None:
                pos.append(c.position)
        return {"n": len(ref), "differ": len(pos), "first_divergence": sorted(pos),
                "verdicts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
                "max_shared_logprob_diff": round(shared, 5)}

    out: dict = {"dtype": dtype, "executor": executor, "tokens": tokens}
    t0 = time.perf_counter()
    rs = reqs(0.8)
    ref = run([rs])
    out["rerun"] = summarise(ref, run([rs]))
    out["alone"] = summarise(ref, run([[r] for r in rs]))
    out["pairs"] = summarise(ref, run([rs[i:i + 2] for i in range(0, n, 2)]))
    out["fives"] = summarise(ref, run([rs[i:i + 5] for i in range(0, n, 5)]))
    g = reqs(0.0)
    out["greedy alone"] = summarise(run([g]), run([[r] for r in g]))

    # trajectory tree vs independent runs, compared request by request (same prompt and seed)
    cells = [Cell(task="math500", model="smollm2-135m", think_format="s1",
                  forcing=ForcingConfig(cap=cap, n_ignore=k, controls=("Wait",) if k else ()),
                  sampling=SamplingConfig(temperature=0.8, top_p=1.0, answer_max_tokens=16))
             for cap in (24, 48, 96) for k in (0, 1)]
    jobs = [Job(c, p, 0) for c in cells for p in probs[: max(2, n // 2)]]
    logs: dict[str, list] = {}
    gens = {}
    for mode, reuse in (("tree", True), ("independent", False)):
        eng.result_log = logs.setdefault(mode, [])
        gens[mode] = run_sequential(eng, jobs, reuse=reuse)
    eng.result_log = None
    tree_by_key: dict = {}
    for r, o in logs["tree"]:
        tree_by_key.setdefault((r.prompt_ids, r.seed), []).append(o)
    verdicts, pos, unmatched, shared = [], [], 0, 0.0
    for r, o in logs["independent"]:
        cands = tree_by_key.get((r.prompt_ids, r.seed))
        if not cands:
            unmatched += 1  # its prompt descends from an earlier divergence
            continue
        t = max(cands, key=lambda x: len(x.token_ids))
        c = compare(o.token_ids, o.logprobs, t.token_ids, t.logprobs, tol=1.0)
        verdicts.append(c.verdict)
        shared = max(shared, c.shared_max_diff)
        if c.position is not None:
            pos.append(c.position)
    same_jobs = sum(a.thinking_ids == b.thinking_ids and a.answer_ids == b.answer_ids
                    for a, b in zip(gens["tree"], gens["independent"], strict=True))
    out["tree"] = {"jobs": len(jobs), "jobs_identical": same_jobs, "requests": len(logs["independent"]),
                   "unmatched_requests": unmatched, "first_divergence": sorted(pos),
                   "verdicts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
                   "max_shared_logprob_diff": round(shared, 5)}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    eng.close()
    return out


def cpu_flags() -> dict:
    from evalkit.generate.hardware import hardware

    return hardware()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", action="append")
    ap.add_argument("--executor", action="append")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print("RESULT " + json.dumps(one(a.dtype[0], a.executor[0], a.n, a.tokens)))
        return
    print(json.dumps(cpu_flags()))
    for dtype in a.dtype or ["bfloat16", "float32"]:
        for ex in a.executor or ["default", "uni"]:
            p = subprocess.run([sys.executable, __file__, "--one", "--dtype", dtype, "--executor", ex,
                                "--n", str(a.n), "--tokens", str(a.tokens)], capture_output=True, text=True)
            line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{dtype}/{ex}: failed\n{p.stderr[-3000:]}")
                continue
            r = json.loads(line[7:])
            print(f"\n== dtype {dtype}, executor {ex} ({r.pop('seconds')} s)")
            for k, v in r.items():
                if isinstance(v, dict):
                    print(f"  {k:13s} {json.dumps(v)}")


if __name__ == "__main__":
    main()
