"""Claims from reported numbers, figures from results, HTML reports."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from evalkit.cli import app
from tests.test_sweep import run

ROOT = Path(__file__).resolve().parents[1]


def test_claims_from_reported_numbers_offline(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["claims", "--reported", str(ROOT / "paper_figs/s1_reported.yaml"),
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "claims.md").read_text()
    # C1: both Wilson 95% intervals at n = 30, with their numbers, and the test
    assert "C1" in md and "[39.2%, 72.7%]" in md and "[28.5%, 62.0%]" in md and "z = 0.94" in md
    assert "Verdict: inconclusive" in md.split("## C2")[0]
    c5 = md.split("## C5")[1].split("## C6")[0]
    assert "Verdict: supported" in c5 and "465/500 -> 461/500" in c5 and "0.125" in c5
    assert md.count("needs generations") >= 4  # C2, C3, C4, C6, C7 need sweeps
    html = (tmp_path / "claims.html").read_text()
    assert html.startswith("<!doctype html>") and "<h2>" in html


def test_claims_from_results(tmp_path: Path) -> None:
    spec = """\
name: cl
model: {id: scripted, flops_config: smollm2-135m}
tasks: [{name: aime24}]
seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40, 160], ignores: [0, 1], controls: [Wait, Hmm]}
parallel: {n: 4, caps: [40]}
"""
    run(tmp_path, spec)
    res = CliRunner().invoke(
        app,
        [
            "claims",
            str(tmp_path / "cl"),
            "--reported",
            str(ROOT / "paper_figs/s1_reported.yaml"),
            "--out",
            str(tmp_path / "claims"),
            "--allow-scripted",
        ],
    )
    assert res.exit_code == 0, res.output
    md = (tmp_path / "claims" / "claims.md").read_text()
    for c in ("C2", "C3", "C4", "C8"):
        section = md.split(f"## {c}")[1].split("## C")[0]
        assert "needs generations" not in section, (c, section)
        assert "Interval" in section


def test_figures_render_and_state_design(tmp_path: Path) -> None:
    spec = """\
name: figs
model: {id: scripted, flops_config: smollm2-135m}
tasks: [{name: math500, where: {level: [1]}, limit: 10}]
seeds: [0, 1, 2]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [30, 90, 270], ignores: [0, 1], controls: [Wait, Hmm]}
parallel: {n: 4, caps: [30]}
"""
    run(tmp_path, spec)
    res = CliRunner().invoke(app, ["figures", str(tmp_path / "figs")])
    assert res.exit_code == 0, res.output
    figs = tmp_path / "figs" / "figures"
    for name in ("scaling_curve", "control_tokens", "seed_variance", "problem_heatmap"):
        assert (figs / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert (figs / f"{name}.pdf").read_bytes()[:5] == b"%PDF-", name
    assert list(figs.glob("matched_*.png"))
    rep = CliRunner().invoke(app, ["report", str(tmp_path / "figs")])
    assert rep.exit_code == 0
    html = (tmp_path / "figs" / "report.html").read_text()
    assert "<table>" in html and "95% CI (problems)" in html


def test_paper_forcing_ladder_script(tmp_path: Path) -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(ROOT / "paper_figs/forcing_ladder.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "forcing_ladder.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "forcing_ladder.pdf").read_bytes()[:5] == b"%PDF-"
