"""Claims as data: the shipped s1 claims file gives today's verdicts, a user's own claims file with one
claim of each kind is decided, and a bad claims file is refused with file:line: key before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.report import claims as report_claims
from evalkit.report import load_results
from evalkit.report.claims import DEFAULT_CLAIMS, decide, read_claims
from evalkit.report.reported import load_reported
from evalkit.spec.claims import KINDS, ClaimsError, load_claims, parse_claims
from tests.test_sweep import run

ROOT = Path(__file__).resolve().parents[1]
REPORTED = ROOT / "paper_figs" / "s1_reported.yaml"
SHIPPED = ROOT / "paper_figs" / "s1_claims.yaml"
NEEDS = "needs generations"

TODAY = {"C1": "inconclusive", "C2": "supported", "C3": NEEDS, "C4": NEEDS, "C5": "supported", "C6": NEEDS,
         "C7": NEEDS, "C8": NEEDS, "C9": "supported"}


def test_every_kind_has_a_function_and_a_parameter_model() -> None:
    assert set(report_claims.KINDS) == set(KINDS)


def test_the_shipped_file_gives_todays_verdicts(tmp_path: Path) -> None:
    assert DEFAULT_CLAIMS == SHIPPED
    cf = load_claims(SHIPPED)
    assert cf.title == "Claims about s1" and [c.id for c in cf.claims] == list(TODAY)
    assert all(c.sources for c in cf.claims) and not any("seed 00" in s for c in cf.claims for s in c.sources)
    verdicts = decide(load_reported(REPORTED), [], claims=cf)
    assert {v.claim: v.verdict for v in verdicts} == TODAY
    c1 = verdicts[0]
    assert "difference [-12.5, +34.8]" in c1.interval and "o1-preview's 44.6% is an average over samples" in c1.n
    assert "s1.1-32B (a later model than the claim's s1-32B) 61.3%" in c1.details[0]
    assert c1.details[2].endswith("evidence about competition mathematics in general.")
    assert verdicts[2].power.startswith("run sweeps/flops_parity.yaml") and verdicts[7].power == ""
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
    assert all(no_rep[c].power == "pass --reported paper_figs/s1_reported.yaml" for c in ("C1", "C5", "C9"))


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
    v = {x.claim: x for x in decide(rep, [load_results(sweep_dir)], claims=cf, allow_test_double=True)}
    assert {k: x.verdict for k, x in v.items()} == {
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
    assert v["R"].verdict == "supported" and "Small" in v["R"].statistic
    assert v["L"].verdict == NEEDS and "steps 0 and 4" in v["L"].power  # Big's ladder is gone
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
