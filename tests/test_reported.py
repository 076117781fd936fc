"""Claims decided from published results alone (C1 with seeds, C2, C5, C9) and the reported-results
file's validation (file:line: key)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

from evalkit.claims import ReportedError, decide, load_reported
from evalkit.cli import app
from evalkit.report.claims import words

ROOT = Path(__file__).resolve().parents[1]
REPORTED = ROOT / "paper_figs" / "s1_reported.yaml"


def _section(md: str, claim: str) -> str:
    return md.split(f"## {claim}:")[1].split("\n## ")[0]


def test_offline_verdicts_with_published_seeds(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["claims", "--reported", str(REPORTED), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "claims.md").read_text()
    for c in ("C1", "C2", "C5", "C9"):
        s = _section(md, c)
        assert "needs generations" not in s and "- k:" in s and "- Source:" in s and "- n:" in s, (c, s)
    # C2: the chi-square interval of an SD of 6.9 points over 10 seeds, computed here independently
    lo, hi = 6.9 * math.sqrt(9 / stats.chi2.ppf(0.975, 9)), 6.9 * math.sqrt(9 / stats.chi2.ppf(0.025, 9))
    c2 = _section(md, "C2")
    assert "Verdict: supported" in c2 and f"SD [{lo:.1f}, {hi:.1f}] points" in c2
    assert "9.1 points" in c2 and "8.9 at a mean of 61.3%" in c2  # the largest SD 30 problems allow
    assert "median 4.6 and maximum 8.9" in c2 and "greedy vs sampled" in c2
    t = stats.t.isf(0.025, 9) * 6.9 * math.sqrt(1 + 1 / 10)  # one more run's 95% prediction interval
    assert f"[{61.3 - t:.1f}%, {61.3 + t:.1f}%]" in c2 and "-0.67 seed SDs" in c2
    # C1 with seeds: the fixed problem set (SE = SD/sqrt(k)) and the population of problems
    c1 = _section(md, "C1")
    h = stats.t.isf(0.025, 9) * 6.9 / math.sqrt(10)
    assert f"[{16.7 - h:+.1f}, {16.7 + h:+.1f}]" in c1 and "ahead on this problem set" in c1
    # population of problems: Wilson on the Korn-Graubard effective n, the SE taken at the SD's lower bound,
    # and MOVER against o1-preview's Wilson interval on 30 problems; recomputed here from scipy alone
    z, t29 = stats.norm.isf(0.025), stats.t.isf(0.025, 29)
    sd_lo = 0.069 * math.sqrt(9 / stats.chi2.isf(0.025, 9))
    within = 30 * sd_lo ** 2
    se = math.sqrt(((0.613 * 0.387 - within) + within / 10) / 30)

    def wilson(p: float, n: float) -> tuple[float, float]:
        d = 1 + z * z / n
        c, h = (p + z * z / (2 * n)) / d, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
        return c - h, c + h

    l1, u1 = wilson(0.613, 0.613 * 0.387 / se ** 2 * (z / t29) ** 2)
    l2, u2 = wilson(0.446, 30)
    d = 0.613 - 0.446
    lo, hi = d - math.hypot(0.613 - l1, u2 - 0.446), d + math.hypot(u1 - 0.613, 0.446 - l2)
    assert f"difference [{100 * lo:+.1f}, {100 * hi:+.1f}] (MOVER" in c1 and "population of problems" in c1
    assert "inconclusive: 30 problems cannot separate them" in c1
    # C9: trend tests over both AIME24 ladders and the most favourable paired case
    c9 = _section(md, "C9")
    assert "Verdict: supported" in c9 and "p = 0.605" in c9 and "p = 0.925" in c9 and "McNemar p = 0.500" in c9
    assert "auto: 15/30" in c9 and "minimum detectable slope" in c9
    assert "## Sources" in md and "8fceffdd" in md


def test_cochran_armitage_matches_a_direct_computation() -> None:
    v = next(x for x in decide(load_reported(REPORTED), []) if x.claim == "C9")
    x, k, n = [0, 2, 4], [15, 16, 17], 30
    pbar = sum(k) / (3 * n)
    xm = sum(x) / 3
    zz = sum((xi - xm) * ki for xi, ki in zip(x, k, strict=True)) / math.sqrt(
        pbar * (1 - pbar) * n * sum((xi - xm) ** 2 for xi in x))
    assert f"z = {zz:.2f}, p = {2 * stats.norm.sf(zz):.3f}" in words(v).details[0]


GOOD = """\
sources:
  a: "Source A"
benchmarks:
  aime24: {n: 30}
results:
  - {benchmark: aime24, system: X, accuracy: 50.0, source: a}
  - {benchmark: aime24, system: X, seeds: 4, mean: 55.0, sd: 5.0, source: a}
"""

BAD = [
    (GOOD + "extra: 1\n", 8, "extra", "unknown key"),
    (GOOD.replace("sd: 5.0", "sd: -1"), 7, "results[1].sd", "greater than or equal"),
    (GOOD.replace("seeds: 4, mean: 55.0, sd: 5.0", "seeds: 3, per_seed: [50, 60]"), 7, "results[1]",
     "per_seed lists 2"),
    (GOOD.replace("seeds: 4, mean: 55.0, sd: 5.0", "mean: 10, per_seed: [50, 60]"), 7, "results[1]",
     "not the mean of per_seed"),
    (GOOD.replace("source: a}\n  - {", "source: b}\n  - {"), 6, "results[0].source", "unknown source 'b'"),
    (GOOD.replace("accuracy: 50.0, source", "accuracy: 50.0, benchmark: math500, source").replace(
        "{benchmark: aime24, system: X, accuracy", "{system: X, accuracy"), 6, "results[0].benchmark",
     "unknown benchmark"),
    (GOOD.replace("accuracy: 50.0, ", ""), 6, "results[0]", "give accuracy"),
    (GOOD.replace("accuracy: 50.0", "accuracy: 150"), 6, "results[0].accuracy", "less than or equal"),
    (GOOD.replace("seeds: 4, mean: 55.0, sd: 5.0", "seeds: 1, mean: 55.0, sd: 5.0"), 7, "results[1]", "seeds >= 2"),
    (GOOD.replace("seeds: 4, mean: 55.0, sd: 5.0", "mean: 55.0, sd: 5.0"), 7, "results[1]", "needs seeds"),
    (GOOD + "forcing_ladder:\n  - {benchmark: aime24, system: X, control: Wait, source: a, "
            "steps: [{ignores: 0, accuracy: 50}]}\n", 9, "forcing_ladder[0].steps", "at least 2"),
    (GOOD + "sources:\n  b: B\n", 8, "sources", "duplicate key"),
    ("- a list\n", 1, "", "mapping"),
]


@pytest.mark.parametrize("text,line,key,msg", BAD)
def test_malformed_reported_files_name_key_and_line(tmp_path: Path, text: str, line: int, key: str, msg: str) -> None:
    f = tmp_path / "rep.yaml"
    f.write_text(text)
    with pytest.raises(ReportedError) as e:
        load_reported(f)
    assert f"rep.yaml:{line}: {key}" in str(e.value) and msg in str(e.value), str(e.value)
    res = CliRunner().invoke(app, ["claims", "--reported", str(f), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and msg in res.output and not (tmp_path / "out").exists()


def test_the_good_file_loads() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "rep.yaml"
        f.write_text(GOOD)
        rep = load_reported(f)
    r = rep.result("aime24", "X", multi_seed=True)
    assert r.k == 4 and r.center == pytest.approx(0.55) and r.seed_sd == pytest.approx(0.05)
