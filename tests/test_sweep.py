"""End-to-end sweep on the scripted engine: store, resume, manifest, report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.analyze import accuracy_interval
from evalkit.cli import app
from evalkit.pipeline import run_sweep, scripted_factory
from evalkit.pipeline.observer import Collect
from evalkit.report import cell_table
from evalkit.spec import build_plan, parse_spec
from evalkit.store import ResultStore

SPEC = """\
name: mini
model: {id: scripted-model, flops_config: smollm2-135m}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 6
seeds: [0, 1, 2]
sampling: {temperature: 0.7, answer_max_tokens: 40}
sequential:
  caps: [40, 120]
  ignores: [0, 2]
  controls: [Wait, Hmm]
"""


def run(tmp: Path, text: str = SPEC, **kw):
    plan = build_plan(parse_spec(text))
    return run_sweep(plan, tmp, engine=scripted_factory, resolve=lambda m: (m, {"kind": "scripted"}),
                     observer=Collect(), **kw)


def test_sweep_stores_rows_and_resumes(tmp_path: Path) -> None:
    res = run(tmp_path)
    cells = 2 * (1 + 2)  # caps x (ignore 0 + ignore 2 per control)
    assert res.samples == cells * 3 * 6 and not res.failed_batches
    store = ResultStore(tmp_path / "mini")
    df = store.read_rows()
    assert len(df) == cells * 3 * 6
    assert not df.duplicated(["cell_id", "problem_id", "seed"]).any()
    assert (df["thinking_tokens"] <= df["cap"]).all()
    assert (df["n_ignored"] <= df["n_ignore"]).all()
    m = json.loads((tmp_path / "mini" / "manifest.json").read_text())
    for key in ("spec", "versions", "data", "models", "git_commit", "runs", "grader_version", "schema_version"):
        assert key in m
    assert m["data"]["math500"]["sha256"].startswith("35dc4108")
    assert m["versions"]["math-verify"]
    from evalkit.generate.hardware import hardware

    hw = hardware()  # the machine is recorded beside the engine version, per run too
    assert m["hardware"]["cpu"] == hw["cpu"] and m["hardware"]["isa"] == hw["isa"] and m["hardware"]["cores"] >= 1
    assert isinstance(m["hardware"]["amx"], bool) and m["runs"][-1]["hardware"] == m["hardware"]
    journal = [json.loads(x) for f in store.journal_dir.glob("*.jsonl") for x in f.read_text().splitlines()]
    assert sum(e["rows"] for e in journal if e["event"] == "part") == len(df)
    # rerun: nothing new is generated, nothing changes
    before = {p: p.stat().st_mtime_ns for p in store.shard_files()}
    again = run(tmp_path)
    assert again.generated_shards == 0 and again.skipped_shards == cells * 3
    assert {p: p.stat().st_mtime_ns for p in store.shard_files()} == before
    # a removed part is regenerated identically, and only it
    victim = sorted(before)[3]
    old = pd.read_parquet(victim)
    victim.unlink()
    third = run(tmp_path)
    assert third.samples == len(old)
    new = store.read_rows()
    volatile = ["wall_s", "provenance"]  # which tree a row branched from depends on what ran with it
    pd.testing.assert_frame_equal(df.drop(columns=volatile), new.drop(columns=volatile))


def test_report_matches_scipy_wilson(tmp_path: Path) -> None:
    run(tmp_path)
    df = ResultStore(tmp_path / "mini").read_rows()
    rows = cell_table(df)
    assert len(rows) == 6
    for r in rows:
        g = df[df.cell_id == r.cell_id]
        k, n = int(g.correct.sum()), len(g)
        mat = g.pivot_table(index="problem_id", columns="seed", values="correct", aggfunc="mean").to_numpy(float)
        assert (r.n, r.correct) == (n, k) and r.n_problems == 6 and r.n_seeds == 3
        assert r.accuracy == pytest.approx(mat.mean(axis=1).mean())  # problems weighted equally
        ci = accuracy_interval(mat)  # the problem-clustered interval, not pooled Wilson over n samples
        assert (r.ci_low, r.ci_high) == (ci.low, ci.high) and r.ci_low < r.ci_high
        assert r.fixed_low <= r.accuracy <= r.fixed_high
    # the scripted engine rewards thinking: the long-cap, two-ignore cells beat the short unforced one
    acc = {(r.cap, r.n_ignore): r.accuracy for r in rows if r.control in ("-", "Wait")}
    assert acc[("120", 2)] >= acc[("40", 0)]
    res = CliRunner().invoke(app, ["report", str(tmp_path / "mini")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "mini" / "report.md").read_text()
    assert "95% CI (problems)" in md and md.count("| math500 |") == 6


def test_report_on_missing_dir_exits_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2


def test_cli_scripted_sweep(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    res = CliRunner().invoke(app, ["sweep", str(spec), "--engine", "scripted", "--results", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "r" / "mini" / "report.md").read_text()  # the spec's name, not the file's stem ("s")
    assert not (tmp_path / "r" / "s").exists()
    assert "| math500 |" in md and md.count("| math500 |") == 2 * (1 + 2)  # caps x (ignore 0; ignore 2 x 2 controls)
    assert "next: the report is" in " ".join(res.output.split())


PARALLEL = """\
name: par
model: {id: scripted-model, flops_config: smollm2-135m}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 5
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 40}
sequential:
  caps: [60]
parallel:
  n: 6
  caps: [60]
"""


def test_parallel_family_votes_and_shares_sample_zero(tmp_path: Path) -> None:
    from evalkit.report import vote_table

    res = run(tmp_path, PARALLEL)
    assert res.samples == 5 * 2 * (1 + 6)
    df = ResultStore(tmp_path / "par").read_rows()
    par, seq = df[df.method == "parallel"], df[df.method == "sequential"]
    assert len(par) == 60 and sorted(par["sample"].unique()) == list(range(6))
    # sample 0 of the parallel family is the sequential cell's sample (same seeds, same cap)
    a = par[par["sample"] == 0].sort_values(["problem_id", "seed"]).reset_index(drop=True)
    b = seq.sort_values(["problem_id", "seed"]).reset_index(drop=True)
    assert (a["response"] == b["response"]).all()
    # classes: equal extracted answers share a class; correct samples share the gold's class
    for _, g in par.groupby(["problem_id", "seed"]):
        by_answer = g.groupby("extracted")["answer_class"].nunique()
        assert (by_answer == 1).all()
        assert g[g.correct]["answer_class"].nunique() <= 1
    votes = vote_table(df)
    assert [v.k for v in votes] == [1, 2, 4, 6]
    assert votes[0].maj == pytest.approx(par["correct"].mean())  # maj@1 = mean accuracy
    assert votes[0].pass_k == pytest.approx(par["correct"].mean())
    assert all(v.pass_k >= v.maj - 1e-12 for v in votes)  # the oracle bounds the vote
    assert votes[-1].pass_k == pytest.approx(
        par.groupby(["problem_id", "seed"])["correct"].any().mean())


def test_parallel_spec_validation() -> None:
    from evalkit.spec import SpecError

    with pytest.raises(SpecError, match="temperature"):
        parse_spec(PARALLEL.replace("temperature: 0.7", "temperature: 0"))
    plan = build_plan(parse_spec(PARALLEL.replace("sequential:\n  caps: [60]\n", "")))
    assert [c.method for c in plan.cells] == ["parallel"]  # no implicit sequential cell
    assert plan.n_requests() == 5 * 2 * 6


def test_rows_carry_flops(tmp_path: Path) -> None:
    run(tmp_path)
    df = ResultStore(tmp_path / "mini").read_rows()
    assert df["flops_naive"].notna().all()
    assert (df["flops_naive"] >= df["flops_prefix_cached"]).all()
    assert (df["flops_kv_read"] > df["flops_prefix_cached"]).all()
    # longer thinking costs more
    a = df.sort_values("thinking_tokens")
    assert a["flops_naive"].iloc[-1] > a["flops_naive"].iloc[0]


def test_rejection_family_in_a_sweep(tmp_path: Path) -> None:
    spec = SPEC.replace("sequential:\n  caps: [40, 120]\n  ignores: [0, 2]\n  controls: [Wait, Hmm]\n",
                        "rejection:\n  caps: [40, 120]\n  max_attempts: 4\n")
    run(tmp_path, spec)
    df = ResultStore(tmp_path / "mini").read_rows()
    assert set(df["method"]) == {"rejection"} and len(df) == 2 * 3 * 6
    assert (df["attempts"] >= 1).all() and (df["attempts"] <= 4).all()
    fit = df[~df["provenance"].str.contains("rejection_exhausted")]
    assert (fit["thinking_tokens"] <= fit["cap"]).all() and not fit["forced_end"].any()


def test_best_of_n_with_a_verifier(tmp_path: Path) -> None:
    from evalkit.report import vote_table

    run(tmp_path, PARALLEL.replace("  n: 6\n", "  n: 6\n  verifier: evalkit.grade.verifiers:agreement\n"))
    df = ResultStore(tmp_path / "par").read_rows()
    par = df[df.method == "parallel"]
    assert par["verifier_score"].notna().all() and df[df.method == "sequential"]["verifier_score"].isna().all()
    votes = vote_table(df)
    assert votes[0].best_k == pytest.approx(par["correct"].mean())  # best-of-1 = accuracy
    assert all(v.best_k <= v.pass_k + 1e-12 for v in votes)
    with pytest.raises(Exception, match="not found"):
        parse_spec(PARALLEL.replace("  n: 6\n", "  n: 6\n  verifier: no_such_module:fn\n"))


def test_regrade_is_cached_and_keeps_rows(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app

    run(tmp_path)
    before = ResultStore(tmp_path / "mini").read_rows()
    res = CliRunner().invoke(app, ["regrade", str(tmp_path / "mini")])
    assert res.exit_code == 0, res.output
    assert "0 verdicts changed" in res.output and f"{len(before)} cached" in res.output
    after = ResultStore(tmp_path / "mini").read_rows()
    pd.testing.assert_frame_equal(before, after)
