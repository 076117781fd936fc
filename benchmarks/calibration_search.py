"""Calibration off the grid: random designs searched for the intervals' failures (issue #28).

    python benchmarks/calibration_search.py                       # 300 designs x 400 simulations, then
                                                                  # the 12 worst rechecked at 2,000
    python benchmarks/calibration_search.py --designs 40 --sims 200 --recheck 4 --recheck-sims 1000

A random design draws:
- a size: P from {12, 20, 30, 60, 100, 198, 500} and S seeds from {1, 2, 3, 4, 8, 16, 32, 64};
- a difficulty mixture: point masses at 0 (never solved) and 1 (always solved) with random weights
  (0 to 0.9 together), the rest Beta(a, b) with a, b log-uniform on [0.15, 20] (skewed, U-shaped,
  concentrated: anything);
- ragged seeds (half the designs): a random fraction of problems with one seed only, units missing
  at random, or most problems on one seed and a few on all, independently per cell;
- a paired structure: a second cell that shares the first's random numbers (cells of one trajectory
  tree: a unit's outcome is ``u < p`` with the same ``u`` in both cells) or draws its own; the
  second cell's accuracy differs on a random fraction of problems (2% to 100%), by a one-sided gain,
  a one-sided loss, or a symmetric swap (a null: the mean difference is 0).
Each statistic the report, figures and claims print is run on every simulated benchmark of a design
(the bootstrap ones, ``scaling_curve``'s Scaling and Performance and ``matched_compute``'s mean
difference, on every third design without missing seeds, as the report draws complete cells only: a budget-forcing
family of three cells sharing random numbers and a
parallel family of two, closing 0-25% and 7.5-20% of each problem's gap to 1):
``accuracy_interval`` (population), ``fixed_set_interval`` (this problem set; where some problem has
two or more units), ``paired_interval`` and ``paired_t_test`` (type-I error on null designs),
``subset_difference`` (the last 20% excluded, shifted by a random amount) and ``seed_sd_interval``
(equal seeds, 10 or more, with the problems x seeds matrix, as claim C2 prints it from a sweep). Truths: the population
quantities from 400,000 draws of the design; the fixed-set
truth from the drawn accuracies. The worst designs of each statistic are then simulated again with
fresh random numbers (their first estimate is the minimum of many noisy ones), and those estimates
are what the summary reports, with their Monte Carlo SE.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalkit.analyze import (
    accuracy_interval,
    fixed_set_interval,
    matched_compute,
    paired_interval,
    paired_t_test,
    scaling_curve,
    seed_sd_interval,
    subset_difference,
)
from evalkit.analyze.matched import _curve
from evalkit.analyze.scaling import _metrics

SIZES = (12, 20, 30, 60, 100, 198, 500)
SEEDS = (1, 2, 3, 4, 8, 16, 32, 64)
STATS = ("accuracy", "fixed set", "paired", "paired test", "subset diff", "seed SD")
CURVES = ("scaling slope", "performance", "matched diff")  # bootstrap statistics: every CURVE_EVERY-th design
CURVE_EVERY = 3
SD_SEEDS = 10  # claim C2 prints a seed-SD interval from 10 seeds on (nothing else prints one from a sweep)
SEQ = ((0.0, 100.0), (0.125, 200.0), (0.25, 400.0))  # (share of the gap to 1 closed, tokens): budget forcing
PAR = ((0.075, 150.0), (0.2, 300.0))  # a parallel family


def random_design(rng: np.random.Generator, index: int) -> dict:
    w = rng.dirichlet((1.0, 1.0, 1.0)) * rng.uniform(0, 0.9)
    ragged = rng.choice(["none", "none", "singles", "missing", "few full"])
    return {
        "index": index,
        "P": int(rng.choice(SIZES)), "S": int(rng.choice(SEEDS)),
        "w0": float(w[0]), "w1": float(w[1] if rng.random() < 0.5 else 0.0),
        "a": float(np.exp(rng.uniform(np.log(0.15), np.log(20)))),
        "b": float(np.exp(rng.uniform(np.log(0.15), np.log(20)))),
        "ragged": str(ragged), "ragged_level": float(rng.uniform(0.1, 0.9)),
        "crn": bool(rng.random() < 0.7),
        "carriers": float(np.exp(rng.uniform(np.log(0.02), 0.0))),
        "effect": str(rng.choice(["gain", "loss", "swap"])),
        "size": float(rng.uniform(0.05, 0.8)),
        "shift": float(rng.choice([0.0, 0.1, -0.1])),
    }


def describe(d: dict) -> str:
    mix = f"{d['w0']:.2f}@0 + {d['w1']:.2f}@1 + Beta({d['a']:.2g}, {d['b']:.2g})"
    rag = "" if d["ragged"] == "none" else f", {d['ragged']} {d['ragged_level']:.2f}"
    pair = f"{'CRN' if d['crn'] else 'indep.'} {d['effect']} {d['size']:.2f} on {d['carriers']:.0%}"
    return f"#{d['index']} {d['P']}x{d['S']}{rag}; {mix}; {pair}"


def accuracies(d: dict, rng: np.random.Generator, n: int) -> np.ndarray:
    u = rng.random(n)
    beta = rng.beta(d["a"], d["b"], n)
    return np.where(u < d["w0"], 0.0, np.where(u < d["w0"] + d["w1"], 1.0, beta))


def second_cell(d: dict, pa: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(first cell's, second cell's) accuracies: equal except on a random fraction of problems (the
    carriers), where the second gains or loses, or the two are an independent pair assigned to the
    cells at random (swap: mean difference 0)."""
    hit = rng.random(len(pa)) < d["carriers"]
    if d["effect"] == "gain":
        return pa, np.where(hit, pa + d["size"] * (1 - pa), pa)
    if d["effect"] == "loss":
        return pa, np.where(hit, pa * (1 - d["size"]), pa)
    other = accuracies(d, rng, len(pa))
    flip = hit & (rng.random(len(pa)) < 0.5)
    return np.where(flip, other, pa), np.where(hit, np.where(flip, pa, other), pa)


def truths(d: dict, n: int = 400_000) -> dict[str, float]:
    rng = np.random.default_rng(2024 + d["index"])
    pa = accuracies(d, rng, n)
    pa2, pb = second_cell(d, pa, rng)
    shifted = np.clip(accuracies(d, rng, n) + d["shift"], 0, 1)
    P = d["P"]
    K = P - P // 5
    paired = 0.0 if d["effect"] == "swap" else float(np.mean(pa2 - pb))  # a swap is a null by symmetry
    seq = np.array([_gain(pa, g).mean() for g, _ in SEQ])
    par = np.array([_gain(pa, g).mean() for g, _ in PAR])
    xs, xp = np.array([x for _, x in SEQ]), np.array([x for _, x in PAR])
    slope, perf = _metrics(seq, xs)
    grid = np.linspace(np.log10(max(xs.min(), xp.min())), np.log10(min(xs.max(), xp.max())), 12)
    diff = float(np.trapezoid(_curve(xs, seq, grid) - _curve(xp, par, grid), grid) / (grid[-1] - grid[0]))
    return {"accuracy": float(pa2.mean()), "paired": paired,
            "subset diff": float((1 - K / P) * (pa.mean() - shifted.mean())),
            "scaling slope": float(slope), "performance": float(perf), "matched diff": diff}


def _gain(p: np.ndarray, g: float) -> np.ndarray:
    """A cell that closes a share ``g`` of each problem's gap to 1 (what is left unsolved)."""
    return p + g * (1 - p)


def units(d: dict, rng: np.random.Generator, p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Outcomes ``u < p`` with the design's missing units (NaN), at least one unit per problem."""
    c = (u < p[:, None]).astype(float)
    P, S = c.shape
    lvl = d["ragged_level"]
    if S == 1 or d["ragged"] == "none":
        return c
    if d["ragged"] == "singles":
        rows = rng.random(P) < lvl
        c[rows, 1:] = np.nan
    elif d["ragged"] == "missing":
        drop = rng.random((P, S)) < lvl * 0.6
        drop[np.arange(P), rng.integers(0, S, P)] = False
        c[drop] = np.nan
    else:  # few full: most problems on one seed
        rows = rng.random(P) < max(lvl, 0.5)
        c[rows, 1:] = np.nan
    return c


def simulate(d: dict, sims: int, rng: np.random.Generator, truth: dict[str, float],
             only: tuple[str, ...] = STATS) -> dict[str, list[float]]:
    """Per statistic: [hits, trials, width sum] (coverage) or [rejections, trials] (type-I)."""
    P, S = d["P"], d["S"]
    K = P - P // 5
    keep = np.arange(P) < K
    out: dict[str, list[float]] = {k: [0.0, 0.0, 0.0] for k in only}
    null = d["effect"] == "swap"
    for _ in range(sims):
        pa = accuracies(d, rng, P)
        pa2, pb = second_cell(d, pa, rng)
        ua = rng.random((P, S))
        ub = ua if d["crn"] else rng.random((P, S))
        a, b = units(d, rng, pa2, ua), units(d, rng, pb, ub)
        if "accuracy" in out:
            iv = accuracy_interval(a)
            _hit(out["accuracy"], iv, truth["accuracy"])
        if "fixed set" in out and np.any(np.sum(~np.isnan(a), axis=1) >= 2):
            _hit(out["fixed set"], fixed_set_interval(a), float(pa2.mean()))
        if "paired" in out or "paired test" in out:
            if np.any(np.sum(~np.isnan(a) & ~np.isnan(b), axis=1) == 0):
                continue
            if "paired" in out:
                _hit(out["paired"], paired_interval(a, b), truth["paired"])
            if "paired test" in out and null:
                out["paired test"][0] += paired_t_test(a, b).pvalue <= 0.05
                out["paired test"][1] += 1
        if "subset diff" in out:
            pc = np.where(keep, pa, np.clip(accuracies(d, rng, P) + d["shift"], 0, 1))
            _hit(
                out["subset diff"], subset_difference(units(d, rng, pc, rng.random((P, S))), keep), truth["subset diff"]
            )
        if "seed SD" in out and S >= SD_SEEDS and d["ragged"] == "none":
            true_sd = math.sqrt(float(np.sum(pa2 * (1 - pa2)))) / P
            if true_sd > 0:
                _hit(out["seed SD"], seed_sd_interval(a.mean(axis=0), correct=a), true_sd)
        if any(k in out for k in CURVES) and d["ragged"] == "none":  # the report draws complete cells only
            _curves(d, rng, pa, out, truth)
    return out


def _curves(d: dict, rng: np.random.Generator, pa: np.ndarray, out: dict, truth: dict[str, float]) -> None:
    """One family of budget-forcing cells (one trajectory tree: shared random numbers) and one parallel
    family (their own), through scaling_curve and matched_compute (400 bootstrap resamples each)."""
    P, S = d["P"], d["S"]
    u = rng.random((P, S))
    seq = [units(d, rng, np.clip(_gain(pa, g), 0, 1), u) for g, _ in SEQ]
    par = [units(d, rng, np.clip(_gain(pa, g), 0, 1), rng.random((P, S))) for g, _ in PAR]
    sx = [np.where(np.isnan(c), np.nan, x) for c, (_, x) in zip(seq, SEQ, strict=True)]
    px = [np.where(np.isnan(c), np.nan, x) for c, (_, x) in zip(par, PAR, strict=True)]
    sc = scaling_curve(seq, sx, n_boot=400, seed=int(rng.integers(1 << 31)))
    mc = matched_compute(seq, sx, par, px, n_boot=400, seed=int(rng.integers(1 << 31)))
    for k, iv in (("scaling slope", sc.scaling), ("performance", sc.performance), ("matched diff", mc.mean_difference)):
        if k in out:
            _hit(out[k], iv, truth[k])


def _hit(acc: list[float], iv: object, truth: float) -> None:
    acc[0] += iv.low <= truth <= iv.high  # type: ignore[attr-defined]
    acc[1] += 1
    acc[2] += iv.high - iv.low  # type: ignore[attr-defined]


def search(n_designs: int, sims: int, seed: int = 0, log=print) -> list[dict]:  # noqa: ANN001
    """Every statistic on ``n_designs`` random designs, ``sims`` simulated benchmarks each: one row per
    (design, statistic) with its coverage (or type-I error), trials and mean width."""
    rng = np.random.default_rng(seed)
    rows = []
    t0 = time.perf_counter()
    for i in range(n_designs):
        d = random_design(rng, i)
        truth = truths(d)
        res = simulate(d, sims, rng, truth, only=STATS + (CURVES if i % CURVE_EVERY == 0 else ()))
        for k, (hits, n, w) in res.items():
            if n:
                rows.append({"design": d, "stat": k, "value": hits / n, "n": int(n),
                             "width": w / n if k != "paired test" else float("nan"),
                             "kind": "type-I" if k == "paired test" else "coverage"})
        if (i + 1) % 25 == 0:
            log(f"  {i + 1}/{n_designs} designs, {time.perf_counter() - t0:.0f} s")
    return rows


def recheck(rows: list[dict], k: int, sims: int, seed: int = 1, curve_k: int = 4, curve_sims: int = 500) -> list[dict]:
    """The ``k`` worst designs of each statistic (lowest coverage, highest type-I error) simulated again
    with fresh random numbers: the estimates the summary reports (the bootstrap statistics, about 50 ms a
    simulated benchmark: ``curve_k`` designs at ``curve_sims``)."""
    rng = np.random.default_rng(seed)
    out = []
    for stat in STATS + CURVES:
        mine = [r for r in rows if r["stat"] == stat]
        kk, n = (curve_k, curve_sims) if stat in CURVES else (k, sims)
        worst = sorted(mine, key=lambda r: r["value"] if r["kind"] == "coverage" else -r["value"])[:kk]
        for r in worst:
            res = simulate(r["design"], n, rng, truths(r["design"]), only=(stat,))[stat]
            if res[1]:
                out.append({**r, "screen": r["value"], "value": res[0] / res[1], "n": int(res[1]),
                            "width": res[2] / res[1] if stat != "paired test" else float("nan")})
    return out


def mc_se(value: float, n: int) -> float:
    return math.sqrt(max(value * (1 - value), 0.0025 * 0.9975 if value in (0.0, 1.0) else 0.0) / max(n, 1))


def render(rows: list[dict], rechecked: list[dict]) -> str:
    lines = ["| statistic | designs | median | worst (screen) | worst design, rechecked | value | MC SE | mean width |",
             "|---|---|---|---|---|---|---|---|"]
    for stat in STATS + CURVES:
        mine = [r for r in rows if r["stat"] == stat]
        again = [r for r in rechecked if r["stat"] == stat]
        if not mine:
            continue
        cov = mine[0]["kind"] == "coverage"
        vals = np.array([r["value"] for r in mine])
        screen = vals.min() if cov else vals.max()
        worst = (
            min(again, key=lambda r: r["value"])
            if cov and again
            else max(again, key=lambda r: r["value"])
            if again
            else None
        )
        if worst is None:
            lines.append(f"| {stat} | {len(mine)} | {np.median(vals):.3f} | {screen:.3f} | | | | |")
            continue
        w = "" if math.isnan(worst["width"]) else f"{worst['width']:.3f}"
        lines.append(
            f"| {stat} ({'coverage' if cov else 'type-I'}) | {len(mine)} | {np.median(vals):.3f} | {screen:.3f} | "
            f"{describe(worst['design'])} | {worst['value']:.3f} | {mc_se(worst['value'], worst['n']):.3f} | {w} |"
        )
    return "\n".join(lines)


def render_rechecked(rechecked: list[dict]) -> str:
    lines = ["| statistic | design | screen | rechecked | MC SE | mean width |", "|---|---|---|---|---|---|"]
    for r in rechecked:
        w = "" if math.isnan(r["width"]) else f"{r['width']:.3f}"
        lines.append(f"| {r['stat']} | {describe(r['design'])} | {r['screen']:.3f} | {r['value']:.3f} | "
                     f"{mc_se(r['value'], r['n']):.3f} | {w} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--designs", type=int, default=300)
    ap.add_argument("--sims", type=int, default=400)
    ap.add_argument("--recheck", type=int, default=12)
    ap.add_argument("--recheck-sims", type=int, default=2000)
    ap.add_argument("--recheck-curves", type=int, default=4)
    ap.add_argument("--recheck-curve-sims", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    rows = search(a.designs, a.sims, a.seed)
    again = recheck(rows, a.recheck, a.recheck_sims, curve_k=a.recheck_curves, curve_sims=a.recheck_curve_sims)
    print(render(rows, again))
    print("\nRechecked designs (the worst of each statistic at the screen, simulated again):\n")
    print(render_rechecked(again))
    print(f"\n{a.designs} designs x {a.sims} simulations, {a.recheck} worst per statistic rechecked at "
          f"{a.recheck_sims}; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
