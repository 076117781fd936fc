"""What a new user reads (issue 41): dry-run totals and units, token counts as generated, spec errors
that lead to the fix, the limit warning, missing paths, p-values, flags in --help, the next steps after
a sweep, and the claims guide's own-claims example (docs/claims.md)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.pipeline import run_sweep
from evalkit.pipeline.observer import Collect
from evalkit.spec import SpecError, build_plan, parse_spec
from evalkit.store import open_results

ROOT = Path(__file__).resolve().parents[1]

SPEC = """\
name: msg
model: scripted-model
tasks:
  - name: math500
    where: {level: [1]}
    limit: 20
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 32}
sequential: {caps: [64, 128], ignores: [0, 1]}
"""


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, " ".join(res.output.split())


def _spec(tmp: Path, text: str = SPEC) -> Path:
    (tmp / "msg.yaml").write_text(text)
    return tmp / "msg.yaml"


def test_the_dry_run_names_the_token_bound_a_total_and_gpu_time_in_a_unit_that_shows_it(tmp_path: Path) -> None:
    code, out = _cli("sweep", str(_spec(tmp_path)), "--engine", "scripted", "--dry-run", "--results", str(tmp_path))
    assert code == 0, out
    plan = build_plan(parse_spec(SPEC))
    total = sum(20 * 2 * (c.forcing.cap + 32) for c in plan.cells)  # every cell, problem and seed, to its cap
    assert total == plan.token_upper_bound() == 20_480
    assert f"upper bound on generated tokens, total over all cells (every sample of every problem and seed to " \
           f"its cap, before tree reuse): {total:,}" in out
    assert f"estimated GPU time at 2,000 generated tokens/s per GPU: <= {math.ceil(total / 2000)} GPU-seconds" in out
    assert "per cell" not in out and "<= 0.0" not in out


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.2, "< 1 GPU-second"), (10.24, "<= 11 GPU-seconds"), (60.0, "<= 1.0 GPU-minutes"),
    (150.0, "<= 2.5 GPU-minutes"), (360.0, "<= 0.1 GPU-hours"), (66_240.0, "<= 18.4 GPU-hours"),
])
def test_gpu_time_never_rounds_to_zero(seconds: float, shown: str) -> None:
    from evalkit.cli.plan import gpu_time

    assert gpu_time(seconds) == shown


def test_status_counts_the_tokens_the_engine_generated(tmp_path: Path) -> None:
    from evalkit.integrations.slurm.status import render, sweep_status

    res = run_sweep(build_plan(parse_spec(SPEC)), tmp_path, engine="scripted", observer=Collect())
    rows = open_results(res.out_dir).read_rows()
    per_cell = int(rows[["thinking_tokens", "forced_tokens", "answer_tokens"]].sum().sum())
    assert 0 < res.generated_tokens < per_cell  # cells share their trajectories' prefixes
    st = sweep_status(res.out_dir)
    assert st.tokens == res.generated_tokens
    line = next(x for x in render(st)[2] if x.startswith("samples"))
    assert f"generated tokens {res.generated_tokens:,} (what the engine generated: a thinking prefix that cells " \
           "share counts once)" in line
    manifest = json.loads((res.out_dir / "manifest.json").read_text())
    assert manifest["runs"][-1]["generated_tokens"] == st.tokens  # the sweep's own count: the two agree
    # results written before batches were journaled: the manifest's runs
    for f in (res.out_dir / "journal").glob("*.jsonl"):
        f.write_text("".join(x + "\n" for x in f.read_text().splitlines() if '"event": "batch"' not in x))
    assert sweep_status(res.out_dir).tokens == res.generated_tokens


@pytest.mark.parametrize(("text", "first"), [
    (SPEC.replace("name: math500", "name: math50"),
     "msg.yaml:4: tasks[0].name: unknown task 'math50'; known tasks: aime24, aime25, gpqa_diamond, math500"),
    (SPEC.replace("tasks:\n  - name: math500\n    where: {level: [1]}\n    limit: 20", "tasks: [math50]"),
     "msg.yaml:3: tasks[0].name: unknown task 'math50'"),
    (SPEC.replace("sampling:", "samplng:"), "msg.yaml:8: samplng: unknown key; did you mean sampling?"),
    (SPEC.replace("    limit: 20", "    limt: 20"), "msg.yaml:6: tasks[0].limt: unknown key; did you mean limit?"),
    (SPEC.replace("model: scripted-model", "model: {id: scripted-model, engne: {}}"),
     "msg.yaml:2: model.engne: unknown key; did you mean engine?"),
    (SPEC.replace("answer_max_tokens: 32}", "answer_max_tokens: 32, zzz: 1}"),
     "msg.yaml:8: sampling.zzz: unknown key; keys: temperature, top_p, answer_max_tokens"),
    (SPEC.replace("seeds: [0, 1]", "seeds: 3"),
     "msg.yaml:7: seeds: 3 is not a list of seeds (for 3 seeds: [0, 1, 2]): give a list, e.g. `seeds: [0, 1, 2]`, "
     "or adaptive seeds, e.g. `seeds: {adaptive: {start: 2, max: 32, stop: {halfwidth: 5}}}`"),
    (SPEC.replace("seeds: [0, 1]", 'seeds: "0,1,2"'), "msg.yaml:7: seeds: '0,1,2' is not a list of seeds: give a "
     "list, e.g. `seeds: [0, 1, 2]`"),
])
def test_spec_errors_lead_to_the_fix(text: str, first: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(text, "msg.yaml")
    assert e.value.problems[0].startswith(first), e.value.problems
    assert not any("Input should be a valid" in p for p in e.value.problems), e.value.problems


def test_the_seeds_errors_examples_are_valid() -> None:
    for example in ("seeds: [0, 1, 2]", "seeds: {adaptive: {start: 2, max: 32, stop: {halfwidth: 5}}}"):
        parse_spec(SPEC.replace("seeds: [0, 1]", example))


def test_a_claims_parameter_typo_gets_the_nearest_key(tmp_path: Path) -> None:
    from evalkit.claims import ClaimsError, parse_claims

    text = ("claims:\n  - {id: A, statement: s, kind: two_systems, parameters: {benchmrk: b, a: x, b: y},\n"
            "     sources: [me]}\n")
    with pytest.raises(ClaimsError, match=r"c.yaml:2: claims\[0\].parameters.benchmrk: unknown key; did you mean "
                                          r"benchmark\?"):
        parse_claims(text, "c.yaml")


def test_a_limit_beyond_the_selection_is_said_at_the_dry_run_and_the_run(tmp_path: Path) -> None:
    spec = _spec(tmp_path, SPEC.replace("limit: 20", "limit: 2000"))
    n = len(build_plan(parse_spec(SPEC.replace("    limit: 20\n", ""))).selections["math500"].problems())
    warning = f"msg.yaml:6: tasks[0].limit: limit 2000 > the {n} problems selected; using {n}"
    code, out = _cli("sweep", str(spec), "--engine", "scripted", "--dry-run", "--results", str(tmp_path / "r"))
    assert code == 0 and warning in out and f"task math500: {n} problems" in out, out
    seen = Collect()
    run_sweep(spec, tmp_path / "r", engine="scripted", observer=seen)
    assert any(m.startswith("warning: ") and m.endswith(warning) for m in seen.messages), seen.messages
    quiet = Collect()
    run_sweep(_spec(tmp_path), tmp_path / "r2", engine="scripted", observer=quiet)  # limit 20 < n: nothing said
    assert not any("warning" in m for m in quiet.messages)


@pytest.mark.parametrize("command", ["report", "status", "figures", "claims", "view", "regrade"])
def test_a_missing_results_path_is_said_not_to_exist(tmp_path: Path, command: str) -> None:
    code, out = _cli(command, str(tmp_path / "nope"))
    assert code == 2 and f"{tmp_path / 'nope'}: does not exist" in out, out
    code, out = _cli(command, str(tmp_path))  # a directory, but not a results directory
    assert code == 2 and "not a results directory (no manifest.json)" in out, out


def test_p_values_below_a_thousandth_are_never_printed_as_zero() -> None:
    from evalkit.claims.words import p_value

    assert [p_value(x) for x in (0.0, 4e-6, 0.000999, 0.001, 0.0424, 1.0)] == [
        "p < 0.001", "p < 0.001", "p < 0.001", "p = 0.001", "p = 0.042", "p = 1.000"]
    assert p_value(0.125, relation=">=") == "p >= 0.125" and p_value(2.3e-4, relation=">=") == "p >= 0.0002"


def test_the_docs_own_claims_example_runs_as_shown(tmp_path: Path) -> None:
    readme = (ROOT / "docs" / "claims.md").read_text()
    start = readme.index("here `my_reported.yaml`")
    reported, claims = re.findall(r"```yaml\n(.*?)```", readme[start:], re.S)[:2]
    assert "and `my_claims.yaml`:" in readme[start:readme.index(claims)]
    (tmp_path / "my_reported.yaml").write_text(reported)
    (tmp_path / "my_claims.yaml").write_text(claims)
    code, out = _cli("claims", "--claims", str(tmp_path / "my_claims.yaml"), "--reported",
                     str(tmp_path / "my_reported.yaml"), "--out", str(tmp_path / "out"))
    assert code == 0, out
    h1 = out.split("## H1:")[1].split("## H2:")[0]
    assert "Verdict: supported" in h1 and "p < 0.001" in h1 and "[+16.9, +41.7]" in h1
    assert "p = 0.000" not in out
    said = " ".join(readme[readme.index(claims):].split("Kinds (parameters")[0].split())
    assert "H1 supported (difference +30.0 points, [+16.9, +41.7], p < 0.001)" in said  # the docs say what it gives


COMMANDS = [[], ["sweep"], ["status"], ["report"], ["figures"], ["claims"], ["grade"], ["regrade"], ["view"],
            ["models"], ["models", "install"], ["models", "serve"], ["import", "lm-eval"], ["export", "lm-eval"],
            ["contamination"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "evalkit")
def test_help_shows_flags_as_flags(command: list[str]) -> None:
    res = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "<bool>" not in res.output
    assert re.search(r"--help\s+Show this message", res.output), res.output
    if command == ["sweep"]:
        assert re.search(r"--dry-run\s+print the plan", res.output) and re.search(r"--results\s+<path>", res.output)


@pytest.mark.parametrize("where", ["outside", "checkout"])
def test_the_next_steps_name_a_reported_file_that_exists_from_where_the_user_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    from evalkit.cli.plan import REPORTED

    spec = _spec(tmp_path)
    monkeypatch.chdir(tmp_path if where == "outside" else ROOT)
    code, out = _cli("sweep", str(spec), "--engine", "scripted", "--results", str(tmp_path / "r"))
    assert code == 0, out
    named = re.search(r"evalkit claims \S+ --reported (\S+)", out)
    assert named is not None, out
    assert Path(named.group(1)).resolve() == REPORTED.resolve() and Path(named.group(1)).is_file()
    assert named.group(1) == ("paper_figs/s1_reported.yaml" if where == "checkout" else str(REPORTED.resolve()))


def test_without_the_shipped_reported_file_the_next_steps_name_no_missing_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # as from an install without the reported file (neither in the working directory nor shipped)
    monkeypatch.setattr(sys.modules["evalkit.cli.main"], "REPORTED_FILE", "paper_figs/absent_reported.yaml")
    code, out = _cli("sweep", str(_spec(tmp_path)), "--engine", "scripted", "--results", str(tmp_path / "r"))
    assert code == 0 and "next:" in out, out
    assert "_reported.yaml" not in out and "--claims <claims.yaml> --reported <reported.yaml>" in out
