"""Regenerate s1's budget-forcing ladders (AIME24, MATH500) from the reported numbers, with the
Wilson 95% interval of each point, so the reader sees what a 30- or 500-problem benchmark can resolve.

    python paper_figs/forcing_ladder.py [--reported paper_figs/s1_reported.yaml] [--out paper_figs/out]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evalkit.analyze import wilson_rate
from evalkit.claims import load_reported
from evalkit.report.plotting import DPI, pyplot, save

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reported", type=Path, default=HERE / "s1_reported.yaml")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    a = ap.parse_args()
    rep = load_reported(a.reported)
    ladders = rep.forcing_ladder
    fig, axes = pyplot().subplots(1, len(ladders), figsize=(4.2 * len(ladders), 3.6), dpi=DPI, layout="constrained")
    for ax, lad in zip(axes, ladders, strict=True):
        n = rep.benchmarks[lad.benchmark].n
        ks = [0 if s.ignores == "auto" else s.ignores for s in lad.steps]
        ps = [s.accuracy / 100 for s in lad.steps]
        cis = [wilson_rate(p, n) for p in ps]
        ax.errorbar(ks, [100 * p for p in ps], yerr=[[100 * (p - c.low) for p, c in zip(ps, cis, strict=True)],
                                                      [100 * (c.high - p) for p, c in zip(ps, cis, strict=True)]],
                    fmt="o-", capsize=3)
        ax.set_xticks(ks, [str(s.ignores) for s in lad.steps])
        ax.set_xlabel(f'times "{lad.control}" replaced the end of thinking')
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{lad.system} on {lad.benchmark} (n = {n} problems, 1 run; {rep.cite(lad.source)})\n"
                     "reported numbers; bars: Wilson 95%", fontsize=8)
    save(fig, a.out / "forcing_ladder")  # titles wrapped to their column, PDF + PNG
    print(f"wrote {a.out / 'forcing_ladder.pdf'} and .png")


if __name__ == "__main__":
    main()
