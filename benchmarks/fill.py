"""Does evalkit keep a fast model server busy? (issue #37) The served engine against the stand-in of
vLLM's OpenAI server (benchmarks/standin_server.py), on ``sweeps/aime_budget.yaml``'s grid:

    python benchmarks/fill.py emulate [--seeds 16] [--max-in-flight N]   # a GPU: 60 tok/s/seq, 256 at once
    python benchmarks/fill.py ceiling [--seeds 8] [--profile]            # the stand-in answers at once

``emulate`` prints the requests in flight over time (the stand-in's running count, sampled every
0.25 s; its maximum; and the share of time with >= 240 running among the time with >= 240 ready,
i.e. asked for by the trees and unfinished, sent or held back by the filled run), the wall time of
generation against the bound max(generated tokens / (256 x 60), longest chain / 60), where a tree's
chain is the tokens generated one after another by its thinking segments and its longest answer.
``--max-in-flight 1`` is evalkit before issue #37 (one batch, i.e. one seed's trees, at a time).

``ceiling`` prints the generated tokens/s of one evalkit process and the CPU it used; ``--profile``
adds the functions that cost most (cProfile).

The grid is aime_budget's (AIME24's 30 problems, caps 512-16000 x ignores 0/1/2/4/6, s1 format, T 0.7,
2048 answer tokens), with the scripted engine's tokens served by the stand-in (thinking segments end
with chance ``--p-end`` per token: long trajectories, many at the 16000 cap) and the scripted
tokenizer on both sides (as a local tokenizer of the model). Results go to a temporary directory.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the evalkit of this checkout

from evalkit.generate.scripted import CharTokenizer
from evalkit.generate.server import ServerEngine
from evalkit.pipeline import context, run_sweep
from evalkit.pipeline.models import server_engine
from evalkit.pipeline.observer import Collect
from evalkit.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
RATE, CONCURRENCY, FULL = 60.0, 256, 240


def write_spec(tmp: Path, url: str, seeds: int, max_in_flight: int | None) -> Path:
    spec = yaml.safe_load((ROOT / "sweeps" / "aime_budget.yaml").read_text())
    spec["model"] = {"id": "scripted", "flops_config": spec["model"]["flops_config"],
                     **({"server": {"urls": [url], "concurrency": CONCURRENCY}} if url else {})}
    spec["seeds"] = list(range(seeds))
    spec["executor"] = {"chunk_size": 64, **({"max_in_flight": max_in_flight} if max_in_flight else {})}
    path = tmp / ("served.yaml" if url else "golds.yaml")
    path.write_text(yaml.safe_dump(spec))
    return path


def start_standin(spec: Path, rate: float, p_end: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "standin_server.py"), "--rate", str(rate),
                             "--concurrency", str(CONCURRENCY), "--sweep", str(spec), "--p-end", str(p_end),
                             "--max-seconds", "7200"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # the stand-in of this checkout
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the stand-in prints READY <url> once it listens
    if not line.startswith("READY"):
        proc.kill()
        raise SystemExit(f"the stand-in did not start: {line!r}")
    return proc, line.split()[1]


class Sampler(threading.Thread):
    """Every 0.25 s: (time, requests ready to send, requests the server runs). Ready: asked for by the
    run's trees and not finished, whether sent or held back by the filled run (evalkit before issue #37
    held nothing back: there, the requests the client had routed and not finished)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.engine, self.stop, self.log = url.removesuffix("/v1"), None, threading.Event(), []
        self.fill: Any = None  # the running FillRun, where there is one

    def run(self) -> None:
        with httpx.Client(timeout=5.0) as c:
            while not self.stop.wait(0.25):
                eng: ServerEngine | None = self.engine
                fill = self.fill
                if fill is not None and hasattr(fill, "ready"):
                    ready = fill.ready
                else:
                    ready = sum(r.load for r in eng.replicas) if eng is not None else 0
                text = c.get(f"{self.url}/metrics").text
                running = int(float(next(x for x in text.splitlines() if "num_requests_running" in x).split()[-1]))
                self.log.append((time.perf_counter(), ready, running))


def chain_bound(rows: pd.DataFrame) -> int:
    """The longest tree's chain: tokens its segments generate one after another, plus its longest answer."""
    prov = rows["provenance"].map(json.loads)
    rows = rows.assign(tree=[(r.seed, r.problem_id, r.sample, p["tree_cap"], p["tree_ignores"])
                             for r, p in zip(rows.itertuples(), prov, strict=True)],
                       full=[not p["branch"] for p in prov])
    longest = 0
    for _, g in rows.groupby("tree"):
        whole = g[g["full"]].iloc[0] if g["full"].any() else g.loc[g["thinking_tokens"].idxmax()]
        stops = int(whole["n_ignored"]) + (whole["thinking_end"] in ("delimiter", "eos"))
        think = int(whole["thinking_tokens"]) - int(whole["control_tokens"]) + stops
        longest = max(longest, think + int(g["answer_tokens"].max()) + 1)
    return longest


def sweep(tmp: Path, args: argparse.Namespace, rate: float, sampler: Sampler | None) -> dict[str, Any]:
    golds = write_spec(tmp, "", args.seeds, None)
    proc, url = start_standin(golds, rate, args.p_end)
    engines: list[ServerEngine] = []

    def factory(model_id: str, path: str, engine_args: dict, plan: Any) -> ServerEngine:
        entry = next(e for e in plan.spec.model_entries() if e.id == model_id)
        eng = server_engine(entry, path)
        eng.tokenizer = CharTokenizer()  # the model's tokenizer on this machine (as a pack gives it)
        engines.append(eng)
        if sampler is not None:
            sampler.engine = eng
        return eng

    real_fill = context.FillRun

    class Watched(real_fill):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            if sampler is not None:
                sampler.fill = self

    try:
        spec = write_spec(tmp, url, args.seeds, args.max_in_flight)
        context.FillRun = Watched  # the sampler reads what the run holds ready
        if sampler is not None:
            sampler.url = url.removesuffix("/v1")
            sampler.start()
        prof = cProfile.Profile() if getattr(args, "profile", False) else None
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        if prof:
            prof.enable()
        res = run_sweep(spec, tmp / "results", engine=factory, resolve=lambda m: (m, {}), observer=Collect())
        if prof:
            prof.disable()
        wall, cpu1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    finally:
        context.FillRun = real_fill
        if sampler is not None:
            sampler.stop.set()
        proc.terminate()
        proc.wait()
    rows = ResultStore(tmp / "results" / "aime_budget").read_rows()
    out = {"rows": len(rows), "failed": res.failed_batches, "tokens": engines[0].generated_tokens, "wall_s": wall,
           "generate_s": res.generate_s, "cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
           "chain": chain_bound(rows)}
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(18)
        out["profile"] = s.getvalue()
    return out


def emulate(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as d:
        sampler = Sampler("")
        r = sweep(Path(d), args, RATE, sampler)
    log = sampler.log
    bound = max(r["tokens"] / (CONCURRENCY * RATE), r["chain"] / RATE)
    ready_full = [x for x in log if x[1] >= FULL]
    share = sum(x[2] >= FULL for x in ready_full) / len(ready_full) if ready_full else float("nan")
    print(f"aime_budget grid, {args.seeds} seeds, {r['rows']} rows, max_in_flight {args.max_in_flight or 'default'}; "
          f"stand-in at {RATE:.0f} tok/s/sequence, concurrency {CONCURRENCY}; failed batches: {r['failed'] or 'none'}")
    print(f"generated {r['tokens']:,} tokens; longest chain {r['chain']:,} tokens")
    print(f"wall {r['wall_s']:.0f} s (generating {r['generate_s']:.0f} s) vs bound {bound:.0f} s "
          f"= max({r['tokens'] / (CONCURRENCY * RATE):.0f}, {r['chain'] / RATE:.0f}): {r['wall_s'] / bound:.2f}x; "
          f"{r['tokens'] / r['wall_s']:,.0f} tok/s "
          f"({r['tokens'] / r['wall_s'] / (CONCURRENCY * RATE):.0%} of the server's)")
    print(f"in flight (server running): max {max(x[2] for x in log)}; >= {FULL} in {share:.1%} of the time "
          f"when >= {FULL} were ready ({len(ready_full) * 0.25:.0f} s of {len(log) * 0.25:.0f} s)")
    t0, step = log[0][0], max(1, len(log) // 24)
    print("time s  ready  running")
    for t, ready, running in log[::step]:
        print(f"{t - t0:6.0f} {ready:6d} {running:8d}")


def ceiling(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as d:
        r = sweep(Path(d), args, 0.0, None)
    print(f"aime_budget grid, {args.seeds} seeds, {r['rows']} rows, stand-in answering at once; failed: "
          f"{r['failed'] or 'none'}")
    print(f"generated {r['tokens']:,} tokens in {r['wall_s']:.1f} s (generating {r['generate_s']:.1f} s): "
          f"{r['tokens'] / r['wall_s']:,.0f} tok/s; evalkit's CPU {r['cpu_s']:.1f} s "
          f"({r['cpu_s'] / r['wall_s']:.0%} of a core)")
    if "profile" in r:
        print(r["profile"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["emulate", "ceiling"])
    ap.add_argument("--seeds", type=int, default=None, help="seeds of the grid (emulate 16, ceiling 8)")
    ap.add_argument("--max-in-flight", type=int, default=None, help="the sweep's executor.max_in_flight")
    ap.add_argument("--p-end", type=float, default=0.0005, help="the stand-in's chance per thinking token to end")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    args.seeds = args.seeds or (16 if args.mode == "emulate" else 8)
    cpu = next((x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")), "?")
    print(f"CPU: {cpu}")
    (emulate if args.mode == "emulate" else ceiling)(args)


if __name__ == "__main__":
    main()
