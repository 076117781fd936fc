"""Results that cannot mislead (issue #41): rows of the scripted test engine are marked in every output and
decide no claim; a verdict names what it stands on; a changed spec never mixes silently with the stored
experiment, and cells added on purpose are labelled by each setting that differs."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.pipeline import plan_changes
from evalkit.report.provenance import TEST_DOUBLE_TITLE
from evalkit.spec import SpecError, build_plan, parse_spec
from evalkit.store import ResultStore
from evalkit.store.provenance import cell_settings, differing_settings, model_sources
from tests.test_sweep import run

SPEC = """\
name: cl
model: {id: scripted, flops_config: smollm2-135m}
tasks: [{name: aime24}]
seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40, 160], ignores: [0, 1], controls: [Wait, Hmm]}
parallel: {n: 4, caps: [40]}
"""

SMALL = """\
name: my_l1
model: {id: smollm2-135m, flops_config: smollm2-135m}
tasks: [{name: math500, where: {level: [1]}, limit: 8}]
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40, 160], ignores: [0, 1]}
parallel: {n: 4, caps: [40]}
"""


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def scripted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("prov")
    run(tmp, SPEC)
    return tmp / "cl"


def test_the_manifest_records_the_engine_and_that_it_is_a_test_double(scripted_dir: Path) -> None:
    m = ResultStore(scripted_dir).read_manifest()["models"]["scripted"]
    assert m["engine"] == "scripted" and m["test_double"] is True
    # a manifest written before the engine kind was recorded: the resolver's kind still tells
    old = model_sources({"models": {"x": {"kind": "scripted", "path": "x"}, "q": {"kind": "pack"}}})
    assert old["x"].test_double and old["x"].engine == "scripted"
    assert not old["q"].test_double and old["q"].engine == "vllm"
    served = model_sources({"models": {"s": {"kind": "pack", "server": {"urls": ["http://h:1/v1"]}}}})
    assert served["s"].engine == "server" and not served["s"].test_double
    imported = model_sources({"imported": {"format": "lm-eval samples"}}, ["scripted", "Qwen/Qwen2.5-7B"])
    assert imported["scripted"].test_double and not imported["Qwen/Qwen2.5-7B"].test_double


def test_a_scripted_report_carries_the_banner_everywhere(scripted_dir: Path) -> None:
    res = invoke("report", scripted_dir)
    assert res.exit_code == 0, res.output
    assert TEST_DOUBLE_TITLE in res.output.split("| task |")[0]  # the panel, before any table
    md = (scripted_dir / "report.md").read_text()
    head = md.split("| task |")[0]
    assert TEST_DOUBLE_TITLE in head and "## scripted (scripted test engine: not model output)" in head
    html = (scripted_dir / "report.html").read_text()
    assert "<blockquote role='alert'><strong>" + TEST_DOUBLE_TITLE in html


def test_every_figure_of_scripted_rows_is_titled_with_the_banner(scripted_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    saved: dict[str, list[str]] = {}
    real = Figure.savefig

    def record(fig: Figure, fname: object, *a: object, **kw: object) -> None:
        saved[Path(str(fname)).name] = [t.get_text() for t in fig.findobj(Text)]
        real(fig, fname, *a, **kw)

    monkeypatch.setattr(Figure, "savefig", record)
    matplotlib.use("Agg")
    res = invoke("figures", scripted_dir, "--out", tmp_path / "f")
    assert res.exit_code == 0, res.output
    pngs = {k: v for k, v in saved.items() if k.endswith(".png")}
    assert {"scaling_curve.png", "control_tokens.png", "seed_variance.png", "problem_heatmap.png"} <= set(pngs)
    assert any(k.startswith("matched_") for k in pngs)
    for name, texts in pngs.items():
        assert any(TEST_DOUBLE_TITLE in t for t in texts), name


def test_claims_are_not_decided_from_scripted_rows(scripted_dir: Path, tmp_path: Path) -> None:
    res = invoke("claims", scripted_dir, "--out", tmp_path / "c")
    assert res.exit_code == 0, res.output
    md = (tmp_path / "c" / "claims.md").read_text()
    assert TEST_DOUBLE_TITLE in md.split("## C1")[0]
    for c in ("C2", "C3", "C4", "C8"):  # each would be decided from these rows (test_claims_figures)
        section = md.split(f"## {c}:")[1].split("\n## ")[0]
        assert "**Verdict: not decidable: scripted engine**" in section, (c, section)
        assert "supported" not in section and "inconclusive" not in section
    # the flag meant for evalkit's own tests decides them, and each verdict says what it stands on
    res = invoke("claims", scripted_dir, "--out", tmp_path / "t", "--allow-scripted")
    assert res.exit_code == 0, res.output
    md = (tmp_path / "t" / "claims.md").read_text()
    assert "only because --allow-scripted was given" in md.split("## C1")[0]
    for c in ("C2", "C3", "C4", "C8"):
        section = md.split(f"## {c}:")[1].split("\n## ")[0]
        assert "not decidable" not in section and "needs generations" not in section
        stands = next(line for line in section.splitlines() if line.startswith("- Stands on: "))
        assert "scripted (scripted test engine: not model output): aime24, 30 problems x 10 seeds" in stands, stands
    c2 = md.split("## C2:")[1].split("\n## ")[0]
    assert "1 cells" in c2  # the one cell the seed variance was measured on


def test_a_claim_bound_to_a_model_or_benchmark_is_not_applicable_to_others(scripted_dir: Path,
                                                                           tmp_path: Path) -> None:
    claims = tmp_path / "claims.yaml"
    claims.write_text("""\
claims:
  - {id: S1, statement: s1-32B's seed variance, kind: seed_variance, parameters: {benchmark: aime24},
     sources: [me], applies_to: {models: [s1-32B]}}
  - {id: M5, statement: forcing beats voting on MATH500, kind: matched_compute, sources: [me],
     applies_to: {benchmarks: [math500]}}
  - {id: OK, statement: forcing beats voting on AIME24, kind: matched_compute, sources: [me],
     applies_to: {models: [Scripted], benchmarks: [aime24]}}
""")
    res = invoke("claims", scripted_dir, "--claims", claims, "--out", tmp_path / "c", "--allow-scripted")
    assert res.exit_code == 0, res.output
    md = (tmp_path / "c" / "claims.md").read_text()
    s1, m5, ok = (md.split(f"## {c}:")[1].split("\n## ")[0] for c in ("S1", "M5", "OK"))
    assert "**Verdict: not applicable**" in s1 and "models: s1-32B" in s1 and "scripted on aime24" in s1
    assert "**Verdict: not applicable**" in m5 and "benchmarks: math500" in m5
    assert "not applicable" not in ok and "- Stands on: scripted" in ok
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims:\n  - {id: X, statement: x, kind: matched_compute, sources: [me],\n"
                   "     applies_to: {model: [a]}}\n")
    res = invoke("claims", scripted_dir, "--claims", bad, "--out", tmp_path / "b")
    assert res.exit_code == 2 and "bad.yaml:3: claims[0].applies_to.model: unknown key" in res.output


def _write(tmp: Path, text: str, name: str = "spec") -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(text)
    return p


def test_a_changed_temperature_under_an_existing_name_is_refused_naming_the_key(tmp_path: Path) -> None:
    root = tmp_path / "results"
    res = invoke("sweep", _write(tmp_path, SMALL), "--engine", "scripted", "--results", root, "--no-report")
    assert res.exit_code == 0, res.output
    store = ResultStore(root / "my_l1")
    before = {p: p.read_bytes() for p in sorted(store.root.rglob("*")) if p.is_file() and "logs" not in p.parts}
    changed = _write(tmp_path, SMALL.replace("temperature: 0.7", "temperature: 1.0"), "changed")
    for extra in (["--dry-run"], []):
        res = invoke("sweep", changed, "--engine", "scripted", "--results", root, *extra)
        assert res.exit_code == 2, res.output
        assert "sampling.temperature: 0.7 -> 1.0" in res.output and "--add-cells" in res.output
        after = {p: p.read_bytes() for p in sorted(store.root.rglob("*")) if p.is_file() and "logs" not in p.parts}
        assert after == before  # nothing written
    # the same experiment grows freely: more seeds, another cap
    grown = SMALL.replace("seeds: [0, 1]", "seeds: [0, 1, 2]").replace("[40, 160], ig", "[40, 160, 320], ig")
    res = invoke("sweep", _write(tmp_path, grown, "grown"), "--engine", "scripted", "--results", root, "--no-report")
    assert res.exit_code == 0, res.output
    # on purpose: the new cells are added and every table labels them by temperature
    res = invoke("sweep", changed, "--engine", "scripted", "--results", root, "--add-cells")
    assert res.exit_code == 0, res.output
    md = (root / "my_l1" / "report.md").read_text()
    table = md.split("## smollm2-135m")[1].split("\n\n")[1].splitlines()
    assert table[0].startswith("| task | temperature | cap |")
    assert [r.split(" | ")[1] for r in table[2:]] == ["0.7"] * 7 + ["1.0"] * 5
    votes = md.split("## Parallel sampling: majority vote")[1].split("\n\n")[1].splitlines()
    assert votes[0].startswith("| task | temperature | cap |")
    # the matched-compute comparison: one per temperature, never pooled
    assert md.count("at matched flops_prefix_cached (temperature=0.7)") == 1
    assert md.count("at matched flops_prefix_cached (temperature=1.0)") == 1
    runs = json.loads((root / "my_l1" / "manifest.json").read_text())["runs"]
    assert runs[-1]["added_cells_differing_in"] == ["sampling.temperature: 0.7 -> 1.0"]
    assert "**Settings differ between runs** (added with --add-cells): sampling.temperature: 0.7 -> 1.0" in md


@pytest.mark.parametrize(("old", "new", "key"), [
    ("limit: 8", "limit: 9", "tasks[math500].limit: 8 -> 9"),
    ("level: [1]", "level: [2]", 'tasks[math500].where: {"level": [1]} -> {"level": [2]}'),
    ("id: smollm2-135m", "id: qwen2.5-coder-0.5b", "model: smollm2-135m -> qwen2.5-coder-0.5b"),
    ("answer_max_tokens: 30", "answer_max_tokens: 60", "sampling.answer_max_tokens: 30 -> 60"),
    ("flops_config: smollm2-135m}", "flops_config: smollm2-135m, engine: {dtype: float32}}",
     "model[smollm2-135m].engine.dtype: - -> float32"),
    ("seeds: [0, 1]", "seeds: [0, 1]\nthink_format: think_tags", "think_format: s1 -> think_tags"),
])
def test_each_setting_that_defines_a_cell_is_compared(tmp_path: Path, old: str, new: str, key: str) -> None:
    run(tmp_path, SMALL)
    changed = build_plan(parse_spec(SMALL.replace(old, new)))
    assert key in plan_changes(changed, ResultStore(tmp_path / "my_l1"))
    from evalkit.pipeline import check_store

    with pytest.raises(SpecError, match="--add-cells"):
        check_store(changed, ResultStore(tmp_path / "my_l1"))
    assert plan_changes(build_plan(parse_spec(SMALL)), ResultStore(tmp_path / "my_l1")) == []


def test_settings_are_compared_within_a_method_and_a_task() -> None:
    key = {"task": "a", "model": "m", "think_format": "s1", "selection": {"name": "a", "where": {}, "limit": None},
           "forcing": {"cap": 40, "n_ignore": 0, "controls": [], "min_tokens": 0},
           "sampling": {"temperature": 0.7, "top_p": 1.0, "answer_max_tokens": 30}}
    other_task = {**key, "task": "b", "selection": {"name": "b", "where": {"level": [1]}, "limit": 5}}
    parallel = {**key, "method": "parallel", "n_samples": 4, "sampling": {**key["sampling"], "temperature": 1.0}}
    bigger_cap = {**key, "forcing": {**key["forcing"], "cap": 160}}
    # one experiment: two tasks with their own selections, a parallel family at its own temperature, a grid
    assert differing_settings({"1": key, "2": other_task, "3": parallel, "4": bigger_cap}) == []
    hot = {**key, "forcing": {**key["forcing"], "cap": 80}, "sampling": {**key["sampling"], "temperature": 1.0}}
    assert differing_settings({"1": key, "2": hot, "3": parallel}) == ["sampling.temperature"]
    assert cell_settings({"1": key, "2": hot})["2"] == {"temperature": "1.0"}
