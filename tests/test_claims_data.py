"""Claims as data: the shipped s1 claims file gives today's verdicts, a user's own claims file with one
claim of each kind is decided, and a bad claims file is refused with file:line: key before anything runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.claims import (
    DEFAULT_CLAIMS,
    KINDS,
    ClaimsError,
    Params,
    Verdict,
    Words,
    claim_kind,
    decide,
    load_claims,
    load_reported,
    needs,
    parse_claims,
    read_claims,
    read_json,
)
from evalkit.cli import app
from evalkit.report import load_results
from evalkit.report.claims import render_markdown, words
from tests.test_sweep import run

ROOT = Path(__file__).resolve().parents[1]
REPORTED = ROOT / "paper_figs" / "s1_reported.yaml"
SHIPPED = ROOT / "paper_figs" / "s1_claims.yaml"
NEEDS = "needs generations"

TODAY = {"C1": "inconclusive", "C2": "supported", "C3": NEEDS, "C4": NEEDS, "C5": "supported", "C6": NEEDS,
         "C7": NEEDS, "C8": NEEDS, "C9": "supported"}


def test_every_kind_is_one_registry_entry_read_by_validation_and_help() -> None:
    assert set(KINDS) == {"two_systems", "seed_variance", "matched_compute", "control_token", "ladder_step",
                          "length_confound", "ladder_trend", "needs_generations"}
    for name, kind in KINDS.items():
        assert issubclass(kind.params, Params) and callable(kind.decide) and callable(kind.words), name
        assert kind.summary and kind.name == name
    res = CliRunner().invoke(app, ["claims", "--help"], terminal_width=400)
    assert all(name in res.output for name in KINDS), res.output
    with pytest.raises(ClaimsError, match="unknown kind 'two_system'; kinds: " + ", ".join(sorted(KINDS))):
        parse_claims(GOOD.replace("kind: two_systems", "kind: two_system"), "c.yaml")
    with pytest.raises(ValueError, match="registered twice"):
        claim_kind("two_systems", Params, words=lambda v, p: Words())(lambda data, p: needs())


class _Share(Params):
    """The share of ``system``'s reported accuracy above ``bar`` (a kind registered by a test)."""

    benchmark: str
    system: str
    bar: float


def test_a_kind_registered_by_one_decorated_function_is_validated_decided_and_rendered(tmp_path: Path) -> None:
    def share(data, p: _Share):
        r = data.reported.find(p.benchmark, p.system)
        return Verdict("supported" if r.center > p.bar else "not supported", numbers={"accuracy": r.center})

    def share_words(v: Verdict, p: _Share) -> Words:
        return Words(statistic=f"{p.system} {100 * v.numbers['accuracy']:.1f}%", source="the reported file")

    claim_kind("test_share", _Share, words=share_words)(share)
    try:
        (tmp_path / "rep.yaml").write_text(MY_REPORTED)
        text = ("claims:\n  - {id: X, statement: Big is above half, kind: test_share, sources: [me],\n"
                "     parameters: {benchmark: bench, system: Big, bar: 0.5}}\n")
        with pytest.raises(ClaimsError, match=r"c.yaml:3: claims\[0\].parameters.bar: required key is missing"):
            parse_claims(text.replace(", bar: 0.5", ""), "c.yaml")
        (v,) = decide(load_reported(tmp_path / "rep.yaml"), [], claims=parse_claims(text, "c.yaml"))
        assert v.verdict == "supported" and v.kind == "test_share" and v.params == _Share(benchmark="bench",
                                                                                          system="Big", bar=0.5)
        assert "**Verdict: supported**\n\n- Statistic: Big 80.0%\n- Source: the reported file\n" in render_markdown(
            [v], 0.05, [])
    finally:
        del KINDS["test_share"]


def test_the_shipped_file_gives_todays_verdicts(tmp_path: Path) -> None:
    assert DEFAULT_CLAIMS == SHIPPED
    cf = load_claims(SHIPPED)
    assert cf.title == "Claims about s1" and [c.id for c in cf.claims] == list(TODAY)
    assert all(c.sources for c in cf.claims) and not any("seed 00" in s for c in cf.claims for s in c.sources)
    verdicts = decide(load_reported(REPORTED), [], claims=cf)
    assert {v.claim: v.verdict for v in verdicts} == TODAY
    c1 = words(verdicts[0])
    assert "difference [-12.5, +34.8]" in c1.interval and "o1-preview's 44.6% is an average over samples" in c1.n
    assert "s1.1-32B (a later model than the claim's s1-32B) 61.3%" in c1.details[0]
    assert c1.details[2].endswith("evidence about competition mathematics in general.")
    assert words(verdicts[2]).power.startswith("run sweeps/flops_parity.yaml") and words(verdicts[7]).power == ""
    # the verdict itself is data: the interval and the numbers, worded only when rendered
    d = verdicts[0].intervals["difference"]
    assert (round(100 * d.low, 1), round(100 * d.high, 1)) == (-12.5, 34.8) and d.confidence == 0.95
    assert verdicts[0].numbers["n"] == 30 and verdicts[0].verdict == "inconclusive"
    # without --claims the shipped file is used: the same Markdown
    outs = []
    for extra in ([], ["--claims", str(SHIPPED)]):
        res = CliRunner().invoke(app, ["claims", "--reported", str(REPORTED), "--out", str(tmp_path / str(len(outs))),
                                       *extra])
        assert res.exit_code == 0, res.output
        outs.append((tmp_path / str(len(outs)) / "claims.md").read_text())
    assert outs[0] == outs[1] and outs[0].startswith("# Claims about s1: verdicts")
    assert "Critique of s1 (internal review)" in outs[0] and "team seed" not in outs[0]
    # without reported numbers, the reported-based claims say what to pass
    no_rep = {v.claim: v for v in decide(None, [])}
    assert all(no_rep[c].needs == "pass --reported paper_figs/s1_reported.yaml" for c in ("C1", "C5", "C9"))


MY_REPORTED = """\
sources:
  mine: "Doe et al. 2026, My paper, table 2"
benchmarks:
  bench: {n: 100}
results:
  - {benchmark: bench, system: Big, accuracy: 80.0, source: mine}
  - {benchmark: bench, system: Small, accuracy: 50.0, source: mine}
  - {benchmark: bench, system: Big, seeds: 5, mean: 78.0, sd: 3.0, source: mine}
forcing_ladder:
  - {benchmark: bench, system: Big, control: Wait, source: mine,
     steps: [{ignores: 0, accuracy: 50.0}, {ignores: 4, accuracy: 80.0}]}
  - {benchmark: bench, system: Small, control: Wait, source: mine,
     steps: [{ignores: 0, accuracy: 50.0}, {ignores: 1, accuracy: 51.0}, {ignores: 2, accuracy: 50.0}]}
"""

MY_CLAIMS = """\
title: Claims about my paper
claims:
  - {id: A, statement: Big beats Small, kind: two_systems, parameters: {benchmark: bench, a: Big, b: Small},
     sources: ["Doe et al. 2026"]}
  - {id: B, statement: Small beats Big, kind: two_systems, parameters: {benchmark: bench, a: Small, b: Big},
     sources: ["Doe et al. 2026"]}
  - {id: S, statement: seed SD on AIME24 from a sweep, kind: seed_variance,
     parameters: {benchmark: aime24, min_seeds: 10}, sources: ["Doe et al. 2026"]}
  - {id: P, statement: seed SD from 5 published seeds, kind: seed_variance,
     parameters: {benchmark: bench, min_seeds: 10}, sources: ["Doe et al. 2026"]}
  - {id: M, statement: forcing beats voting at matched compute, kind: matched_compute, sources: ["Doe et al. 2026"]}
  - {id: T, statement: the control token matters, kind: control_token, sources: ["Doe et al. 2026"]}
  - {id: L, statement: 0 -> 4 Waits is within noise, kind: ladder_step,
     parameters: {benchmark: bench, system: Big, from_ignores: 0, to_ignores: 4}, sources: ["Doe et al. 2026"]}
  - {id: F, statement: "length confound", kind: length_confound, sources: ["Doe et al. 2026"]}
  - {id: R, statement: the Small ladder is flat, kind: ladder_trend, parameters: {benchmark: bench},
     sources: ["Doe et al. 2026"]}
  - {id: N, statement: it extrapolates, kind: needs_generations, sources: ["Doe et al. 2026"],
     needs: a sweep with caps beyond the training lengths}
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("claims_sweep")
    run(tmp, """\
name: cl
model: {id: scripted, flops_config: smollm2-135m}
tasks: [{name: aime24}]
seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40, 160], ignores: [0, 1], controls: [Wait, Hmm]}
parallel: {n: 4, caps: [40]}
""")
    return tmp / "cl"


def test_a_users_claims_file_with_every_kind_is_decided(tmp_path: Path, sweep_dir: Path) -> None:
    (tmp_path / "rep.yaml").write_text(MY_REPORTED)
    (tmp_path / "claims.yaml").write_text(MY_CLAIMS)
    rep = load_reported(tmp_path / "rep.yaml")
    cf = read_claims(tmp_path / "claims.yaml", rep)
    assert {c.kind for c in cf.claims} == set(KINDS)
    verdicts = {x.claim: x for x in decide(rep, [load_results(sweep_dir)], claims=cf, allow_test_double=True)}
    v = {k: words(x) for k, x in verdicts.items()}
    assert {k: x.verdict for k, x in verdicts.items()} == {
        "A": "supported",  # 80 vs 50 of 100: Newcombe interval above 0
        "B": "not supported",  # the same comparison the other way round
        "S": "supported",
        "P": "inconclusive",  # a sweep cell with 10 seeds; 5 published seeds < min_seeds 10
        "M": "supported",
        "T": "inconclusive",
        "F": "supported",  # the scripted sweep's matched compute, controls, length
        "L": "not supported",  # 50 -> 80 of 100 is not noise
        "R": "not supported",  # Big's 50 -> 80 ladder on the same benchmark is a trend
        "N": NEEDS,
    }
    assert v["S"].source == "sweep results" and "30 problems x 10 seeds" in v["S"].n
    assert v["P"].source.startswith("published multi-seed (Doe et al. 2026") and v["P"].k == "5 seeds"
    assert "(50/100 -> 80/100)" in v["L"].statistic and "Newcombe" in v["L"].interval
    assert v["N"].power == "a sweep with caps beyond the training lengths"
    assert verdicts["S"].numbers["problems"] == 30 and verdicts["S"].intervals["sd"].details["df"] > 0
    assert verdicts["P"].numbers["k"] == 5 and verdicts["L"].numbers["to_correct"] == 80
    res = CliRunner().invoke(app, ["claims", str(sweep_dir), "--reported", str(tmp_path / "rep.yaml"),
                                   "--claims", str(tmp_path / "claims.yaml"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "out" / "claims.md").read_text()
    assert md.startswith("# Claims about my paper: verdicts") and "## A: Big beats Small" in md


def test_a_flat_ladder_is_within_noise(tmp_path: Path) -> None:
    (tmp_path / "rep.yaml").write_text(MY_REPORTED.split("  - {benchmark: bench, system: Big, control")[0]
                                       + MY_REPORTED.split("80.0}]}\n")[1])
    cf = parse_claims(MY_CLAIMS, "claims.yaml")
    v = {x.claim: x for x in decide(load_reported(tmp_path / "rep.yaml"), [], claims=cf)}
    assert v["R"].verdict == "supported" and "Small" in words(v["R"]).statistic
    assert v["L"].verdict == NEEDS and "steps 0 and 4" in v["L"].needs  # Big's ladder is gone
    assert v["M"].verdict == NEEDS and v["F"].verdict == NEEDS  # no sweep


GOOD = """\
title: T
claims:
  - id: C1
    statement: X beats Y
    kind: two_systems
    parameters: {benchmark: bench, a: Big, b: Small}
    sources: [Doe 2026]
"""

BAD = [
    (GOOD.replace("kind: two_systems", "kind: two_system"), 5, "claims[0].kind", "unknown kind 'two_system'"),
    (GOOD.replace(", b: Small", ""), 6, "claims[0].parameters.b", "required key is missing"),
    (GOOD.replace("benchmark: bench", "benchmrk: bench"), 6, "claims[0].parameters.benchmrk", "unknown key"),
    (GOOD.replace("statement:", "statment:"), 4, "claims[0].statment", "unknown key"),
    (GOOD.replace("    sources: [Doe 2026]\n", ""), 3, "claims[0].sources", "required key is missing"),
    (GOOD.replace("{benchmark: bench,", "{benchmark: bench, from_ignores: 2,"), 6,
     "claims[0].parameters.from_ignores", "unknown key"),
    (GOOD + GOOD.split("claims:\n")[1], 8, "claims[1].id", "duplicate claim id 'C1'"),
    (GOOD + "title: U\n", 8, "title", "duplicate key"),
    (GOOD.replace("kind: two_systems", "kind: needs_generations").replace(
        "    parameters: {benchmark: bench, a: Big, b: Small}\n", ""), 3, "claims[0].needs", "says what data"),
    (GOOD.replace("kind: two_systems", "kind: ladder_step").replace(
        "a: Big, b: Small", "from_ignores: 0, to_ignores: many"), 6, "claims[0].parameters.to_ignores", "auto"),
    ("- a list\n", 1, "", "mapping"),
]


@pytest.mark.parametrize("text,line,key,msg", BAD)
def test_bad_claims_files_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str, msg: str) -> None:
    f = tmp_path / "cl.yaml"
    f.write_text(text)
    with pytest.raises(ClaimsError) as e:
        load_claims(f)
    assert f"cl.yaml:{line}: {key}" in str(e.value) and msg in str(e.value), str(e.value)
    # refused before anything is computed or written
    res = CliRunner().invoke(app, ["claims", "--reported", str(REPORTED), "--claims", str(f),
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and msg in res.output and not (tmp_path / "out").exists()


def test_names_are_checked_against_the_reported_file(tmp_path: Path) -> None:
    (tmp_path / "rep.yaml").write_text(MY_REPORTED)
    f = tmp_path / "cl.yaml"
    f.write_text(GOOD.replace("b: Small", "b: Smal").replace("benchmark: bench", "benchmark: bnch"))
    load_claims(f)  # without a reported file the names cannot be checked
    with pytest.raises(ClaimsError) as e:
        read_claims(f, load_reported(tmp_path / "rep.yaml"))
    msg = str(e.value)
    assert "cl.yaml:6: claims[0].parameters.b: unknown system 'Smal'" in msg
    assert "cl.yaml:6: claims[0].parameters.benchmark: unknown benchmark 'bnch'" in msg
    res = CliRunner().invoke(app, ["claims", "--reported", str(tmp_path / "rep.yaml"), "--claims", str(f),
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "unknown system 'Smal'" in res.output and not (tmp_path / "out").exists()
    res = CliRunner().invoke(app, ["claims", "--reported", str(REPORTED), "--claims", str(tmp_path / "none.yaml"),
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "none.yaml: no such file" in res.output


def test_claims_json_holds_the_verdicts_as_data_and_reads_back(tmp_path: Path, sweep_dir: Path) -> None:
    """``evalkit claims --json`` prints the verdicts as JSON (and writes claims.json); read back, they render
    to the very claims.md written beside them."""
    (tmp_path / "rep.yaml").write_text(MY_REPORTED)
    (tmp_path / "claims.yaml").write_text(MY_CLAIMS)
    res = CliRunner().invoke(app, ["claims", str(sweep_dir), "--reported", str(tmp_path / "rep.yaml"), "--claims",
                                   str(tmp_path / "claims.yaml"), "--out", str(tmp_path / "out"), "--json",
                                   "--allow-scripted"])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "out" / "claims.json").read_text()
    doc = json.loads(text)
    assert res.stdout == text and "# Claims about my paper" not in res.stdout  # the JSON, not the Markdown
    assert doc["title"] == "Claims about my paper" and doc["alpha"] == 0.05 and len(doc["sources"]) == 2
    by_id = {v["claim"]: v for v in doc["verdicts"]}
    assert [v["claim"] for v in doc["verdicts"]] == [c.id for c in parse_claims(MY_CLAIMS, "c.yaml").claims]
    a = by_id["A"]
    assert a["verdict"] == "supported" and a["kind"] == "two_systems" and a["parameters"]["a"] == "Big"
    assert set(a["intervals"]["difference"]) == {"estimate", "low", "high", "confidence", "method", "n", "details"}
    assert a["intervals"]["difference"]["estimate"] == pytest.approx(0.3) and a["numbers"]["n"] == 100
    assert by_id["N"]["verdict"] == "needs generations" and by_id["N"]["needs"].startswith("a sweep with caps")
    s = by_id["S"]
    assert s["basis"] == [{"model": "scripted", "engine": "scripted", "test_double": True, "tasks": ["aime24"],
                           "problems": 30, "seeds": 10, "cells": 1}]
    back = read_json(text)
    assert back.title == doc["title"] and [v.verdict for v in back.verdicts] == [v["verdict"] for v in doc["verdicts"]]
    md = (tmp_path / "out" / "claims.md").read_text()
    banner = md.split("\n\n")[2] + "\n"  # the test-double banner, the command's (not a verdict's)
    assert render_markdown(list(back.verdicts), back.alpha, list(back.sources), load_reported(
        tmp_path / "rep.yaml").sources, back.title, banner=banner) == md


def test_the_docs_example_kind_registers_and_decides(tmp_path: Path) -> None:
    """docs/claims.md's "Adding a claim kind": its module, run as shown, is a kind the claims file accepts."""
    doc = (ROOT / "docs" / "claims.md").read_text()
    code = re.findall(r"```python\n(.*?)```", doc[doc.index("## Adding a claim kind"):], re.S)[0]
    exec(compile(code, "docs/claims.md", "exec"), {"__name__": "docs_example"})
    try:
        (tmp_path / "rep.yaml").write_text(MY_REPORTED)
        text = ("claims:\n  - {id: X, statement: Small is above 0.6, kind: above_bar, sources: [me],\n"
                "     parameters: {benchmark: bench, system: Small, bar: 0.6}}\n")
        (v,) = decide(load_reported(tmp_path / "rep.yaml"), [], claims=parse_claims(text, "c.yaml"))
        assert v.verdict == "not supported" and v.numbers["accuracy"] == 0.5
        md = render_markdown([v], 0.05, [])
        assert "- Statistic: Small 50.0% against 60.0%\n- Source: Doe et al. 2026, My paper, table 2" in md
        (none,) = decide(None, [], claims=parse_claims(text, "c.yaml"))
        assert none.verdict == "needs generations" and "a single run of Small" in none.needs
    finally:
        del KINDS["above_bar"]
