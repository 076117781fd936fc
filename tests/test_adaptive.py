"""Adaptive seeds (issue #31) end to end on the scripted engine: the spec, rounds, the decision journal,
resuming to the same decision, status and the report's section."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evalkit.analyze import paired_confidence_sequence, per_seed_accuracy
from evalkit.cli import app
from evalkit.integrations.slurm.status import render, sweep_status
from evalkit.pipeline import run_sweep, scripted_factory, scripted_resolve
from evalkit.pipeline.adaptive import outcome_matrix, round_sizes, rule_of
from evalkit.pipeline.observer import Collect
from evalkit.report import build
from evalkit.spec import SpecError, build_plan, parse_spec
from evalkit.store import ResultStore, Samples

BASE = """\
name: adapt
model: {id: scripted-model}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 8
sampling: {temperature: 0.7, answer_max_tokens: 40}
sequential:
  caps: [40, 120]
  ignores: [0]
"""


def spec(stop: str, start: int = 2, step: int = 2, max_: int = 8) -> str:
    return BASE + f"seeds:\n  adaptive: {{start: {start}, step: {step}, max: {max_}, stop: {stop}}}\n"


def run(tmp: Path, text: str, factory=scripted_factory):
    obs = Collect()
    res = run_sweep(build_plan(parse_spec(text)), tmp, engine=factory, resolve=scripted_resolve, observer=obs)
    return res, obs


def test_the_spec_names_what_is_wrong(tmp_path: Path) -> None:
    cases = {
        "{halfwidth: 3, compare: [a, b]}": "give exactly one of",
        "{compare: ['cap=40']}": "compare",
        "{compare: ['cap=40', 'cap=400']}": "no cell is 'cap=400'",
        "{compare: ['math500', 'cap=40']}": "names 2 cells",
        "{compare: ['cap=40', 'cap=40']}": "compares a cell with itself",
        "{halfwidth: 3, margin: 2}": "margin",
    }
    for stop, msg in cases.items():
        with pytest.raises(SpecError, match=msg) as e:
            build_plan(parse_spec(spec(stop), "s.yaml"))
        assert str(e.value).startswith("s.yaml:"), str(e.value)
    with pytest.raises(SpecError, match=r"s.yaml:\d+: seeds.adaptive.stepp: unknown key"):
        parse_spec(BASE + "seeds:\n  adaptive: {stepp: 2, stop: {halfwidth: 3}}\n", "s.yaml")
    with pytest.raises(SpecError, match="start .9. is above max .4."):
        parse_spec(spec("{halfwidth: 3}", start=9, max_=4), "s.yaml")
    plan = build_plan(parse_spec(spec("{compare: ['cap=40', 'cap=120']}")))
    assert plan.seeds == list(range(8)) and round_sizes(plan.spec.adaptive) == [2, 4, 6, 8]
    assert [c.label for c in plan.cells if c.cell_id in plan.stop_cells()["compare"]] == [
        "math500 cap=40 ignore=0 control=- min=0", "math500 cap=120 ignore=0 control=- min=0"]


def test_rounds_stop_at_the_first_decided_round_and_resume_to_the_same_decision(tmp_path: Path) -> None:
    text = spec("{halfwidth: 30}", max_=8)  # +-30 points: decided within a few rounds
    res, obs = run(tmp_path / "a", text)
    store = ResultStore(tmp_path / "a" / "adapt")
    decisions = store.decisions()
    assert decisions and decisions[-1]["stop"] and res.decision == {k: v for k, v in decisions[-1].items()
                                                                   if k not in ("time", "event", "decided")}
    used = decisions[-1]["seeds"]
    assert used in round_sizes(build_plan(parse_spec(text)).spec.adaptive)
    rows = Samples.of(store.read_rows())
    assert sorted(rows.seed.unique()) == list(range(used))  # no seed beyond the stopping round was generated
    assert [d["round"] for d in decisions] == list(range(len(decisions)))
    assert any("round 1" in m for m in obs.messages)
    # the rule as decided: every cell's anytime-valid interval within +-30 points, none before the last round
    for d in decisions[:-1]:
        assert any((hi - lo) / 2 > 0.30 for _, lo, hi in d["intervals"].values())
    assert all((hi - lo) / 2 <= 0.30 for _, lo, hi in decisions[-1]["intervals"].values())
    # a rerun generates nothing and reaches the same decision from the stored rows
    again, _ = run(tmp_path / "a", text)
    assert again.samples == 0 and store.decisions()[-1]["intervals"] == decisions[-1]["intervals"]
    assert store.decisions() == decisions  # the same decisions again: journaled once
    # status and report say where the rule stands
    headers, _, lines = render(sweep_status(tmp_path / "a" / "adapt"))
    assert headers == ["cell", *[f"seed {s}" for s in range(used)]]
    assert any(line.startswith("adaptive seeds: stopped after round") for line in lines)
    md = build(tmp_path / "a" / "adapt").markdown
    assert "## Adaptive seeds" in md and f"with {used} seeds" in md


def test_a_killed_round_resumes_to_the_uninterrupted_decision(tmp_path: Path) -> None:
    text = spec("{compare: ['cap=40', 'cap=120'], margin: 30}", max_=6)  # decided in round 2
    full, _ = run(tmp_path / "full", text)
    seen: list[int] = []

    def dies_in_round_two(model_id, path, engine_args, plan):
        seen.append(len(plan.seeds))
        if len(plan.seeds) > 2:
            raise RuntimeError("engine lost")
        return scripted_factory(model_id, path, engine_args, plan)

    part, obs = run(tmp_path / "killed", text, dies_in_round_two)
    assert part.failed_batches and any("not complete" in m for m in obs.messages)
    resumed, _ = run(tmp_path / "killed", text)
    a = ResultStore(tmp_path / "full" / "adapt")
    b = ResultStore(tmp_path / "killed" / "adapt")
    assert b.decisions()[-1]["intervals"] == a.decisions()[-1]["intervals"]
    assert b.decisions()[-1]["seeds"] == a.decisions()[-1]["seeds"] == resumed.decision["seeds"]
    ra, rb = a.read_rows(), b.read_rows()
    assert len(ra) == len(rb) and not rb.duplicated(["cell_id", "problem_id", "seed", "sample"]).any()


def test_per_seed_accuracy_is_the_mean_over_problems_at_each_seed(tmp_path: Path) -> None:
    run(tmp_path, spec("{halfwidth: 40}", max_=4))
    store = ResultStore(tmp_path / "adapt")
    rows = Samples.of(store.read_rows())
    cid = rows.cell_id.iloc[0]
    acc = per_seed_accuracy(outcome_matrix(rows, cid, [0, 1]))
    m = rows.where(rows.cell_id == cid).accuracy_matrix().to_numpy(float)
    assert np.allclose(acc, m.mean(axis=0)[:2])


def test_dry_run_of_an_adaptive_spec(tmp_path: Path) -> None:
    f = tmp_path / "adapt.yaml"
    f.write_text(spec("{halfwidth: 3}", max_=32))
    out = CliRunner().invoke(app, ["sweep", str(f), "--dry-run", "--engine", "scripted", "--results", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "adaptive seeds" in out.output and "expected seeds" in out.output and "floor" in out.output
    assert not (tmp_path / "adapt").exists()


def _with_p_end(p_end: float):
    def factory(model_id, path, engine_args, plan):
        return scripted_factory(model_id, path, {**engine_args, "p_end": p_end}, plan)
    return factory


def test_a_clear_difference_stops_early_and_none_runs_to_max(tmp_path: Path) -> None:
    """Two cells of the same sweep: thinking capped at 40 vs 400 tokens when the model rarely ends its
    thinking by itself (p_end 0.003: the longer cap answers most problems, the shorter few) stops long
    before max; caps 300 vs 400 when thinking always ends by itself first (p_end 0.05) are the same
    distribution, and the sweep runs to max undecided. The decisions are the confidence sequence of the
    stored rows."""
    clear = spec("{compare: ['cap=40', 'cap=400']}", max_=16).replace("caps: [40, 120]", "caps: [40, 400]")
    res, obs = run(tmp_path / "clear", clear, _with_p_end(0.003))
    assert res.decision["stop"] and "excludes 0" in res.decision["reason"] and res.decision["seeds"] <= 6
    store = ResultStore(tmp_path / "clear" / "adapt")
    rows = Samples.of(store.read_rows())
    assert sorted(rows.seed.unique()) == list(range(res.decision["seeds"]))
    plan = build_plan(parse_spec(clear))
    a, b = plan.stop_cells()["compare"]
    seeds = list(range(res.decision["seeds"]))
    cs = paired_confidence_sequence(outcome_matrix(rows, a, seeds), outcome_matrix(rows, b, seeds),
                                    horizon=rule_of(plan.spec.adaptive).bet_horizon)
    (est, lo, hi), = res.decision["intervals"].values()
    assert (est, lo, hi) == (cs.estimate, cs.low, cs.high) and hi < 0  # the longer cap is better

    same = spec("{compare: ['cap=300', 'cap=400']}", max_=10).replace("caps: [40, 120]", "caps: [300, 400]")
    res, obs = run(tmp_path / "same", same, _with_p_end(0.05))
    decisions = ResultStore(tmp_path / "same" / "adapt").decisions()
    assert [d["seeds"] for d in decisions] == [2, 4, 6, 8, 10] and not any(d["stop"] for d in decisions[:-1])
    assert res.decision["stop"] and "max seeds (10) reached" in res.decision["reason"]
    (est, lo, hi), = res.decision["intervals"].values()
    assert lo < 0 < hi


def test_a_population_target_below_the_floor_is_refused_before_any_seed(tmp_path: Path) -> None:
    """8 problems cannot give +-10 points for the population, whatever the seeds (a kind of problem making
    up 37% of it can be missing from 8 draws): refused at the spec's line, nothing written; the dry run
    says the same."""
    text = spec("{halfwidth: 10, of: population}", max_=8)
    with pytest.raises(SpecError, match=r"s\.yaml:\d+: seeds\.adaptive\.stop\.halfwidth: 8 problems cannot give "
                                        r"±10 points for math500 as a benchmark, whatever the seeds: the floor is "
                                        r"at least ±18\.\d points") as e:
        run_sweep(build_plan(parse_spec(text, "s.yaml")), tmp_path, engine=scripted_factory,
                  resolve=scripted_resolve, observer=Collect())
    assert "absent from 8 draws" in str(e.value) and not (tmp_path / "adapt").exists()
    f = tmp_path / "adapt.yaml"
    f.write_text(text)
    out = CliRunner().invoke(app, ["sweep", str(f), "--dry-run", "--engine", "scripted", "--results", str(tmp_path)])
    assert out.exit_code != 0 and "cannot give ±10 points" in out.output and not (tmp_path / "adapt").exists()
    with pytest.raises(SpecError, match="`of: population` applies to a `halfwidth:` target"):
        parse_spec(spec("{compare: ['cap=40', 'cap=120'], of: population}"), "s.yaml")
    with pytest.raises(SpecError, match=r"s\.yaml:\d+: seeds\.adaptive\.stop\.of: .*'problems' or 'population'"):
        parse_spec(spec("{halfwidth: 10, of: everyone}"), "s.yaml")


def test_a_population_target_the_stored_rows_put_out_of_reach_stops_at_once(tmp_path: Path) -> None:
    """Above the floor no data can rule out (+-18 points at 8 problems) but below the one the stored rows
    show (Wilson on 8 problems): the sweep stops once 4 seeds are in (MIN_FUTILITY_SEEDS) and says why,
    instead of running to max; a reachable target stops once the seed noise fits in what the floor
    leaves and the population interval is within the target."""
    res, obs = run(tmp_path / "a", spec("{halfwidth: 20, of: population}", max_=8))
    assert res.decision["stop"] and res.decision["seeds"] == 4
    assert res.decision["reason"].startswith("out of reach, no more seeds") and "cannot give ±20 points" in \
        res.decision["reason"]
    res, obs = run(tmp_path / "b", spec("{halfwidth: 45, of: population}", max_=8))
    assert res.decision["stop"] and "for the population of problems" in res.decision["reason"]
    assert "floor +-" in res.decision["reason"] and "seed noise" in res.decision["reason"]


def test_dry_run_on_aime_assumes_the_published_seed_sd(tmp_path: Path) -> None:
    """Without stored rows, the dry run's expected seeds and floor come from the published multi-seed
    results on the rule's task (paper_figs/s1_reported.yaml: s1.1-32B on AIME24, 61.3 +- 6.9 over 10
    seeds), and a +-3-point population target for 30 problems is refused with the issue's sentence."""
    f = tmp_path / "aime.yaml"
    text = (BASE.replace("  - name: math500\n    where: {level: [1]}\n    limit: 8\n", "  - aime24\n")
            + "seeds:\n  adaptive: {start: 2, step: 2, max: 16, stop: {compare: ['cap=40', 'cap=120']}}\n")
    f.write_text(text)
    out = CliRunner().invoke(app, ["sweep", str(f), "--dry-run", "--engine", "scripted", "--results", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "published: s1.1-32B on aime24, mean 61.3, seed SD 6.9 over 10 seeds" in out.output
    assert "30 problems (published mean and seed SD)" in out.output
    # rounds of 2 against checks after every seed on the same simulated sweeps: never more seeds
    pairs = re.findall(r"expected seeds ([\d.]+).*\n    with `step: 1` .*: ([\d.]+) seeds, \d+% fewer", out.output)
    assert pairs and all(float(one) < float(two) for two, one in pairs)
    f.write_text(text.replace("step: 2", "step: 1"))
    out = CliRunner().invoke(app, ["sweep", str(f), "--dry-run", "--engine", "scripted", "--results", str(tmp_path)])
    assert out.exit_code == 0 and "expected seeds" in out.output and "with `step: 1`" not in out.output
    f.write_text(text)
    f.write_text(text.replace("compare: ['cap=40', 'cap=120']", "halfwidth: 3, of: population"))
    out = CliRunner().invoke(app, ["sweep", str(f), "--dry-run", "--engine", "scripted", "--results", str(tmp_path)])
    assert out.exit_code == 2 and "aime.yaml:" in out.output
    assert "30 problems cannot give ±3 points for aime24 as a benchmark, whatever the seeds" in out.output
