"""lm-eval sample logs: export -> import round trip, s1-layout fixture import, bad input (no lm-eval needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.integrations.lmeval.io import export_samples, import_samples
from evalkit.integrations.lmeval.samples import SamplesError, hash_string, read_samples
from evalkit.pipeline import run_sweep, scripted_factory
from evalkit.pipeline.observer import Collect
from evalkit.spec import build_plan, parse_spec
from evalkit.store import ResultStore

FIXTURE = Path(__file__).parent / "data" / "lm_eval_s1"
FORCING2K = next((FIXTURE / "forcing2k").glob("*/samples_*.jsonl"))
IGNORE1 = next((FIXTURE / "forcingignore1wait").glob("*/samples_*.jsonl"))

SPEC = """\
name: mini
model: {id: scripted-model, flops_config: smollm2-135m}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 5
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 40}
sequential:
  caps: [40, 120]
  ignores: [0, 2]
  controls: [Wait]
parallel: {n: 3, caps: [80]}
rejection: {caps: [60], max_attempts: 3}
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    run_sweep(build_plan(parse_spec(SPEC)), root, engine=scripted_factory,
              resolve=lambda m: (m, {"kind": "scripted"}), observer=Collect())
    return root / "mini"


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_export_import_round_trip_is_exact(sweep: Path, tmp_path: Path) -> None:
    res = invoke("export", "lm-eval", sweep, "--out", tmp_path / "lm")
    assert res.exit_code == 0, res.output
    files = sorted((tmp_path / "lm").glob("samples_math500_*.jsonl"))
    orig = ResultStore(sweep).read_rows()
    assert len(files) == orig.groupby(["cell_id", "seed"]).ngroups == 12
    # the files are lm-eval's layout
    line = json.loads(files[0].read_text().splitlines()[0])
    for key in ("doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash",
                "prompt_hash", "target_hash", "exact_match"):
        assert key in line
    assert line["prompt_hash"] == hash_string(line["arguments"]["gen_args_0"]["arg_0"])
    assert line["filtered_resps"] == [line["resps"][0][0]] and line["target_hash"] == hash_string(line["target"])
    par = next(json.loads(x) for f in files for x in f.read_text().splitlines()
               if json.loads(x)["evalkit"]["cell"].get("method") == "parallel")
    assert len(par["resps"][0]) == 3  # parallel samples are lm-eval's repeats
    index = json.loads((tmp_path / "lm" / "index.json").read_text())
    assert set(index) == {f.name for f in files}

    res = invoke("import", "lm-eval", *files, "--task", "math500", "--out", tmp_path / "back", "--no-report")
    assert res.exit_code == 0, res.output
    back = ResultStore(tmp_path / "back").read_rows()
    cols = [c for c in orig.columns if c not in ("sweep", "provenance")]
    pd.testing.assert_frame_equal(orig[cols], back[cols])  # correctness, token counts, texts, cells, seeds
    assert (back["sweep"] == "back").all()
    assert json.loads(back["provenance"][0])["lm_eval_import"]["file"].endswith(".jsonl")
    assert "agrees with the files' exact_match on 60 of 60 docs" in res.output  # 6 cells x 2 seeds x 5 problems
    assert "token counts: exact" in res.output
    cells = json.loads((tmp_path / "back" / "cells.json").read_text())
    assert cells == json.loads((sweep / "cells.json").read_text())
    # the imported directory reports and exports again to the same samples
    assert invoke("report", tmp_path / "back").exit_code == 0
    export_samples(tmp_path / "back", tmp_path / "lm2")
    for f in files:
        a = [json.loads(x) for x in f.read_text().splitlines()]
        b = [json.loads(x) for x in (tmp_path / "lm2" / f.name).read_text().splitlines()]
        for x, y in zip(a, b, strict=True):
            for s in x["evalkit"]["samples"] + y["evalkit"]["samples"]:
                s.pop("provenance")
        assert a == b


def test_s1_fixture_imports_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "s1"
    res = invoke("import", "lm-eval", FORCING2K, IGNORE1, "--task", "aime24", "--out", out)
    assert res.exit_code == 0, res.output
    assert "7 rows in 2 cells" in res.output and "6 docs matched to aime24 problems, 1 not" in res.output
    assert "agrees with the files' exact_match on 7 of 7 docs" in res.output
    assert "token counts: unknown" in res.output
    df = ResultStore(out).read_rows()
    assert set(df["model"]) == {"simplescaling/s1-32B"}  # from results_<date>.json beside the samples
    f2k = df[df["cap"] == 2000].set_index("problem_id")
    assert list(f2k.index) == ["2024-I-1", "2024-I-2", "2024-I-3", "doc3"]  # matched by text; doc 3 was edited
    assert list(f2k["correct"]) == [True, True, False, False]
    assert list(f2k["extracted"]) == ["204", "25", "810", "117"]
    assert list(f2k["forced_end"]) == [False, True, False, True]  # "\nFinal Answer:" right after the delimiter
    assert list(f2k["thinking_end"]) == ["delimiter", "cap", "delimiter", "cap"]
    assert f2k["thinking_tokens"].isna().all() and (f2k["n_ignored"] == 0).all()
    assert f2k.loc["2024-I-1", "thinking_text"].startswith("\nLet me set up")
    assert f2k.loc["2024-I-1", "answer_text"] == "\nAnswer: The walk takes $\\boxed{204}$ minutes."
    wait = df[df["n_ignore"] == 1]
    assert wait["cap"].isna().all() and (wait["control"] == "Wait").all() and wait["correct"].all()
    assert wait["n_ignored"].isna().all()  # a "Wait" in the text may be the model's own: unknown
    prov = json.loads(wait["provenance"].iloc[0])["lm_eval_import"]
    assert prov["cap"] == "auto" and prov["gen_kwargs"]["thinking_n_ignore_str"] == "Wait"
    m = json.loads((out / "manifest.json").read_text())
    assert m["imported"]["task"] == "aime24" and len(m["imported"]["files"]) == 2
    assert m["imported"]["files"][0]["lm_eval_task"] == "aime24_nofigures"
    report = (out / "report.md").read_text()
    assert "| aime24 | 2000 | 0 | - | 4 | 1 | 4 | 50.0% |" in report
    assert invoke("figures", out).exit_code == 0
    res = invoke("claims", out, "--out", tmp_path / "claims")
    assert res.exit_code == 0 and "thinking token counts are unknown" in res.output


def test_tokenizer_recounts(tmp_path: Path) -> None:
    from evalkit.generate.scripted import CharTokenizer

    res = invoke("import", "lm-eval", FORCING2K, "--task", "aime24", "--out", tmp_path / "t", "--tokenizer", "scripted",
                 "--no-report")
    assert res.exit_code == 0, res.output
    df = ResultStore(tmp_path / "t").read_rows()
    tok = CharTokenizer()
    for (_, r), s in zip(df.sort_values("problem_id").iterrows(), sorted(read_samples(FORCING2K),
                                                                        key=lambda s: s.doc_id), strict=True):
        assert r.thinking_tokens == len(tok.encode(r.thinking_text))
        assert r.prompt_tokens == len(tok.encode(s.context + "<|im_start|>think"))
        assert r.forced_tokens == 1 + len("answer") + (len("\nFinal Answer:") if r.forced_end else 0)
        assert r.answer_tokens == len(r.answer_text) - (len("\nFinal Answer:") if r.forced_end else 0)
    assert "token counts: recounted" in res.output


def _copy(tmp_path: Path, edit) -> Path:
    lines = FORCING2K.read_text().splitlines()
    edit(lines)
    p = tmp_path / FORCING2K.name
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ls: ls.__setitem__(2, ls[2][:40]), ":3: not JSON"),
        (
            lambda ls: ls.__setitem__(
                1, json.dumps({k: v for k, v in json.loads(ls[1]).items() if k not in ("resps", "filtered_resps")})
            ),
            ":2: missing field 'resps'",
        ),
        (
            lambda ls: ls.__setitem__(0, json.dumps({k: v for k, v in json.loads(ls[0]).items() if k != "doc_id"})),
            ":1: missing field 'doc_id'",
        ),
        (lambda ls: ls.__setitem__(3, json.dumps({**json.loads(ls[3]), "resps": "oops"})), ":4: field 'resps'"),
        (
            lambda ls: ls.__setitem__(
                0,
                json.dumps(
                    {
                        **json.loads(ls[0]),
                        "arguments": {"gen_args_0": {"arg_0": "x", "arg_1": {"max_tokens_thinking": 2000, "top_k": 3}}},
                    }
                ),
            ),
            ":2: field 'arguments' gen_kwargs differ",
        ),
        (
            lambda ls: [
                ls.__setitem__(
                    i,
                    json.dumps(
                        {
                            **json.loads(ls[i]),
                            "arguments": {
                                "gen_args_0": {"arg_0": "x", "arg_1": {"max_tokens_thinking": 2000, "top_k": 3}}
                            },
                        }
                    ),
                )
                for i in range(len(ls))
            ],
            ":1: field 'arguments' (gen_kwargs): gen_kwargs top_k: not supported",
        ),
        (
            lambda ls: ls.__setitem__(4, json.dumps({**json.loads(ls[4]), "target": None, "doc": {}})),
            ":5: missing field 'target'",
        ),
        (lambda ls: ls.append(ls[2]), ":6: doc_id 1 appears twice (line 3)"),
    ],
)
def test_bad_input_names_file_line_and_field_and_writes_nothing(tmp_path: Path, edit, message: str) -> None:
    bad = _copy(tmp_path, edit)
    out = tmp_path / "results" / "bad"
    res = invoke("import", "lm-eval", FORCING2K, bad, "--task", "aime24", "--out", out)
    assert res.exit_code == 2
    assert f"{bad}{message}" in " ".join(res.output.split()), res.output
    assert not out.exists()
    assert not list((tmp_path / "results").glob(".*")) if (tmp_path / "results").exists() else True


def test_unknown_task_existing_out_and_no_half_written_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = invoke("import", "lm-eval", FORCING2K, "--task", "aime", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "unknown task 'aime'" in res.output and not (tmp_path / "x").exists()
    (tmp_path / "taken").mkdir()
    res = invoke("import", "lm-eval", FORCING2K, "--task", "aime24", "--out", tmp_path / "taken")
    assert res.exit_code == 2 and "exists" in res.output
    # a failure while writing leaves neither the results directory nor a temporary one
    import evalkit.integrations.lmeval.io as io

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(io.ResultStore, "write_manifest", boom)
    with pytest.raises(OSError, match="disk full"):
        import_samples([FORCING2K], "aime24", tmp_path / "half", log=lambda m: None)
    assert not (tmp_path / "half").exists() and not list(tmp_path.glob(".half*"))
    monkeypatch.undo()
    # --force replaces an existing directory whole
    import_samples([FORCING2K], "aime24", tmp_path / "taken", force=True, log=lambda m: None)
    assert len(ResultStore(tmp_path / "taken").read_rows()) == 4 and not list(tmp_path.glob(".taken*"))


def test_reader_layouts(tmp_path: Path) -> None:
    """The older list layout of `arguments`, flat resps, and repeats; duplicate seeds are refused."""
    rec = json.loads(FORCING2K.read_text().splitlines()[0])
    old = {**rec, "arguments": [[rec["arguments"]["gen_args_0"]["arg_0"], rec["arguments"]["gen_args_0"]["arg_1"]]],
           "resps": [rec["resps"][0][0]]}
    p = tmp_path / "samples_aime24_nofigures_x.jsonl"
    p.write_text(json.dumps(old) + "\n")
    (s,) = read_samples(p)
    assert s.context.startswith("<|im_start|>system") and s.gen_kwargs["max_tokens_thinking"] == 2000
    assert s.responses == [rec["resps"][0][0]] and s.metrics == {"exact_match": 1, "extracted_answers": ["204"]}
    with pytest.raises(SamplesError, match="no samples"):
        (tmp_path / "empty.jsonl").write_text("\n")
        read_samples(tmp_path / "empty.jsonl")
    # two copies of one run with an explicit seed cannot both be seed 3
    kw = {**rec["arguments"]["gen_args_0"]["arg_1"], "seed": 3}
    seeded = {**rec, "arguments": {"gen_args_0": {**rec["arguments"]["gen_args_0"], "arg_1": kw}}}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(seeded) + "\n")
    shutil.copy(a, b)
    res = invoke("import", "lm-eval", a, b, "--task", "aime24", "--out", tmp_path / "dup")
    assert res.exit_code == 2 and "seed 3" in res.output
    # without seeds, copies of one setting are seeds 0, 1, ...
    res = invoke("import", "lm-eval", FORCING2K, FORCING2K, "--task", "aime24", "--out", tmp_path / "seeds",
                 "--no-report")
    assert res.exit_code == 0, res.output
    assert sorted(set(ResultStore(tmp_path / "seeds").read_rows()["seed"])) == [0, 1]
