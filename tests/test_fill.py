"""Filling the engine (issue #37): several batches' trees in one engine stream give the rows of one
batch at a time, part by part; kill -9 at any point and a resume still gives them; decoding each
trajectory once gives the texts of decoding every cell."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from evalkit.generate import Job, ScriptedEngine, run_trees
from evalkit.generate.fill import FillRun, Unit, run_units
from evalkit.generate.forcing import BudgetError, _Texts
from evalkit.pipeline import run_sweep, scripted_factory, scripted_resolve
from evalkit.pipeline.observer import Collect
from evalkit.spec import build_plan, parse_spec
from tests.conftest import make_cell, make_problems

SPEC = """\
name: fill
model: {id: scripted}
tasks:
  - name: math500
    where: {level: [1, 2]}
    limit: 9
seeds: [0, 1, 2, 3]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [30, 90, 200], ignores: [0, 1, 2]}
parallel: {n: 3, caps: [30]}
rejection: {caps: [60], max_attempts: 3}
executor: {chunk_size: 3, retries: 0, max_in_flight: LIMIT}
"""
VOLATILE = ["wall_s"]  # timings; provenance keeps its tree, minus the per-round timings


def parts(root: Path) -> dict[str, pd.DataFrame]:
    """Every part file's rows as the store reads them (texts stored by reference rebuilt), timings dropped,
    by the part's path in the results directory."""
    from evalkit.store import ResultStore

    out, store = {}, ResultStore(root)
    for f in sorted((root / "samples").rglob("part-*.parquet")):
        df = pd.DataFrame([r.to_dict() for r in store.read_part(f)]).drop(columns=VOLATILE)
        df["provenance"] = [json.dumps({k: v for k, v in json.loads(p).items() if k != "round_walls_s"})
                            for p in df["provenance"]]
        out[str(f.relative_to(root))] = df.reset_index(drop=True)
    return out


def journal(root: Path) -> list[tuple]:
    entries = [json.loads(line) for f in (root / "journal").glob("*.jsonl") for line in f.read_text().splitlines()]
    return sorted((e["event"], e.get("cell_id"), e.get("seed"), e.get("part"), e.get("rows")) for e in entries)


def sweep(tmp: Path, limit: int) -> tuple[Path, list[ScriptedEngine]]:
    engines: list[ScriptedEngine] = []

    def factory(*args):
        engines.append(scripted_factory(*args))
        return engines[-1]

    plan = build_plan(parse_spec(SPEC.replace("LIMIT", str(limit))))
    res = run_sweep(plan, tmp, engine=factory, resolve=scripted_resolve, observer=Collect())
    assert not res.failed_batches and res.samples == 9 * 4 * (9 + 3 + 1)
    return tmp / "fill", engines


def test_batches_generated_together_write_the_parts_of_one_batch_at_a_time(tmp_path: Path) -> None:
    alone, (e1,) = sweep(tmp_path / "alone", 1)
    together, (e2,) = sweep(tmp_path / "together", 64)
    one_batch = max(e1.calls)
    assert max(e2.calls) > 2 * one_batch  # the engine saw several batches' (seeds') requests at once
    assert len(e2.calls) < len(e1.calls) / 2
    a, b = parts(alone), parts(together)
    assert list(a) == list(b) and len(a) == 11 * 4 * 3  # same part files: cells x seeds x chunks
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    assert journal(alone) == journal(together)


KILLER = """\
import os, signal, sys
from evalkit.pipeline import run_sweep, scripted_factory, scripted_resolve
from evalkit.pipeline.observer import Collect
spec, out, at, where = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
calls = [0]

def hit(*_):
    calls[0] += 1
    if calls[0] == at:
        os.kill(os.getpid(), signal.SIGKILL)
    return False

if where == "write":  # dies with a part's temporary file written, before its rename
    import evalkit.store as st
    real = st.os.replace
    st.os.replace = lambda *a: (hit(), real(*a))[1]

def factory(*args):
    e = scripted_factory(*args)
    if where == "generate":  # dies in the middle of a generate call, other batches being written
        e.fail_on = hit
    return e

run_sweep(spec, out, engine=factory, resolve=scripted_resolve, observer=Collect())
"""


def test_kill_9_anywhere_in_a_filled_run_then_resume_gives_the_uninterrupted_parts(tmp_path: Path) -> None:
    ref, _ = sweep(tmp_path / "ref", 1)
    spec = tmp_path / "fill.yaml"
    spec.write_text(SPEC.replace("LIMIT", "64"))
    out = tmp_path / "killed"
    kills = 0
    for at, where in ((2, "generate"), (3, "write"), (4, "generate"), (9, "write"), (6, "generate")):
        proc = subprocess.run([sys.executable, "-c", KILLER, str(spec), str(out), str(at), where],
                              capture_output=True, text=True, timeout=300)
        kills += proc.returncode == -9
    assert kills == 5  # every run died where it was told to (each resumed what the last left)
    done = subprocess.run([sys.executable, "-c", KILLER, str(spec), str(out), "0", "none"], timeout=300)
    assert done.returncode == 0
    # a resumed batch holds what was missing (its part is named apart, its trees' provenance names the
    # cells that were left): compare the table as tests/test_runner.py does
    key = ["cell_id", "seed", "problem_id", "sample"]
    a, b = (pd.concat(parts(r).values()).drop(columns=["provenance"]).sort_values(key).reset_index(drop=True)
            for r in (ref, out / "fill"))
    assert not b.duplicated(key).any()
    pd.testing.assert_frame_equal(a, b)
    assert not list((out / "fill").rglob("*.tmp"))


PROBS = make_problems(4)
CELLS = [make_cell(cap=cap, k=k, answer_max=20) for cap in (20, 60) for k in (0, 2)]


def untimed(gens: list) -> list:
    return [replace(g, wall_s=0.0, provenance={k: v for k, v in g.provenance.items() if k != "round_walls_s"})
            for g in gens]


def test_units_in_one_stream_get_what_each_gets_alone_and_a_unit_that_cannot_start_is_isolated() -> None:
    golds = {p.prompt: p.gold for p in PROBS}
    units = [Unit(s, [Job(c, p, s) for c in CELLS for p in PROBS], [0] * 16) for s in range(5)]
    too_long = make_cell(cap=10**7)
    units.insert(2, Unit("bad", [Job(too_long, p, 9) for p in PROBS], [0] * 4))
    engine = ScriptedEngine(golds=golds, order="random", max_model_len=4096)
    got = run_units(engine, units, max_in_flight=9)
    for u, g in zip(units, got, strict=True):
        if u.tag == "bad":
            assert isinstance(g, BudgetError)
        else:
            assert untimed(g) == untimed(run_trees(ScriptedEngine(golds=golds, max_model_len=4096), u.jobs))


def test_decoding_each_trajectory_once_gives_the_texts_of_decoding_each_cell() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from transformers import PreTrainedTokenizerFast

    from evalkit.generate.engine import HFTokenizer

    def hf(kind: str) -> HFTokenizer:
        tk = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="[UNK]" if kind != "bytes" else None))
        if kind == "bytes":
            tk.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
            tk.decoder = tokenizers.decoders.ByteLevel()
            alphabet = tokenizers.pre_tokenizers.ByteLevel.alphabet()
        else:
            tk.pre_tokenizer = tokenizers.pre_tokenizers.Metaspace()
            tk.decoder = tokenizers.decoders.Metaspace()
            alphabet = []
        tr = tokenizers.trainers.BpeTrainer(vocab_size=300, special_tokens=["<|im_end|>", "</think>", "[UNK]"],
                                            initial_alphabet=alphabet)
        tk.train_from_iterator(["Wait, so ça fait 日本語 42 \\boxed{7}. Hmm."] * 20, tr)
        return HFTokenizer(PreTrainedTokenizerFast(tokenizer_object=tk, clean_up_tokenization_spaces=False))

    byte_level, metaspace = hf("bytes"), hf("meta")
    assert byte_level.concat_decode and not metaspace.concat_decode
    rng = random.Random(3)
    for tok in (byte_level, metaspace):
        for _ in range(200):
            ids = [rng.randrange(tok.vocab_size) for _ in range(rng.randrange(1, 40))]
            traj = type("T", (), {"thinking": ids})()  # only a trajectory's thinking is read
            texts = _Texts(tok)
            for n in rng.sample(range(len(ids) + 1), k=min(6, len(ids) + 1)):
                assert texts.prefix(traj, n) == tok.decode(ids[:n]), (ids, n)
                tail = [rng.randrange(tok.vocab_size) for _ in range(5)]
                assert texts.join(texts.prefix(traj, n), ids[:n], tail) == tok.decode(ids[:n] + tail)


def test_a_sweep_served_by_the_standin_stores_the_rows_of_the_scripted_engine(tmp_path: Path) -> None:
    """The served engine, filled to its concurrency, against benchmarks/standin_server.py (vLLM's protocol,
    the scripted engine's tokens): the rows of the scripted engine in process, one batch at a time. Only
    ``n_suppressed`` differs: a server does not say where min_tokens masked a stop (vLLM neither)."""
    from evalkit.pipeline.models import vllm_factory

    golds = tmp_path / "golds.yaml"
    golds.write_text(SPEC.replace("LIMIT", "1"))
    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen([sys.executable, str(root / "benchmarks" / "standin_server.py"), "--rate", "0",
                               "--concurrency", "16", "--sweep", str(golds), "--max-seconds", "600"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)})
    try:
        ready = server.stdout.readline()  # the stand-in prints READY <url> once it listens
        assert ready.startswith("READY"), ready
        served = SPEC.replace("{id: scripted}", f"{{id: scripted, server: {{urls: ['{ready.split()[1]}'], "
                                                "concurrency: 16}}").replace(", max_in_flight: LIMIT", "")
        res = run_sweep(build_plan(parse_spec(served)), tmp_path / "served", engine=vllm_factory,
                        resolve=scripted_resolve, observer=Collect())
    finally:
        server.kill()
        server.wait()
    assert not res.failed_batches
    alone, _ = sweep(tmp_path / "alone", 1)
    a, b = parts(alone), parts(tmp_path / "served" / "fill")
    assert list(a) == list(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name].drop(columns=["n_suppressed"]), b[name].drop(columns=["n_suppressed"]),
                                      obj=name)


def test_a_served_request_goes_to_a_connection_pool_with_a_free_connection() -> None:
    """64 requests in flight over two pools of 32 connections: 32 long ones (held by the server) on one
    pool and 32 short ones on the other. Each short one's follow-up must take a connection the short ones
    freed. The server holds the long ones until it has answered all 32 follow-ups, so a follow-up queued
    in the pool of the long ones would wait for ever: the server then lets them go after 60 s and says so."""
    import asyncio
    import threading

    from aiohttp import web

    from evalkit.generate import GenRequest
    from evalkit.generate.server import ServerEngine
    from tests.conftest import load_benchmark

    standin = load_benchmark("standin_server")
    LONG, SHORT, LATE = 500, 5, 7

    class Holding(standin.StandIn):
        late, forced, release = 0, False, None

        async def completions(self, request: web.Request) -> web.Response:
            max_tokens = json.loads(await request.read()).get("max_tokens")
            if max_tokens == LONG:
                try:
                    await asyncio.wait_for(self.release.wait(), 60)
                except TimeoutError:
                    self.forced = True
            out = await super().completions(request)
            if max_tokens == LATE:
                self.late += 1
                if self.late == 32:
                    self.release.set()
            return out

    loop = asyncio.new_event_loop()
    server = Holding(ScriptedEngine(), "scripted", 0.0, 64, 4096)
    runner = web.AppRunner(standin.app(server), access_log=None)

    async def start() -> int:
        server.release = asyncio.Event()
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner.addresses[0][1]

    threading.Thread(target=loop.run_forever, daemon=True).start()
    port = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    engine = ServerEngine([f"http://127.0.0.1:{port}/v1"], "scripted", concurrency=64)
    try:
        prompt = tuple(engine.tokenizer.encode("Think about it."))
        first = [GenRequest(prompt, LONG if k % 2 else SHORT, seed=k) for k in range(64)]
        done: list[int] = []

        def on_done(r: GenRequest, _res: object) -> list[GenRequest]:
            done.append(r.max_tokens)
            return [GenRequest(prompt, LATE, seed=1000 + r.seed)] if r.max_tokens == SHORT else []

        engine.stream(first, on_done)
        assert sorted(done) == [SHORT] * 32 + [LATE] * 32 + [LONG] * 32
        assert not server.forced  # the follow-ups never waited behind the long requests
        assert len(engine.replicas[0].clients) == 2
    finally:
        engine.close()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)


class VirtualServer:
    """A server of ``slots`` sequences in virtual time: each generates one of the scripted engine's tokens per
    time step, and requests beyond the slots wait in the order they came (as in vLLM's queue or the served
    engine's semaphore)."""

    def __init__(self, inner: ScriptedEngine, slots: int) -> None:
        self.inner, self.slots = inner, slots
        self.tokenizer, self.max_model_len, self.name = inner.tokenizer, inner.max_model_len, "virtual"
        self.now = self.tokens = 0

    def stream(self, initial: list, on_done) -> None:
        import heapq
        import itertools
        from collections import deque

        queue, running, order = deque(initial), [], itertools.count()
        while queue or running:
            while queue and len(running) < self.slots:
                r = queue.popleft()
                res = self.inner.generate([r])[0]
                n = len(res.token_ids) + (res.stop_token is not None)
                heapq.heappush(running, (self.now + n, next(order), r, res))
                self.tokens += n
            self.now, _, r, res = heapq.heappop(running)
            queue.extend(on_done(r, res))


def test_a_filled_run_ends_near_max_of_capacity_and_longest_chain() -> None:
    """Trees of caps up to 600 tokens with up to 4 ignored ends, 10 seeds x 4 problems, on a server of 16
    sequences: the run ends within 15% of max(tokens / 16, the longest chain of requests), the chain being
    how long the run takes on a server without a limit. What does it: holding requests back and sending
    those with the most budget left first, every unit admitted early. One unit after another, each
    request sent as it came, left the last seeds' long chains to run alone at the end (1.29x). Whenever
    16 requests were ready (sent or held), 16 were sent."""
    probs = make_problems(4)
    cells = [make_cell(cap=cap, k=k, answer_max=20) for cap in (150, 600) for k in (0, 1, 4)]
    units = [Unit(s, [Job(c, p, s) for c in cells for p in probs], [0] * 24) for s in range(10)]
    golds = {p.prompt: p.gold for p in probs}
    server, unlimited = (VirtualServer(ScriptedEngine(golds=golds, p_end=0.008), n) for n in (16, 10**9))
    out: dict[int, list] = {}
    run = FillRun(server, iter(units), max_in_flight=16, on_complete=lambda u, g: out.__setitem__(u.tag, g),
                  on_error=lambda u, e: out.__setitem__(u.tag, e))
    run.stats.in_flight_log = []
    run.run()
    got = [out[s] for s in range(10)]
    assert all(sent >= min(16, ready) for _, sent, ready in run.stats.in_flight_log)
    run_units(unlimited, units, max_in_flight=10**9)
    alone = ScriptedEngine(golds=golds, p_end=0.008)
    assert [untimed(g) for g in got] == [untimed(run_trees(alone, u.jobs)) for u in units]
    assert server.tokens == unlimited.tokens
    bound = max(server.tokens / 16, unlimited.now)
    assert server.now <= 1.15 * bound, (server.now, server.tokens / 16, unlimited.now)
