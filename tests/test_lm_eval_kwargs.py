"""s1's lm-eval gen_kwargs -> evalkit settings, and splitting s1-style responses (no lm-eval needed)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.generate.formats import PRESETS, get_format
from evalkit.integrations.lmeval.gen_kwargs import (
    S1_FORK_FORMAT,
    GenKwargsError,
    LmEvalGen,
    apply_until,
    format_key,
    parse_gen_kwargs,
)
from evalkit.integrations.lmeval.io import NO_THINKING, cell_from_key, split_response
from tests.conftest import make_cell


def test_s1_budget_forcing_keywords_map_onto_forcing() -> None:
    sp = parse_gen_kwargs({"until": ["<|im_end|>"], "max_gen_toks": 32768, "max_tokens_thinking": 2000,
                           "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"})
    assert sp.thinking and sp.method == "sequential"
    assert (sp.cap, sp.n_ignore, sp.controls) == (2000, 2, ("Wait",))
    assert sp.min_tokens == 1  # s1 sets min_tokens=1 when ignoring end attempts
    assert sp.fmt == S1_FORK_FORMAT
    assert (sp.fmt.start, sp.fmt.delimiter, sp.fmt.end_tokens) == ("<|im_start|>think", "<|im_start|>answer",
                                                                  ("<|im_start|>",))
    assert sp.fmt.answer_prefix == "\nFinal Answer:"  # s1 writes thinking_end + "\nFinal Answer:" on the cap
    assert sp.temperature == 0.0 and sp.until == ("<|im_end|>",) and sp.max_gen_toks == 32768


def test_auto_no_keyword_and_plain() -> None:
    assert parse_gen_kwargs({"max_tokens_thinking": "auto"}).cap is None
    assert parse_gen_kwargs({"max_tokens_thinking": "AUTO"}).cap is None
    plain = parse_gen_kwargs({"until": ["\n\n"], "max_gen_toks": 64})
    assert not plain.thinking and plain.max_gen_toks == 64
    # any thinking keyword switches the thinking phase on (s1's rule); the cap is then `auto`
    only_ignore = parse_gen_kwargs({"thinking_n_ignore": 1})
    assert only_ignore.thinking and only_ignore.cap is None and only_ignore.controls == ("",)


def test_format_overrides_and_presets() -> None:
    sp = parse_gen_kwargs({"max_tokens_thinking": 100, "thinking_start": "<think>\n", "thinking_end": "</think>\n\n",
                           "until_thinking": "</think>", "until_thinking_2": "<|im_start|>"})
    assert sp.fmt.start == "<think>\n" and sp.fmt.delimiter == "</think>\n\n"
    assert sp.fmt.end_tokens == ("</think>", "<|im_start|>") and sp.fmt.name == "lm-eval"
    assert get_format(format_key(sp.fmt)) == sp.fmt
    # restating a default is not an edit
    same = parse_gen_kwargs({"max_tokens_thinking": 100, "thinking_start": "<|im_start|>think"})
    assert same.fmt == S1_FORK_FORMAT
    preset = parse_gen_kwargs({"think_format": "think_tags", "max_tokens_thinking": 50})
    assert preset.fmt == PRESETS["think_tags"] and format_key(preset.fmt) == "think_tags"
    base = parse_gen_kwargs({"max_tokens_thinking": 50}, default_format=PRESETS["s1"])
    assert base.fmt == PRESETS["s1"]


def test_sampling_keys() -> None:
    sp = parse_gen_kwargs({"max_tokens_thinking": 10, "temperature": 1, "top_p": 0.9, "seed": 3, "do_sample": True})
    assert (sp.temperature, sp.top_p, sp.seed) == (1.0, 0.9, 3)
    assert parse_gen_kwargs({"temperature": 0.7, "do_sample": False}).temperature == 0.0
    assert parse_gen_kwargs({"max_new_tokens": 77}).max_gen_toks == 77
    assert parse_gen_kwargs({"max_gen_toks": 5, "max_tokens": 9}).max_gen_toks == 5  # lm-eval's priority


def test_rejection() -> None:
    sp = parse_gen_kwargs({"max_tokens_thinking": 3500, "rejection_sample": "true", "temperature": 1})
    assert sp.rejection and sp.method == "rejection" and sp.max_attempts == 16
    assert parse_gen_kwargs({"max_tokens_thinking": 10, "rejection_sample": True,
                             "rejection_max_attempts": 4}).max_attempts == 4
    with pytest.raises(GenKwargsError, match="rejection_sample with thinking_n_ignore"):
        parse_gen_kwargs({"max_tokens_thinking": 10, "rejection_sample": True, "thinking_n_ignore": 1})


@pytest.mark.parametrize(("kw", "match"), [
    ({"top_k": 20}, "top_k: not supported"),
    ({"temperature_thinking": 0.5}, "same settings"),
    ({"max_tokens_thinking": "lots"}, "max_tokens_thinking='lots': expected an integer"),
    ({"max_tokens_thinking": 0}, "must be >= 1"),
    ({"thinking_n_ignore": -1}, "thinking_n_ignore=-1"),
    ({"rejection_sample": "maybe"}, "expected true or false"),
    ({"until": 5}, "until=5"),
    ({"top_p": 0}, "top_p=0.0"),
    ({"think_format": "nonsense"}, "think_format='nonsense'"),
])
def test_refused_gen_kwargs_name_the_key(kw: dict, match: str) -> None:
    with pytest.raises(GenKwargsError, match=match):
        parse_gen_kwargs(kw)


def test_budget() -> None:
    sp = parse_gen_kwargs({"max_gen_toks": 1000, "max_tokens_thinking": 300})
    assert sp.budget(prompt_tokens=100, forced_tokens=5, max_model_len=4096) == (300, 1000)
    assert sp.budget(prompt_tokens=100, forced_tokens=5, max_model_len=600) == (300, 195)  # context-bound answer
    with pytest.raises(GenKwargsError, match="does not fit"):
        sp.budget(prompt_tokens=100, forced_tokens=5, max_model_len=405)
    auto = parse_gen_kwargs({"max_gen_toks": 1000, "max_tokens_thinking": "auto"})
    assert auto.budget(100, 5, 4096) == (1000 - 5 - 100, 100)  # s1 leaves 100 tokens for the answer
    assert auto.budget(100, 5, 600) == (500 - 5 - 100, 100)
    assert parse_gen_kwargs({"max_gen_toks": 1000, "max_tokens_thinking": "auto",
                             "answer_max_tokens": 40}).budget(100, 5, 4096) == (955, 40)
    rej = parse_gen_kwargs({"max_gen_toks": 1000, "max_tokens_thinking": 300, "rejection_sample": True})
    assert rej.budget(100, 5, 410) == (300, 4)  # the probe token past the cap is reserved
    with pytest.raises(GenKwargsError, match="no thinking tokens"):
        auto.budget(100, 5, 200)


@settings(max_examples=60, deadline=None)
@given(cap=st.one_of(st.none(), st.integers(1, 5000)), k=st.integers(0, 4),
       ctl=st.sampled_from(["Wait", "Hmm", ""]), temp=st.sampled_from([0.0, 0.6, 1.0]),
       fmt=st.sampled_from(["s1", "think_tags", "plain", format_key(S1_FORK_FORMAT)]),
       min_tokens=st.integers(0, 3), until=st.lists(st.sampled_from(["\n\n", "Problem:", "</s>"]), max_size=2))
def test_gen_kwargs_round_trip(cap, k, ctl, temp, fmt, min_tokens, until) -> None:
    sp = LmEvalGen(thinking=True, fmt=get_format(fmt), cap=cap, n_ignore=k, controls=(ctl,) if k else (),
                   min_tokens=min_tokens, rejection=False, max_attempts=16, temperature=temp, top_p=1.0,
                   max_gen_toks=512, answer_max_tokens=None, until=tuple(until), seed=None)
    back = parse_gen_kwargs(sp.gen_kwargs())
    assert replace(back, raw={}) == sp


def test_cell_round_trips_through_gen_kwargs_and_key() -> None:
    cell = make_cell(cap=64, k=2, controls=("Wait",), min_tokens=0)
    assert cell_from_key(cell.key).cell_id == cell.cell_id
    sp = parse_gen_kwargs(LmEvalGen.from_cell(cell).gen_kwargs())
    assert (sp.cap, sp.n_ignore, sp.controls, sp.min_tokens) == (64, 2, ("Wait",), 0)
    assert sp.fmt == PRESETS["s1"] and sp.temperature == 0.7


def test_apply_until() -> None:
    assert apply_until("abc Problem: x\n\ny", ["\n\n", "Problem:"]) == "abc "
    assert apply_until("abc", []) == "abc" and apply_until("abc", [""]) == "abc"


def test_split_s1_responses() -> None:
    f = S1_FORK_FORMAT
    nat = split_response("<|im_start|>think\nso 12.<|im_start|>answer\nAnswer: $\\boxed{12}$", f)
    assert (nat.thinking_text, nat.answer_text, nat.forced_end, nat.thinking_end) == (
        "\nso 12.", "\nAnswer: $\\boxed{12}$", False, "delimiter")
    assert nat.response == "\nso 12.<|im_start|>answer\nAnswer: $\\boxed{12}$" and nat.started
    forced = split_response("<|im_start|>think\nlong\n<|im_start|>answer\nFinal Answer: 7", f)
    assert forced.forced_end and forced.thinking_end == "cap"
    assert forced.answer_text == "\nFinal Answer: 7" and forced.generated_answer == " 7"
    assert forced.forced_text == "<|im_start|>answer\nFinal Answer:"
    unclosed = split_response("<|im_start|>think\nnever ends", f)
    assert unclosed.answer_text == "" and unclosed.thinking_end is None and not unclosed.forced_end
    no_start = split_response("x<|im_start|>answer y", f)
    assert not no_start.started and no_start.thinking_text == "x" and no_start.answer_text == " y"
    plain = split_response("The answer is 4.", NO_THINKING)
    assert plain.thinking_text == "" and plain.answer_text == "The answer is 4."


def test_s1_fork_format_reserves_the_answer_prefix_for_the_cap() -> None:
    """s1's fork appends thinking_end alone when the thinking stopped by itself (end-of-sequence too)."""
    import json

    from evalkit.generate.forcing import Job, run_sequential
    from evalkit.generate.scripted import ScriptedEngine
    from tests.conftest import make_problems

    base = {"start": "<|im_start|>think", "end_tokens": [], "delimiter": "<|im_start|>answer",
            "answer_prefix": "\nFinal Answer:"}  # no end token: only end-of-sequence ends the thinking
    probs = make_problems(6)
    out = {}
    for on_eos in (True, False):
        fmt = json.dumps({**base, "prefix_on_eos": on_eos})
        cell = make_cell(cap=80, fmt=fmt)
        out[on_eos] = run_sequential(ScriptedEngine(p_end=0.05), [Job(cell, p, 0) for p in probs])
    eos_ended = [i for i, g in enumerate(out[True]) if g.thinking_end == "eos"]
    capped = [i for i, g in enumerate(out[True]) if g.forced_end]
    assert eos_ended and capped
    for i in eos_ended:
        assert out[True][i].answer_text.startswith("\nFinal Answer:")
        assert not out[False][i].answer_text.startswith("\nFinal Answer:")
        assert out[False][i].response.startswith(out[False][i].thinking_text + "<|im_start|>answer")
        # the import reads the prefix as a forced end: right for s1's layout
        assert split_response("<|im_start|>think" + out[False][i].response, S1_FORK_FORMAT).thinking_end == "delimiter"
    for i in capped:
        assert out[False][i].answer_text.startswith("\nFinal Answer:")
        assert split_response("<|im_start|>think" + out[False][i].response, S1_FORK_FORMAT).thinking_end == "cap"
    assert not S1_FORK_FORMAT.prefix_on_eos
