"""Budget forcing on the scripted engine: token-exact arithmetic, trees equal independent runs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.generate import Job, ScriptedEngine, run_sequential
from evalkit.generate.forcing import BudgetError
from tests.conftest import make_cell, make_problems

PROBS = make_problems(4)


def engine(p_end: float = 0.05, **kw) -> ScriptedEngine:
    return ScriptedEngine(golds={p.prompt: p.gold for p in PROBS}, p_end=p_end, max_difficulty=60, **kw)


def jobs_for(cells, seeds=(0, 1)):
    return [Job(c, p, s) for c in cells for p in PROBS for s in seeds]


grid = st.tuples(
    st.lists(st.integers(1, 120), min_size=1, max_size=3, unique=True),  # caps
    st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True),  # ignores
    st.sampled_from([("Wait",), ("Hmm",), ("Wait", "Alternatively")]),
    st.integers(0, 50),  # min tokens
    st.sampled_from(["s1", "plain"]),
    st.floats(0.0, 0.2),  # p_end
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid)
def test_invariants_and_tree_equals_independent(g) -> None:
    caps, ignores, controls, m, fmt, p_end = g
    cells = [make_cell(cap=c, k=k, controls=controls, min_tokens=m, fmt=fmt) for c in caps for k in ignores]
    jobs = jobs_for(cells)
    e_tree, e_ind = engine(p_end), engine(p_end)
    tree = run_sequential(e_tree, jobs, reuse=True)
    ind = run_sequential(e_ind, jobs, reuse=False)
    tok = e_tree.tokenizer
    for j, a, b in zip(jobs, tree, ind, strict=True):
        f = j.cell.forcing
        assert a.thinking_tokens <= f.cap
        assert a.thinking_tokens == len(a.thinking_ids)
        assert a.n_ignored <= f.n_ignore
        assert a.control_tokens <= a.thinking_tokens
        # text and ids always agree
        assert a.thinking_text == tok.decode(a.thinking_ids)
        assert a.response == tok.decode(a.thinking_ids + a.forced_ids + a.answer_ids)
        assert a.response.startswith(a.thinking_text)
        assert a.response.endswith(a.answer_text)
        # the control strings are in the thinking, once per ignore
        if f.n_ignore:
            assert sum(a.thinking_text.count(c) for c in set(controls)) >= a.n_ignored
        # forced rows carry the answer prefix
        if a.forced_end or fmt == "plain" or a.thinking_end == "eos":
            assert a.answer_text.startswith("Final Answer:")
        assert a.thinking_end in (("cap", "oov") if a.forced_end else ("delimiter", "eos"))
        if fmt == "plain" and not a.forced_end:
            assert a.thinking_end == "eos"
        # a branch of the tree equals an independent run with the same seed
        assert (a.thinking_ids, a.answer_ids, a.forced_end, a.n_ignored, a.control_tokens, a.n_suppressed) == (
            b.thinking_ids, b.answer_ids, b.forced_end, b.n_ignored, b.control_tokens, b.n_suppressed)
    # the tree never generates more than the independent runs
    assert e_tree.generated_tokens <= e_ind.generated_tokens
    # continuous batching: requests finishing in any order (follow-ups start at once) change nothing
    e_rand = engine(p_end, order="random")
    rand = run_sequential(e_rand, jobs, reuse=True)
    fields = ("thinking_ids", "forced_ids", "answer_ids", "forced_end", "thinking_end", "n_ignored", "n_suppressed")
    assert [[getattr(g, f) for f in fields] for g in rand] == [[getattr(g, f) for f in fields] for g in tree]
    assert e_rand.generated_tokens == e_tree.generated_tokens
    assert set(e_rand.calls) == {1}


def test_min_tokens_suppresses_end() -> None:
    jobs = jobs_for([make_cell(cap=200, k=0, min_tokens=80)])
    for g in run_sequential(engine(p_end=0.5), jobs):
        assert g.thinking_tokens >= 80 or g.forced_end


def test_ignores_append_control_and_continue() -> None:
    cell0, cell2 = make_cell(cap=400, k=0), make_cell(cap=400, k=2, controls=("Wait",))
    out = run_sequential(engine(p_end=0.1), jobs_for([cell0, cell2]))
    half = len(out) // 2
    for a, b in zip(out[:half], out[half:], strict=True):
        assert not a.forced_end and a.n_ignored == 0  # p_end=0.1 ends well before 400
        assert b.n_ignored == 2 or b.forced_end
        assert b.thinking_ids[: a.thinking_tokens] == a.thinking_ids
        if b.n_ignored:
            assert b.thinking_text[a.thinking_tokens:].startswith("Wait")
            assert b.control_tokens == 4 * b.n_ignored


def test_control_does_not_fit_honours_end() -> None:
    # a control of 4 tokens plus one more token must fit under the cap; otherwise the end is honoured
    e = engine(p_end=1.0)  # every thinking request ends immediately
    out = run_sequential(e, jobs_for([make_cell(cap=4, k=3, controls=("Wait",))]))
    for g in out:
        assert g.thinking_tokens == 0 and g.n_ignored == 0 and not g.forced_end
    out = run_sequential(engine(p_end=1.0), jobs_for([make_cell(cap=5, k=3, controls=("Wait",))]))
    for g in out:
        assert g.n_ignored == 1 and g.thinking_tokens == 4 and g.control_tokens == 4


def test_out_of_vocab_ids_are_never_refed() -> None:
    e = engine(p_end=0.01, oov_rate=0.05)
    out = run_sequential(e, jobs_for([make_cell(cap=300, k=1)]))
    assert any(g.oov_ids for g in out)
    for g in out:
        assert all(0 <= x < e.tokenizer.vocab_size for x in g.thinking_ids + g.answer_ids)


def test_empty_rounds_never_reach_the_engine() -> None:
    e = engine(p_end=1.0)
    run_sequential(e, jobs_for([make_cell(cap=50, k=0)]))
    assert all(n > 0 for n in e.calls)


def test_context_overflow_is_an_error_before_generation() -> None:
    e = engine(max_model_len=100)
    try:
        run_sequential(e, jobs_for([make_cell(cap=80)]))
    except BudgetError as err:
        assert "max_model_len" in str(err)
    else:
        raise AssertionError("expected BudgetError")
    assert e.calls == []


def test_longer_thinking_helps_on_the_scripted_engine() -> None:
    from evalkit.grade import grade_answer

    short = run_sequential(engine(p_end=0.0), jobs_for([make_cell(cap=5)]))
    long = run_sequential(engine(p_end=0.0), jobs_for([make_cell(cap=100)]))
    acc = [sum(grade_answer(g.answer_text, j.problem.gold, "math").correct for g, j in zip(o, jobs_for([make_cell()]),
           strict=True)) for o in (short, long)]
    assert acc[1] > acc[0]


def test_custom_think_format_from_spec() -> None:
    from evalkit.spec import build_plan, parse_spec

    spec = """
model: scripted
tasks: [{name: math500, limit: 2}]
think_format: {start: "<think>\\n", end_tokens: ["</think>"], delimiter: "</think>\\n\\n", answer_prefix: "ANSWER:"}
sequential: {caps: [30], ignores: [1]}
"""
    plan = build_plan(parse_spec(spec))
    cell = plan.cells[0]
    fmt = __import__("evalkit.generate.formats", fromlist=["get_format"]).get_format(cell.think_format)
    assert fmt.end_tokens == ("</think>",) and fmt.answer_prefix == "ANSWER:"
    probs = plan.selections["math500"].problems()
    e = ScriptedEngine(golds={p.prompt: p.gold for p in probs}, p_end=0.0)
    out = run_sequential(e, [Job(cell, p, 0) for p in probs])
    for g in out:
        assert g.forced_end and g.thinking_tokens == 30
        assert g.response.count("</think>") == 1 and g.answer_text.startswith("ANSWER:")
    with pytest.raises(Exception, match="eos_ends_thinking"):
        parse_spec(spec.replace('end_tokens: ["</think>"], ', "eos_ends_thinking: false, "))


def test_rejection_sampling_fits_the_budget_and_counts_attempts() -> None:
    from evalkit.generate import run_rejection

    caps = (20, 60, 200)
    cells = [make_cell(cap=c) for c in caps]
    jobs = [Job(c, p, 0) for c in cells for p in PROBS]
    e = engine(p_end=0.03)
    out = run_rejection(e, jobs, max_attempts=8)
    for j, g in zip(jobs, out, strict=True):
        cap = j.cell.forcing.cap
        if g.provenance.get("rejection_exhausted"):
            assert g.forced_end and g.thinking_tokens == cap and g.provenance["attempts"] == 8
        else:
            assert not g.forced_end and g.thinking_tokens <= cap
            a = g.provenance["attempts"]
            # the accepted attempt is the first whose unforced thinking fits: earlier ones did not
            probe = make_cell(cap=cap + 1)
            earlier = run_sequential(engine(p_end=0.03), [Job(probe, j.problem, 0, s) for s in range(a)])
            assert all(x.forced_end or x.thinking_tokens > cap for x in earlier[:-1])
            assert earlier[-1].thinking_ids == g.thinking_ids
    # a larger cap never needs more attempts than a smaller one (same samples)
    by = {(j.problem.problem_id, j.cell.forcing.cap): g.provenance["attempts"] for j, g in zip(jobs, out, strict=True)}
    for p in PROBS:
        assert by[(p.problem_id, 20)] >= by[(p.problem_id, 60)] >= by[(p.problem_id, 200)]


def _rejection_in_waves(e, jobs, max_attempts):
    """Reference semantics: attempt a of every pending job is sample a, run as a wave of unforced
    probes (cap + 1); the first probe whose thinking ends within the cap is kept; after the last
    attempt the job is forced at its cap on that sample."""
    from dataclasses import replace

    done, pending = {}, list(range(len(jobs)))
    for a in range(max_attempts):
        probes = [Job(replace(jobs[i].cell, forcing=replace(jobs[i].cell.forcing, cap=jobs[i].cell.forcing.cap + 1)),
                      jobs[i].problem, jobs[i].seed, a) for i in pending]
        still = []
        for i, g in zip(pending, run_sequential(e, probes), strict=True):
            if not g.forced_end and g.thinking_tokens <= jobs[i].cell.forcing.cap:
                done[i] = (g, a + 1, False)
            else:
                still.append(i)
        pending = still
    last = [Job(jobs[i].cell, jobs[i].problem, jobs[i].seed, max_attempts - 1) for i in pending]
    for i, g in zip(pending, run_sequential(e, last), strict=True):
        done[i] = (g, max_attempts, True)
    return [done[i] for i in range(len(jobs))]


@settings(max_examples=25, deadline=None)
@given(
    caps=st.lists(st.integers(1, 80), min_size=1, max_size=3, unique=True),
    p_end=st.sampled_from([0.02, 0.05, 0.2]),
    max_attempts=st.integers(1, 5),
    order=st.sampled_from(["rounds", "random"]),
)
def test_event_driven_rejection_equals_attempt_waves(caps, p_end, max_attempts, order) -> None:
    from evalkit.generate import run_rejection

    jobs = jobs_for([make_cell(cap=c) for c in caps])
    e = engine(p_end, order=order)
    out = run_rejection(e, jobs, max_attempts=max_attempts)
    ref_engine = engine(p_end)
    ref = _rejection_in_waves(ref_engine, jobs, max_attempts)
    for g, (r, attempts, exhausted) in zip(out, ref, strict=True):
        assert (g.thinking_ids, g.answer_ids, g.forced_end) == (r.thinking_ids, r.answer_ids, r.forced_end)
        assert g.provenance["attempts"] == attempts and bool(g.provenance.get("rejection_exhausted")) == exhausted
    # no answer is generated for an attempt that does not fit (the waves answer every probe)
    assert e.generated_tokens <= ref_engine.generated_tokens


def test_forcing_and_rejection_in_one_run_equal_separate_runs() -> None:
    from evalkit.generate import run_rejection, run_trees

    seq = jobs_for([make_cell(cap=40, k=1, controls=("Wait",)), make_cell(cap=100)])
    rej = jobs_for([make_cell(cap=30), make_cell(cap=60)])
    both = run_trees(engine(0.05, order="random"), seq + rej, max_attempts=[0] * len(seq) + [4] * len(rej))
    apart = run_sequential(engine(0.05), seq) + run_rejection(engine(0.05), rej, max_attempts=4)
    for a, b in zip(both, apart, strict=True):
        assert (a.thinking_ids, a.answer_ids, a.forced_end, a.n_ignored) == (
            b.thinking_ids,
            b.answer_ids,
            b.forced_end,
            b.n_ignored,
        )
        assert a.provenance.get("attempts") == b.provenance.get("attempts")
    with pytest.raises(ValueError, match="max_attempts has 1 entries for 2 jobs"):
        run_trees(engine(), seq[:2], max_attempts=[1])
    with pytest.raises(ValueError, match="at least 1"):
        run_rejection(engine(), rej, max_attempts=0)


def test_rejection_needs_a_cap() -> None:
    from evalkit.generate import run_rejection

    with pytest.raises(BudgetError):
        run_rejection(engine(), [Job(make_cell(cap=None), PROBS[0], 0)])


def test_suppressed_delimiters_are_counted_on_the_scripted_engine() -> None:
    out = run_sequential(engine(p_end=0.2), jobs_for([make_cell(cap=200, min_tokens=40)]))
    assert all(g.n_suppressed is not None for g in out)
    assert sum(g.n_suppressed for g in out) > 0  # p_end=0.2: the model tries to stop well before 40
    none = run_sequential(engine(p_end=0.2), jobs_for([make_cell(cap=200, min_tokens=0)]))
    assert all(g.n_suppressed == 0 for g in none)
