"""Calibration of what `evalkit claims` computes from published summaries alone (30 problems):

- C9's Cochran-Armitage trend test over a budget-forcing ladder: its level when there is no trend,
  with the steps sharing their problems (each step is one run on the same 30 problems: independent
  seeds, or greedy runs whose outcomes repeat across steps), and its power for the reported slope;
- C1's population-of-problems interval for a k-seed mean, whose SE is recovered from the published
  seed SD (``evalkit.analyze.seed_spread``): its coverage of the population mean;
- C2's chi-square SD interval (also in benchmarks/calibration.py, "seed SD").

    python benchmarks/claims_calibration.py [--sims 4000]

Problem accuracies follow the designs of benchmarks/calibration.py (hetero, homog, aime).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from benchmarks.calibration import DESIGNS, MEAN, draw
from evalkit.analyze import ladder_trend, population_interval, sd_interval

N = 30


def ladder(p: np.ndarray, steps: int, slope: float, greedy: float, rng: np.random.Generator) -> np.ndarray:
    """Accuracy of each step: one run on the problems ``p`` (+ ``slope`` per step, in accuracy); a fraction ``greedy``
    of the problems keep one outcome across steps (deterministic decoding), the rest draw anew."""
    u = rng.random(len(p))
    keep = rng.random(len(p)) < greedy
    out = []
    for j in range(steps):
        q = np.clip(p + slope * j, 0, 1)
        fresh = rng.random(len(p))
        out.append(float(np.mean(np.where(keep, u, fresh) < q)))
    return np.array(out)


def trend_rows(sims: int, rng: np.random.Generator) -> list[str]:
    rows = []
    for design in DESIGNS:
        for steps in (3, 9):
            for greedy in (0.0, 0.9):
                for slope, what in ((0.0, "level"), (0.0167, "power")):  # per ignore: the newsletter's slope
                    x = [2 * j for j in range(steps)] if steps == 3 else list(range(steps))  # as the ladders
                    ps = [ladder_trend(x, list(ladder(draw(design, rng, N), steps, slope * (x[1] - x[0]),
                                                      greedy, rng)), N).p for _ in range(sims)]
                    rej = float(np.mean(np.array(ps) < 0.05))
                    rows.append(f"| trend ({what}) | {design} | {steps} | {greedy:.1f} | "
                                f"{'0' if not slope else f'{100 * slope:.2f} per ignore'} | {rej:.3f} |")
    return rows


def population_rows(sims: int, rng: np.random.Generator) -> list[str]:
    rows = []
    for design in DESIGNS:
        for k in (4, 10):
            cover = sd_cover = 0
            for _ in range(sims):
                p = draw(design, rng, N)
                runs = (rng.random((N, k)) < p[:, None]).mean(axis=0)  # per-seed accuracies
                m, sd = float(runs.mean()), float(runs.std(ddof=1))
                lo, hi = population_interval(m, sd, N, k)
                cover += lo <= MEAN[design] <= hi
                lo, hi = sd_interval(sd, k)
                sd_cover += lo <= math.sqrt(np.sum(p * (1 - p))) / N <= hi
            rows.append(f"| population interval of a k-seed mean | {design} | {k} | {cover / sims:.3f} | "
                        f"chi-square SD interval, these problems | {sd_cover / sims:.3f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=4000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    print("| test | design | steps | greedy share | true slope (points) | rejection rate at 0.05 |")
    print("|---|---|---|---|---|---|")
    for r in trend_rows(a.sims, rng):
        print(r)
    print()
    print("| interval | design | k | coverage (nominal 0.95) | interval | coverage |")
    print("|---|---|---|---|---|---|")
    for r in population_rows(a.sims, rng):
        print(r)


if __name__ == "__main__":
    main()
