"""Are two results directories the same experiment's same results? The contract of every optimisation:
rows, report tables and verdicts identical before and after, except what measures time.

    python benchmarks/compare_results.py results/a results/b [--claims-a A/claims.md --claims-b B/claims.md]

Compares every stored row (sorted by the sample key) column by column, ignoring the wall-clock fields
(``wall_s`` and ``round_walls_s`` inside ``provenance``); the part files (same names, same rows apart from
those fields); the report's tables (every Markdown table line of report.md); and, when given, the claims'
verdicts and numbers (every line but the sources and what they stand on). Exit 0 when identical, 1 with
each difference printed otherwise. Make the two directories with the same spec and engine, e.g. the
scripted engine from two checkouts (``git worktree add /tmp/base <commit>``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from evalkit.store import ResultStore

TIMING = ("wall_s",)
TIMING_PROVENANCE = ("round_walls_s",)


def _untimed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.drop(columns=[c for c in TIMING if c in df])
    if "provenance" in df:
        def strip(p: object) -> object:
            if not isinstance(p, str):
                return p
            d = json.loads(p)
            return json.dumps({k: v for k, v in d.items() if k not in TIMING_PROVENANCE}, sort_keys=True)
        df = df.assign(provenance=df["provenance"].map(strip))
    return df


def compare_rows(a: Path, b: Path) -> list[str]:
    ra, rb = _untimed(ResultStore(a).read_rows()), _untimed(ResultStore(b).read_rows())
    if len(ra) != len(rb):
        return [f"rows: {len(ra)} vs {len(rb)}"]
    return [f"column {c}: {int((ra[c].astype(str) != rb[c].astype(str)).sum())} rows differ"
            for c in ra.columns if not ra[c].astype(str).equals(rb[c].astype(str))]


def compare_parts(a: Path, b: Path) -> list[str]:
    fa = {f.relative_to(a) for f in (a / "samples").rglob("*.parquet")}
    fb = {f.relative_to(b) for f in (b / "samples").rglob("*.parquet")}
    out = [f"part only in one: {p}" for p in sorted(fa ^ fb)]
    for p in sorted(fa & fb):
        # through the store: a part that stores shared texts by reference reads as the rows it holds
        ta, tb = (_untimed(pd.DataFrame([r.to_dict() for r in ResultStore(root).read_part(root / p)]))
                  for root in (a, b))
        if not ta.astype(str).equals(tb.astype(str)):
            out.append(f"part differs: {p}")
    return out


def _lines(path: Path, keep: object) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if keep(ln)]  # type: ignore[operator]


def compare_text(a: Path, b: Path, keep: object) -> list[str]:
    la, lb = _lines(a, keep), _lines(b, keep)
    return [f"{a.name} line {i}: {x!r} vs {y!r}" for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y] + (
        [f"{a.name}: {len(la)} vs {len(lb)} lines"] if len(la) != len(lb) else [])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--claims-a", type=Path)
    ap.add_argument("--claims-b", type=Path)
    args = ap.parse_args()
    diffs = compare_rows(args.a, args.b) + compare_parts(args.a, args.b)
    if (args.a / "report.md").exists() and (args.b / "report.md").exists():
        diffs += compare_text(args.a / "report.md", args.b / "report.md", lambda ln: ln.startswith("|"))
    if args.claims_a and args.claims_b:
        diffs += compare_text(args.claims_a, args.claims_b,
                              lambda ln: ln.strip() and not ln.startswith(("alpha =", "- Stands on", "> ")))
    for d in diffs:
        print(d)
    n = len(ResultStore(args.a).read_rows(columns=["correct"]))
    print(f"{'identical' if not diffs else f'{len(diffs)} differences'}: {n} rows, timing fields aside")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
