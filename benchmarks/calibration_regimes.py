"""The three regimes of issue #28, at the sizes users have: coverage (and the paired test's type-I
error) of the intervals evalkit prints, 1,000 simulations per row by default.

    python benchmarks/calibration_regimes.py [--sims 1000]

- ``unequal seeds``: problems p ~ Beta(0.6, 0.9); half of them on one seed and the rest on S seeds, or
  (198 problems) 188 on one seed and 10 on S: ``fixed_set_interval`` (these problems) and
  ``accuracy_interval`` (population);
- ``shared outcomes``: two cells of one trajectory tree (the same random numbers), the second gaining on
  10% or 20% of problems (where it differs, each unit is solved with probability max(own, 0.5)):
  ``paired_interval`` coverage; and a sparse null (the two cells' accuracies an independent pair,
  assigned at random, on 10% of problems): ``paired_t_test`` type-I error at 0.05;
- ``weak model``: 80% of problems never solved, the rest p ~ Beta(0.5, 5) (accuracy 1.8%):
  ``accuracy_interval`` and ``fixed_set_interval``.
The ``before`` column quotes the issue's measurements of evalkit 0.2's intervals where it gave them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalkit.analyze import accuracy_interval, fixed_set_interval, paired_interval, paired_t_test

SIZES = (12, 30, 198, 500)
SEEDS = (1, 4, 16, 64)
BEFORE = {("unequal seeds", "fixed set", 198, 4, "half on one seed"): 0.626,
          ("unequal seeds", "fixed set", 198, 10, "188 on one seed"): 0.113,
          ("shared outcomes", "paired", 30, 1, "gain on 10%"): 0.605,
          ("shared outcomes", "paired", 30, 4, "gain on 10%"): 0.761,
          ("shared outcomes", "paired", 30, 16, "gain on 10%"): 0.834,
          ("weak model", "accuracy", 30, 16, ""): 0.898, ("weak model", "accuracy", 30, 64, ""): 0.874,
          ("weak model", "fixed set", 30, 4, ""): 0.795}


def _weak(rng: np.random.Generator, P: int) -> np.ndarray:
    return np.where(rng.random(P) < 0.8, 0.0, rng.beta(0.5, 5, P))


def unequal(P: int, S: int, pattern: str, sims: int, rng: np.random.Generator) -> list[tuple[str, float]]:
    singles = P - 10 if pattern == "188 on one seed" else P // 2
    hits = {"fixed set": 0, "accuracy": 0}
    for _ in range(sims):
        p = rng.beta(0.6, 0.9, P)
        c = (rng.random((P, S)) < p[:, None]).astype(float)
        c[:singles, 1:] = np.nan
        f, a = fixed_set_interval(c), accuracy_interval(c)
        hits["fixed set"] += f.low <= p.mean() <= f.high
        hits["accuracy"] += a.low <= 0.4 <= a.high
    return [(k, v / sims) for k, v in hits.items()]


def shared(P: int, S: int, frac: float, sims: int, rng: np.random.Generator) -> float:
    truth = -frac * 0.5 * 0.6
    hits = 0
    for _ in range(sims):
        p = rng.beta(0.6, 0.9, P)
        u = rng.random((P, S))
        a = (u < p[:, None]).astype(float)
        hit = rng.random(P) < frac
        b = np.where(hit[:, None], np.maximum(a, rng.random((P, S)) < 0.5), a)
        iv = paired_interval(a, b)
        hits += iv.low <= truth <= iv.high
    return hits / sims


def sparse_null(P: int, S: int, sims: int, rng: np.random.Generator) -> float:
    rej = 0
    for _ in range(sims):
        pa, other = rng.beta(0.6, 0.9, P), rng.beta(0.6, 0.9, P)
        hit, flip = rng.random(P) < 0.1, rng.random(P) < 0.5
        a_p, b_p = np.where(hit & flip, other, pa), np.where(hit & ~flip, other, pa)
        u = rng.random((P, S))
        rej += paired_t_test((u < a_p[:, None]).astype(float), (u < b_p[:, None]).astype(float)).pvalue <= 0.05
    return rej / sims


def weak(P: int, S: int, sims: int, rng: np.random.Generator) -> list[tuple[str, float]]:
    truth = 0.2 * 0.5 / 5.5
    hits = {"accuracy": 0, "fixed set": 0}
    for _ in range(sims):
        p = _weak(rng, P)
        c = (rng.random((P, S)) < p[:, None]).astype(float)
        a = accuracy_interval(c)
        hits["accuracy"] += a.low <= truth <= a.high
        if S >= 2:
            f = fixed_set_interval(c)
            hits["fixed set"] += f.low <= p.mean() <= f.high
    return [(k, v / sims) for k, v in hits.items() if k == "accuracy" or S >= 2]


def run(sims: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []

    def add(regime: str, stat: str, P: int, S: int, variant: str, value: float, kind: str = "coverage") -> None:
        rows.append({"regime": regime, "stat": stat, "P": P, "S": S, "variant": variant, "value": value, "kind": kind,
                     "before": BEFORE.get((regime, stat, P, S, variant))})

    for P in SIZES:
        for S in (2, 4, 10, 64):
            for pattern in ("half on one seed",) + (("188 on one seed",) if P == 198 else ()):
                for stat, v in unequal(P, S, pattern, sims, rng):
                    add("unequal seeds", stat, P, S, pattern, v)
        for S in SEEDS:
            for frac in (0.1, 0.2):
                add("shared outcomes", "paired", P, S, f"gain on {frac:.0%}", shared(P, S, frac, sims, rng))
            add("shared outcomes", "paired test", P, S, "swap on 10% (null)", sparse_null(P, S, sims, rng), "type-I")
            for stat, v in weak(P, S, sims, rng):
                add("weak model", stat, P, S, "", v)
    return rows


def render(rows: list[dict], sims: int) -> str:
    lines = ["| regime | statistic | problems | seeds | design | measure | value | MC SE | before (issue) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        se = math.sqrt(max(r["value"] * (1 - r["value"]), 0.05 * 0.95 / 4) / sims)
        before = "" if r["before"] is None else f"{r['before']:.3f}"
        lines.append(f"| {r['regime']} | {r['stat']} | {r['P']} | {r['S']} | {r['variant']} | {r['kind']} | "
                     f"{r['value']:.3f} | {se:.3f} | {before} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=1000)
    a = ap.parse_args()
    t0 = time.perf_counter()
    rows = run(a.sims)
    print(render(rows, a.sims))
    cov = [r["value"] for r in rows if r["kind"] == "coverage"]
    t1 = [r["value"] for r in rows if r["kind"] == "type-I"]
    print(f"\n{len(rows)} rows, {a.sims} simulations each: coverage {min(cov):.3f} - {max(cov):.3f}, "
          f"type-I {min(t1):.3f} - {max(t1):.3f}; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
