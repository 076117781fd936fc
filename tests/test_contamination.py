"""Contamination audit (issue #10): normalisation, n-gram index, perturbations, answer leakage,
training-file and exclude-list errors, the CLI, the offline encoder, and `report --exclude` with the
paired full-vs-clean difference. Calibration: tests/test_contamination_calibration.py."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evalkit.analyze import subset_difference
from evalkit.cli import app
from evalkit.contamination import TrainingDataError, TrainItem, audit, read_training
from evalkit.contamination.leak import final_statements, states_answer
from evalkit.contamination.ngrams import MIN_WORDS, NgramIndex
from evalkit.contamination.normalize import canonical_variables, embedding_text, words
from evalkit.contamination.perturb import (
    KINDS,
    change_numbers,
    paraphrase,
    rename_variables,
    reorder_sentences,
)
from evalkit.pipeline.observer import Collect
from evalkit.spec.exclude import ExcludeError, format_exclude, parse_exclude, read_exclude
from evalkit.spec.tasks import load_questions

MATH = load_questions("math500")


# --- normalisation -------------------------------------------------------------------------------

def test_words_strip_latex_and_number_formatting() -> None:
    assert words(r"$\frac{1}{2}$") == words("1/2") == ["1", "2"]
    assert words(r"$\dfrac{3}{4}$") == words(r"$\tfrac34$".replace("34", "{3}{4}"))
    assert words("It costs $1{,}000.50$ or 1,000.5 dollars") == ["it", "costs", "1000.5", "or", "1000.5", "dollars"]
    assert words(r"$\left( x \right)$ and $\sqrt{2}$") == ["x", "and", "sqrt", "2"]
    assert words(r"\textbf{Find} $2x$.") == ["find", "2", "x"]
    assert words("0.50 and 3.0 and 007") == ["0.5", "and", "3", "and", "7"]
    assert words(r"$50\%$") == words("50%") == ["50", "percent"]
    assert words(r"[asy]draw((0,0)--(1,1));[/asy] Find it.") == ["find", "it"]
    assert words(r"\begin{align*} a &= b \end{align*}") == ["a", "b"]


def test_canonical_variables_undo_renaming() -> None:
    rng = random.Random(3)
    for q in MATH[:120]:
        renamed = rename_variables(q.text, rng)
        assert canonical_variables(renamed) == canonical_variables(q.text)
        assert embedding_text(renamed) == embedding_text(q.text)
    assert canonical_variables(r"Let $a+b=3$ and $\text{and}$ $b$") == r"Let $x+y=3$ and $\text{and}$ $y$"


# --- n-gram index --------------------------------------------------------------------------------

def _reference(bench: list[list[str]], train: list[list[str]], n: int) -> dict[tuple[int, int], tuple[int, float]]:
    out = {}
    for b, bw in enumerate(bench):
        if len(bw) < MIN_WORDS:
            continue
        L = min(n, len(bw))
        grams = {tuple(bw[i:i + L]) for i in range(len(bw) - L + 1)}
        for t, tw in enumerate(train):
            have = {tuple(tw[i:i + L]) for i in range(len(tw) - L + 1)}
            shared = len(grams & have)
            if shared:
                out[(t, b)] = (shared, shared / len(grams))
    return out


@pytest.mark.parametrize("n", [3, 8, 13])
def test_ngram_index_matches_brute_force(n: int) -> None:
    rng = random.Random(n)
    vocab = [f"w{i}" for i in range(12)]  # a small vocabulary makes many collisions
    bench = [[rng.choice(vocab) for _ in range(rng.randint(2, 40))] for _ in range(40)]
    train = [[rng.choice(vocab) for _ in range(rng.randint(0, 60))] for _ in range(120)]
    for t in range(0, 120, 7):  # plant copies and fragments
        b = bench[t % 40]
        train[t] = train[t][:5] + b[rng.randint(0, 3):] + train[t][5:9]
    got = NgramIndex(bench, n).match(train)
    ref = _reference(bench, train, n)
    mine = {(int(t), int(b)): (int(s), float(c)) for t, b, s, c in
            zip(got.train, got.bench, got.shared, got.containment, strict=True)}
    assert mine.keys() == ref.keys()
    for k, (s, c) in ref.items():
        assert mine[k][0] == s and abs(mine[k][1] - c) < 1e-12
    assert (got.bench_ngrams[[len(b) < MIN_WORDS for b in bench]] == 0).all()


def test_ngram_windows_do_not_cross_items() -> None:
    bench = [list("abcdefghij")]
    train = [list("abcde"), list("fghij")]  # the problem's words split over two items
    assert len(NgramIndex(bench, 8).match(train).train) == 0
    assert NgramIndex(bench, 8).match([list("xxabcdefghijxx")]).containment.tolist() == [1.0]


# --- perturbations and leakage -------------------------------------------------------------------

def test_perturbations_are_seeded_and_change_what_they_say() -> None:
    q = next(q for q in MATH if "$x$" in q.text and any(c.isdigit() for c in q.text) and ". " in q.text)
    for kind in KINDS:
        assert paraphrase(q.text, kind, random.Random(1)) == paraphrase(q.text, kind, random.Random(1))
    assert (
        change_numbers("Alice has 3 apples and $x^2 = 40$.", random.Random(0)) != "Alice has 3 apples and $x^2 = 40$."
    )
    assert "^2" in change_numbers("$x^2 = 40$", random.Random(0))  # exponents stay
    for seed in range(5):
        r = reorder_sentences("First A. Then B. What is C?", random.Random(seed))
        assert r != "First A. Then B. What is C?"
        assert sorted(r.replace("?", ".").rstrip(".").split(". ")) == ["First A", "Then B", "What is C"]
    assert reorder_sentences("If $x=2$, what is $x+1$?", random.Random(0)) == "What is $x+1$, if $x=2$?"
    with pytest.raises(ValueError, match="unknown perturbation"):
        paraphrase("x", "shuffle", random.Random(0))


def test_answer_leak_detection() -> None:
    assert states_answer(r"so it takes $\boxed{204}$ minutes", "204") == "204"
    assert states_answer("The answer is 204.", "204") is not None
    assert states_answer("We get 204 on the way. The answer is 12.", "204") is None  # mentioned, not stated
    assert states_answer(r"Final answer: $\dfrac{1}{2}$", r"\frac{1}{2}") is not None
    assert states_answer("Answer: 0.5", r"\frac{1}{2}") is not None  # by value
    assert states_answer(r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)") is not None
    assert states_answer(r"\boxed{1{,}000}", "1000") is not None
    assert states_answer(r"\boxed{\sqrt{3}}", "3") is None
    assert states_answer("...so option two: the reaction is exothermic overall.",
                         "the reaction is exothermic overall") is not None
    assert final_statements(r"\boxed{a} then \boxed{b}")[0] == "b"


# --- inputs --------------------------------------------------------------------------------------

def test_training_file_errors_name_the_line(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"q": "a"}\n\n{"q": "b", "t": ["x", "y"]}\nnot json\n')
    with pytest.raises(TrainingDataError, match=r"t.jsonl:4: not JSON"):
        read_training(f, "q")
    f.write_text('{"q": "a", "t": "x"}\n{"question": "b"}\n')
    with pytest.raises(TrainingDataError, match=r"t.jsonl:2: missing field 'q'"):
        read_training(f, "q")
    f.write_text('{"q": 3}\n')
    with pytest.raises(TrainingDataError, match=r"t.jsonl:1: field 'q' must be a string"):
        read_training(f, "q")
    f.write_text('{"q": "a", "t": ["x", "y"]}\n[1]\n')
    with pytest.raises(TrainingDataError, match=r"t.jsonl:2: a record must be a JSON object"):
        read_training(f, "q", "t")
    f.write_text('{"q": "a", "t": ["x", "y"]}\n\n{"q": "b", "t": "z"}\n')
    items = read_training(f, "q", "t")
    assert [(i.line, i.trace) for i in items] == [(1, "x\ny"), (3, "z")]


def test_exclude_list_format(tmp_path: Path) -> None:
    text = ("# flagged\nmath500/test/algebra/1004.json  # 8-gram\n\naime24/2024-I-1\n"
            "aime24/2024-I-1\nmath500/test/algebra/24.json\t# again\n")
    entries = parse_exclude(text, "x.txt")
    assert [(e.task, e.problem_id, e.line) for e in entries] == [
        ("math500", "test/algebra/1004.json", 2), ("aime24", "2024-I-1", 4), ("math500", "test/algebra/24.json", 6)]
    with pytest.raises(ExcludeError, match=r"x.txt:2: expected 'task/problem_id'"):
        parse_exclude("aime24/2024-I-1\naime24 2024-I-2\n", "x.txt")
    f = tmp_path / "ex.txt"
    f.write_text("aime24/2024-I-1\nmath500/test/algebra/nope.json\n")
    with pytest.raises(ExcludeError, match=r"ex.txt:2: unknown problem id 'test/algebra/nope.json' of task math500"):
        read_exclude(f)
    f.write_text("aime24/2024-I-1\nmystery/1\n")
    with pytest.raises(ExcludeError, match=r"ex.txt:2: unknown task 'mystery'"):
        read_exclude(f)
    f.write_text(format_exclude([("aime24", "2024-I-1", "embedding"), ("gpqa_diamond", "recX", "")], ["hdr"]))
    warnings: list[str] = []
    got = read_exclude(f, warn=warnings.append)  # gated GPQA without a CSV: kept, with a warning
    assert [e.key for e in got] == ["aime24/2024-I-1", "gpqa_diamond/recX"] and "not checked" in warnings[0]
    assert read_exclude(f, extra_ids={"gpqa_diamond": ["recX"]}, warn=warnings.append)
    with pytest.raises(ExcludeError, match="ex.txt:3: unknown problem id 'recX'"):
        read_exclude(f, extra_ids={"gpqa_diamond": ["recY"]})


# --- audit and CLI -------------------------------------------------------------------------------

def _write_train(path: Path) -> list[dict]:
    aime = load_questions("aime24")
    rng = random.Random(0)
    rows = [
        {"question": "Lorem ipsum: a recipe for bread with flour, water, yeast and salt, baked for an hour.",
         "trace": "Bake it. The answer is 204."},
        {"question": "Solve this. " + aime[0].text, "trace": f"... so the total is $\\boxed{{{aime[0].answer}}}$."},
        {"question": MATH[10].text, "trace": "no idea, answer is -1"},
        {"question": paraphrase(aime[1].text, "all", rng), "trace": f"Final answer: {aime[1].answer}"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_audit_ngrams_only(tmp_path: Path) -> None:
    f = tmp_path / "train.jsonl"
    _write_train(f)
    items = read_training(f, "question", "trace")
    res = audit(items, load_questions("aime24") + MATH, encoder=None)
    keys = {(fl.task, fl.problem_id, fl.train_line) for fl in res.flags}
    assert ("aime24", "2024-I-1", 2) in keys and ("math500", MATH[10].problem_id, 3) in keys
    assert not any(fl.train_line == 1 for fl in res.flags)
    copy = next(fl for fl in res.flags if fl.train_line == 2 and fl.problem_id == "2024-I-1")
    assert copy.ngram_containment[13] == 1.0 and copy.leaked_answer is not None and copy.similarity is None
    assert copy.shared_ngrams and copy.shared_ngrams[0] in " ".join(words(load_questions("aime24")[0].text))
    assert res.counts["aime24"].leaked >= 1 and res.counts["math500"].leaked == 0
    assert set(res.thresholds) == {"8-gram", "13-gram"}


def test_cli_with_embeddings_catches_the_paraphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # benchmark embeddings cached here
    f = tmp_path / "train.jsonl"
    _write_train(f)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["contamination", str(f), "--field", "question", "--trace-field", "trace",
                                   "--benchmarks", "aime24,math500", "--out", str(out)])
    assert res.exit_code == 0, res.output
    pairs = [json.loads(line) for line in (out / "flagged.jsonl").read_text().splitlines()]
    para = [p for p in pairs if p["train_line"] == 4 and p["problem_id"] == "2024-I-2"]
    assert para and "embedding" in para[0]["methods"] and "13-gram" not in para[0]["methods"]
    assert para[0]["similarity"] >= 0.737 and para[0]["leaked_answer"] is not None
    assert not any(p["train_line"] == 1 for p in pairs)
    entries = read_exclude(out / "flagged.txt")
    assert {"aime24/2024-I-1", "aime24/2024-I-2", f"math500/{MATH[10].problem_id}"} <= {e.key for e in entries}
    res = CliRunner().invoke(app, ["contamination", str(f), "--field", "question", "--benchmarks", "aime24",
                                   "--out", str(tmp_path / "emb"), "--exclude-by", "embedding"])
    assert res.exit_code == 0, res.output
    assert {e.key for e in read_exclude(tmp_path / "emb" / "flagged.txt")} == {"aime24/2024-I-1", "aime24/2024-I-2"}
    res = CliRunner().invoke(app, ["contamination", str(f), "--field", "question", "--benchmarks", "aime24",
                                   "--out", str(tmp_path / "x"), "--exclude-by", "7-gram", "--no-embeddings"])
    assert res.exit_code == 2 and "unknown methods ['7-gram']" in res.output and not (tmp_path / "x").exists()
    assert (
        len(list((tmp_path / "cache" / "evalkit" / "contamination").glob("emb-*.npy"))) == 2
    )  # one per benchmark selection
    summary = json.loads((out / "summary.json").read_text())
    assert summary["benchmarks"] == ["aime24", "math500"] and summary["embedding"]["threshold"] == 0.737
    assert "| aime24 | 30 |" in (out / "report.md").read_text()


def test_cli_bad_input_writes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "train.jsonl"
    f.write_text('{"question": "a"}\n{"question": "b"\n')
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["contamination", str(f), "--field", "question", "--out", str(out),
                                   "--no-embeddings"])
    assert res.exit_code == 2 and "train.jsonl:2: not JSON" in res.output
    res = CliRunner().invoke(app, ["contamination", str(f), "--field", "text", "--out", str(out), "--no-embeddings"])
    assert res.exit_code == 2 and "train.jsonl:1: missing field 'text'" in res.output
    f.write_text('{"question": "a"}\n')
    res = CliRunner().invoke(app, ["contamination", str(f), "--field", "question", "--out", str(out),
                                   "--no-embeddings", "--benchmarks", "aime24,nope"])
    assert res.exit_code == 2 and "unknown task 'nope'" in res.output
    res = CliRunner().invoke(app, ["contamination", str(f), "--field", "question", "--out", str(out),
                                   "--no-embeddings", "--benchmarks", "gpqa_diamond"])
    assert res.exit_code == 2 and "gated" in res.output  # asked for explicitly: an error, not a skip
    assert not out.exists()


def test_gpqa_from_a_user_csv_is_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv

    p = tmp_path / "gpqa.csv"
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
                    "Record ID", "Canary String"])
        topics = ["a charged particle moving in a uniform magnetic field", "the boiling point of a salt solution",
                  "a recessive allele in a closed population", "the entropy of an ideal gas expanding freely",
                  "a catalyst lowering the activation energy of a reaction"]
        for i, topic in enumerate(topics):
            w.writerow([f"Synthetic question about {topic}, case {i}: which statement holds?",
                        f"the radius is {i} metres exactly", "a", "b", "c", f"rec{i:014d}", "gpqa:beef"])
    monkeypatch.setenv("EVALKIT_GPQA_CSV", str(p))
    qs = load_questions("gpqa_diamond")
    assert qs[2].answer == "the radius is 2 metres exactly" and "gpqa:" not in qs[2].text
    item = TrainItem(1, qs[2].text, "Therefore, the radius is 2 metres exactly.")
    res = audit([item], qs)
    assert [(f.problem_id, f.leaked_answer is not None) for f in res.flags] == [("rec00000000000002", True)]


def test_encoder_is_offline_cached_and_matches_sentence_transformers(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.contamination.embed import Encoder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    enc = Encoder(precision="fp32")
    texts = [embedding_text(q.text) for q in MATH[:6]]
    a = enc.encode_cached(texts)
    assert a.shape == (6, 384) and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert list((tmp_path / "evalkit" / "contamination").glob("emb-*.npy"))
    monkeypatch.setattr(enc, "encode", lambda t: (_ for _ in ()).throw(AssertionError("cache missed")))
    assert np.array_equal(enc.encode_cached(texts), a)
    from sentence_transformers import SentenceTransformer  # what the packaged model's card documents

    ref = SentenceTransformer(str(enc.path), device="cpu").encode(texts, normalize_embeddings=True)
    assert np.abs(ref - a).max() < 1e-4
    bf = Encoder(precision="bf16").encode(texts)
    assert np.min(np.sum(bf * a, axis=1)) > 0.999


# --- report --exclude ----------------------------------------------------------------------------

def test_subset_difference_is_paired_and_exact() -> None:
    rng = np.random.default_rng(0)
    c = (rng.random((40, 4)) < rng.beta(1, 1, 40)[:, None]).astype(float)
    keep = np.ones(40, bool)
    d = subset_difference(c, keep)
    assert d.estimate == 0 and d.low == 0 and d.high == 0  # same problems, same resample: no difference
    keep[:8] = False
    c[:8] = 1.0  # the excluded problems are the easy ones: clean accuracy is lower
    d = subset_difference(c, keep)
    pm = c.mean(axis=1)
    assert abs(d.estimate - (pm[8:].mean() - pm.mean())) < 1e-12
    assert d.high < 0
    # the difference equals (1 - K/P)(mean kept - mean dropped): its interval is far narrower than an
    # unpaired comparison of the two accuracies' own intervals would suggest
    from evalkit.analyze import accuracy_interval

    full, clean = accuracy_interval(c), accuracy_interval(c[keep])
    assert d.high - d.low < 0.75 * np.hypot(full.high - full.low, clean.high - clean.low)
    with pytest.raises(ValueError, match="empty"):
        subset_difference(c, np.zeros(40, bool))


def test_report_exclude_recomputes_on_the_clean_subset(tmp_path: Path) -> None:
    from evalkit.pipeline import run_sweep, scripted_factory
    from evalkit.spec import build_plan, parse_spec
    from evalkit.store import ResultStore

    spec = ("name: mini\nmodel: {id: scripted-model}\ntasks:\n  - name: math500\n    where: {level: [1]}\n"
            "    limit: 10\nseeds: [0, 1, 2]\nsampling: {temperature: 0.7, answer_max_tokens: 40}\n"
            "sequential:\n  caps: [40, 120]\n")
    run_sweep(build_plan(parse_spec(spec)), tmp_path, engine=scripted_factory,
              resolve=lambda m: (m, {"kind": "scripted"}), observer=Collect())
    df = ResultStore(tmp_path / "mini").read_rows()
    ids = sorted(df.problem_id.unique())
    ex = tmp_path / "flagged.txt"
    ex.write_text("# from evalkit contamination\n" + "".join(f"math500/{i}  # embedding\n" for i in ids[:3])
                  + "aime24/2024-I-1\n")
    res = CliRunner().invoke(app, ["report", str(tmp_path / "mini"), "--exclude", str(ex)])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "mini" / "report-clean.md").read_text()
    assert "Full vs clean accuracy" in md and "paired 95% CI" in md
    assert md.count("| math500 | cap=") == 2  # one full-vs-clean row per cell
    assert md.count("| math500 | 40 |") + md.count("| math500 | 120 |") == 2
    assert "| 7 | 3 |" in md  # the clean cell tables hold 7 problems x 3 seeds
    assert not (tmp_path / "mini" / "report.md").exists()  # the full report is not overwritten
    # claims and figures on the clean subset too
    res = CliRunner().invoke(
        app, ["claims", str(tmp_path / "mini"), "--out", str(tmp_path / "c"), "--exclude", str(ex), "--allow-scripted"]
    )
    assert res.exit_code == 0, res.output
    claims_md = (tmp_path / "c" / "claims.md").read_text()
    assert "(clean: without the problems of flagged.txt)" in claims_md and "n: 7 problems, 42 samples" in claims_md
    res = CliRunner().invoke(app, ["figures", str(tmp_path / "mini"), "--exclude", str(ex)])
    assert res.exit_code == 0 and "18 of 60 samples excluded" in res.output, res.output
    assert (tmp_path / "mini" / "figures-clean" / "scaling_curve.png").exists()
    assert not (tmp_path / "mini" / "figures").exists()
    everything = tmp_path / "all.txt"
    everything.write_text("".join(f"math500/{i}\n" for i in ids))
    res = CliRunner().invoke(app, ["figures", str(tmp_path / "mini"), "--exclude", str(everything)])
    assert res.exit_code == 2 and "excludes every problem" in res.output
    ex.write_text("math500/" + ids[0] + "\nmath500/test/algebra/nope.json\n")
    res = CliRunner().invoke(app, ["report", str(tmp_path / "mini"), "--exclude", str(ex)])
    assert res.exit_code == 2 and "flagged.txt:2: unknown problem id" in res.output


def test_sweep_exclude_writes_both_reports_and_checks_the_list_first(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("name: mini\nmodel: {id: scripted-model}\ntasks:\n  - name: math500\n    where: {level: [1]}\n"
                    "    limit: 4\nseeds: [0, 1]\nsampling: {temperature: 0.7, answer_max_tokens: 40}\n"
                    "sequential:\n  caps: [40]\n")
    ex = tmp_path / "flagged.txt"
    ex.write_text("math500/test/algebra/nope.json\n")
    args = ["sweep", str(spec), "--engine", "scripted", "--results", str(tmp_path / "r"), "--exclude", str(ex)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "flagged.txt:1: unknown problem id" in res.output
    assert not (tmp_path / "r").exists()  # nothing generated
    first = next(q.problem_id for q in MATH if q.meta["level"] == 1)
    ex.write_text(f"math500/{first}\n")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "mini" / "report.md").exists()
    assert "Full vs clean accuracy" in (tmp_path / "r" / "mini" / "report-clean.md").read_text()
