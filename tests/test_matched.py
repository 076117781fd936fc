"""Sequential vs parallel at matched compute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evalkit.analyze import matched_compute
from evalkit.cli import app
from evalkit.report import matched as mt
from evalkit.store import ResultStore
from tests.test_sweep import run

SPEC = """\
name: parity
model: {id: scripted-model, flops_config: qwen2.5-coder-0.5b}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 8
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 40}
sequential:
  caps: [40, 80, 160, 320]
parallel:
  n: N
  caps: [40]
"""


def test_arrays_curves_and_paired_intervals(tmp_path: Path) -> None:
    run(tmp_path, SPEC.replace("N", "4"))
    df = ResultStore(tmp_path / "parity").read_rows()
    for x in mt.X_CHOICES:
        m, arrs = mt.compare(df, x, n_boot=300)
        assert len(arrs["seq_acc"]) == 4 and arrs["par_labels"] == ["maj@1 of 4", "maj@2 of 4", "maj@4 of 4"]
        assert (np.diff(m.grid) > 0).all()
        for d in m.difference:
            assert d.low <= d.estimate <= d.high
        assert m.area.low <= m.area.estimate <= m.area.high
        # the parallel family's compute grows linearly in k (shared prompt aside)
        xs = [a.mean() for a in arrs["par_x"]]
        assert xs[0] < xs[1] < xs[2]
    # independent of row order
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a, _ = mt.compare(df, "tokens", n_boot=200)
    b, _ = mt.compare(shuffled, "tokens", n_boot=200)
    assert np.allclose(a.sequential, b.sequential) and np.allclose(a.parallel, b.parallel)
    assert a.area.estimate == pytest.approx(b.area.estimate)
    assert (a.area.low, a.area.high) == pytest.approx((b.area.low, b.area.high))


def test_parallel_k1_equals_unforced_sequential_cell(tmp_path: Path) -> None:
    run(tmp_path, SPEC.replace("N", "1"))
    df = ResultStore(tmp_path / "parity").read_rows()
    arrs = mt.family_arrays(df, "flops_prefix_cached")
    i = arrs["seq_labels"].index("cap 40, ignore 0")
    assert np.array_equal(arrs["par_acc"][0], arrs["seq_acc"][i])
    assert np.allclose(arrs["par_x"][0], arrs["seq_x"][i])


def test_report_writes_comparison_and_figure(tmp_path: Path) -> None:
    run(tmp_path, SPEC.replace("N", "4"))
    res = CliRunner().invoke(app, ["report", str(tmp_path / "parity")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "parity" / "report.md").read_text()
    assert "matched flops_prefix_cached" in md and "Signed area" in md
    png = tmp_path / "parity" / "figures" / "matched_flops_prefix_cached.png"
    pdf = png.with_suffix(".pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"


def test_no_overlap_is_a_clear_error() -> None:
    a = [np.ones((3, 2))]
    with pytest.raises(ValueError, match="do not overlap"):
        matched_compute(a, [np.full((3, 2), 10.0)], a, [np.full((3, 2), 1000.0)], n_boot=10)
