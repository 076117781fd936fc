"""Adaptive seeding (issue #31): calibration at the stopping time and the seeds saved, for the
anytime-valid confidence sequence (:mod:`evalkit.analyze.sequential`) and the ordinary intervals when seeding
stops adaptively.

    python benchmarks/adaptive.py                       # the default grid (about 20 minutes on 2 shared cores)
    python benchmarks/adaptive.py --sims 200 --problems 30 --max-seeds 32

A simulated benchmark draws P problem accuracies from a design, then seeds one round at a time (``start``
2, ``step`` 2) up to ``max`` seeds; after each round the rule is checked on the confidence sequence (the
rule's own stakes: half-width, tuned for max / 2 seeds; compare, one bettor per horizon 1, 2, 4, ..., max)
and seeding stops at the first round it is met. Designs (as benchmarks/calibration.py, heterogeneous
difficulty): ``hetero`` Beta(0.6, 0.9); ``aime`` 60% never solved + Beta(0.7, 1.5); ``weak`` 80% never
solved + Beta(0.5, 5) (a weak model on AIME: mean 0.018); ``homog`` Beta(40, 60). Problems: 30 (AIME),
198 (GPQA-Diamond), 500 (MATH500); 12 on request.

Rules: ``halfwidth`` (target 0.3 / sqrt(P): 5.5 points at 30 problems, 2.1 at 198, 1.3 at 500);
``compare`` (stop when the paired CS excludes 0 or lies inside ± delta, delta = 0.3 / sqrt(P) as well: the
smallest effect of interest).

Rows (estimand in brackets; F: the fixed problem set, P: the population of problems):
- ``CS @ stop`` [F]: the confidence sequence covers the fixed-set mean at the stopping time (target >= 0.95);
  ``CS uniform``: at every seed up to max at once (>= 0.95 by construction);
- ``fixed_set_interval @ stop`` [F], ``accuracy_interval @ stop`` [P] and ``seed_sd_interval @ stop`` [F]
  (of the SD of one seed's accuracy, sqrt(sum p_i (1 - p_i)) / P): the ordinary intervals computed
  on the seeds the adaptive rule used (what the report prints after an adaptive stop), beside the same at
  a fixed ``max`` seeds;
- ``compare`` under nulls (two cells with the same accuracies: ``indep`` independent seeds; ``shared`` 80%
  of units with common random numbers; ``permuted``: the second cell's accuracies a permutation of the
  first's, 80% common random numbers, so per-problem effects vary and the fixed-set effect is exactly 0):
  type-I error of the CS (it excludes 0 at the stopping time; must be <= 0.05) and of
  :func:`paired_interval` on the seeds used, and the coverage of paired_interval [P], each beside the
  same at a fixed ``max`` seeds (the interval's own calibration, without adaptive stopping);
- ``compare`` under effects delta, 2 delta, 4 delta (second cell's accuracies + effect, clipped;
  independent seeds): seeds used, power (CS excludes 0 on the right side), CS coverage [F], and the seeds
  against the fixed design sized for 80% power at delta. That design is the textbook power analysis of
  the fixed-seed test of the same question, the paired t test on the per-seed differences (noncentral t,
  with the design's per-seed SD and mean effect at delta from the simulation); the z test with the SD
  known (which no fixed design has) is shown beside it. Target: at most half its seeds from 2 delta on.
  ``step 1``: the same sweeps with the rule checked after every seed (``step`` 1); ``one horizon``: the
  same rule with every stake tuned for max / 2 seeds (the stakes before the mixture), for comparison.
Simulations: 1,000 per setting (300 for the half-width rule at 198+ problems and for the population rule,
``--big-sims``); 64 seeds at 30 problems only. Monte Carlo SE of a proportion near 0.95 at 1,000
simulations: 0.007. Rows more than 2 SE below 0.95 (coverage) or above 0.05 (type-I) are flagged.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalkit.analyze import (
    accuracy_interval,
    fixed_set_interval,
    paired_interval,
    population_budget,
    seed_sd_interval,
)
from evalkit.analyze.sequential import (
    AdaptiveRule,
    _floor_half_width,
    cs_bounds,
    log_capitals,
    prepare,
    rule_met_by_seed,
    stopping_seeds,
)

DESIGNS = ("hetero", "aime", "weak", "homog")
MEAN = {"hetero": 0.6 / 1.5, "aime": 0.4 * 0.7 / 2.2, "weak": 0.2 * 0.5 / 5.5, "homog": 0.4}
NULLS = ("indep", "shared", "permuted")
SHARED = 0.8  # share of units drawn with common random numbers in the shared nulls


def draw(design: str, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
    if design == "hetero":
        return rng.beta(0.6, 0.9, size)
    if design == "aime":
        return np.where(rng.random(size) < 0.6, 0.0, rng.beta(0.7, 1.5, size))
    if design == "weak":
        return np.where(rng.random(size) < 0.8, 0.0, rng.beta(0.5, 5.0, size))
    if design == "homog":
        return rng.beta(40, 60, size)
    raise ValueError(design)


def target(P: int) -> float:
    return round(0.3 / math.sqrt(P), 3)


def population_effect(design: str, effect: float) -> float:
    p = draw(design, np.random.default_rng(12345), 1_000_000)
    return float(np.mean(np.clip(p + effect, 0, 1) - p))


def covered(rule: AdaptiveRule, z: np.ndarray, truth: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(covered at the stopping time, covered at every seed) of the CS for units z (B, T, P) in [0, 1]."""
    up, down = log_capitals(prepare(z, rule.confidence, rule.bet_horizon), truth)
    worst = np.maximum.accumulate(np.maximum(up, down), axis=1)
    thr = math.log(1 / (1 - rule.confidence))
    return worst[np.arange(len(stop)), stop - 1] < thr, worst[:, -1] < thr


def halfwidth_rows(P: int, design: str, T: int, sims: int, rng: np.random.Generator) -> list[dict]:
    rule = AdaptiveRule("halfwidth", max_seeds=T, halfwidth=target(P))
    chunk = max(10, int(3e6 / (T * T * min(P, 2 * T))))
    out: dict[str, list] = {k: [] for k in ("seeds", "cs", "cs_uniform", "fs", "fs_max", "acc", "acc_max", "sd",
                                            "sd_max")}
    for start in range(0, sims, chunk):
        n = min(chunk, sims - start)
        p = draw(design, rng, (n, P))
        c = (rng.random((n, P, T)) < p[..., None]).astype(float)
        stop, _ = stopping_seeds(rule, rule_met_by_seed(rule, c, bisections=16))
        at, uni = covered(rule, np.swapaxes(c, 1, 2), p.mean(axis=1), stop)
        out["seeds"] += stop.tolist()
        out["cs"] += at.tolist()
        out["cs_uniform"] += uni.tolist()
        for i in range(n):
            theta, used = p[i].mean(), c[i, :, : stop[i]]
            f, fm = fixed_set_interval(used), fixed_set_interval(c[i])
            a, am = accuracy_interval(used), accuracy_interval(c[i])
            out["fs"].append(f.low <= theta <= f.high)
            out["fs_max"].append(fm.low <= theta <= fm.high)
            out["acc"].append(a.low <= MEAN[design] <= a.high)
            out["acc_max"].append(am.low <= MEAN[design] <= am.high)
            true_sd = math.sqrt(float(np.sum(p[i] * (1 - p[i])))) / P
            s, sm = seed_sd_interval(used.mean(axis=0), correct=used), seed_sd_interval(c[i].mean(axis=0), correct=c[i])
            out["sd"].append(s.low <= true_sd <= s.high)
            out["sd_max"].append(sm.low <= true_sd <= sm.high)
    base = {"P": P, "design": design, "max": T, "rule": f"halfwidth {100 * rule.halfwidth:.3g} pts",
            "seeds": float(np.mean(out["seeds"])), "at_max": float(np.mean(np.array(out["seeds"]) >= T))}
    names = {"cs": "CS @ stop [F]", "cs_uniform": "CS uniform [F]", "fs": "fixed_set_interval @ stop [F]",
             "fs_max": f"fixed_set_interval @ {T} [F]", "acc": "accuracy_interval @ stop [P]",
             "acc_max": f"accuracy_interval @ {T} [P]", "sd": "seed_sd_interval @ stop [F]",
             "sd_max": f"seed_sd_interval @ {T} [F]"}
    return [{**base, "row": names[k], "kind": "coverage", "value": float(np.mean(out[k])), "n": sims}
            for k in names]


def population_rows(P: int, design: str, T: int, sims: int, rng: np.random.Generator) -> list[dict]:
    """The half-width rule ``of: population`` (evalkit.pipeline.adaptive.decide): target sqrt(F^2 + h^2),
    F the floor at the design's true spread of problems, h = :func:`target`; after each round, stop when
    the floor the stored rows show leaves room for the CS's half-width (or the target is out of reach)."""
    big = draw(design, np.random.default_rng(12345), 1_000_000)
    floor = _floor_half_width(float(big.mean()), float(big.var()), P, 0.95, False)
    goal = math.sqrt(floor**2 + target(P) ** 2)
    rule = AdaptiveRule("halfwidth", max_seeds=T, halfwidth=target(P))
    out: dict[str, list] = {k: [] for k in ("seeds", "futile", "acc", "within")}
    for start in range(0, sims, 100):
        n = min(100, sims - start)
        p = draw(design, rng, (n, P))
        c = (rng.random((n, P, T)) < p[..., None]).astype(float)
        low, high = cs_bounds(prepare(np.swapaxes(c, 1, 2), rule.confidence, rule.bet_horizon), 20)
        hw = (np.minimum.accumulate(high, axis=1) - np.maximum.accumulate(low, axis=1)) / 2
        for i in range(n):
            stop, futile = T, False
            for t in rule.rounds():
                pb = population_budget(c[i, :, :t], goal)
                if pb.futile or pb.met(float(hw[i, t - 1])):
                    stop, futile = t, pb.futile
                    break
            a = accuracy_interval(c[i, :, :stop])
            out["seeds"].append(stop)
            out["futile"].append(futile)
            out["acc"].append(a.low <= MEAN[design] <= a.high)
            out["within"].append((a.high - a.low) / 2 <= goal)
    base = {"P": P, "design": design, "max": T, "rule": f"halfwidth {100 * goal:.3g} pts of: population",
            "seeds": float(np.mean(out["seeds"])), "at_max": float(np.mean(np.array(out["seeds"]) >= T)), "n": sims,
            "futile": float(np.mean(out["futile"])), "within": float(np.mean(out["within"])), "floor": floor}
    return [{**base, "row": "accuracy_interval @ population stop [P]", "kind": "coverage",
             "value": float(np.mean(out["acc"]))}]


def pair_draw(design: str, kind: str, effect: float, rng: np.random.Generator, n: int, P: int,
              T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes (n, P, T) of two cells and each benchmark's fixed-set difference."""
    p = draw(design, rng, (n, P))
    q = rng.permuted(p, axis=1) if kind == "permuted" else np.clip(p + effect, 0, 1)
    u = rng.random((n, P, T))
    share = SHARED if kind in ("shared", "permuted") else 0.0
    ub = np.where(rng.random(u.shape) < share, u, rng.random(u.shape))
    return (u < p[..., None]).astype(float), (ub < q[..., None]).astype(float), (p - q).mean(axis=1)


def compare_rows(P: int, design: str, T: int, sims: int, rng: np.random.Generator) -> list[dict]:
    delta = target(P)
    rule = AdaptiveRule("compare", max_seeds=T, margin=delta)
    single = AdaptiveRule("compare", max_seeds=T, margin=delta, horizon=T // 2)
    rows, k80, k80z = [], 0, 0
    for kind, effect in [(k, 0.0) for k in NULLS] + [("effect", m * delta) for m in (1, 2, 4)]:
        seeds, rej, right, cs_cov, pi_rej, pi_cov, sd, fx_rej, fx_cov, one, fine = ([] for _ in range(11))
        pop = 0.0 if kind != "effect" else -population_effect(design, effect)
        for start in range(0, sims, 250):
            n = min(250, sims - start)
            a, b, fixed = pair_draw(design, kind, effect, rng, n, P, T)
            met = rule_met_by_seed(rule, a, b)
            stop, _ = stopping_seeds(rule, met)
            if kind == "effect":
                one += stopping_seeds(single, rule_met_by_seed(single, a, b))[0].tolist()
                fine += stopping_seeds(replace(rule, step=1), met)[0].tolist()  # the same sweeps, rounds of 1
            z = (np.swapaxes(a - b, 1, 2) + 1) / 2
            at, _ = covered(rule, z, (fixed + 1) / 2, stop)
            excl = rule_met_by_seed(AdaptiveRule("excludes_zero", max_seeds=T), a, b)[np.arange(n), stop - 1]
            est = np.array([np.mean(a[i, :, : stop[i]] - b[i, :, : stop[i]]) for i in range(n)])
            seeds += stop.tolist()
            cs_cov += at.tolist()
            rej += excl.tolist()
            right += (excl & (est < 0)).tolist()  # the second cell is better under the effects
            sd += np.std((a - b).mean(axis=1), axis=1, ddof=1).tolist()
            for i in range(n):
                iv = paired_interval(a[i, :, : stop[i]], b[i, :, : stop[i]])
                pi_rej.append(iv.low > 0 or iv.high < 0)
                pi_cov.append(iv.low <= pop <= iv.high)
                fx = paired_interval(a[i], b[i])  # the same at a fixed max seeds
                fx_rej.append(fx.low > 0 or fx.high < 0)
                fx_cov.append(fx.low <= pop <= fx.high)
        base = {"P": P, "design": design, "max": T, "rule": f"compare ±{100 * delta:.3g} pts", "case": kind,
                "effect": effect, "seeds": float(np.mean(seeds)), "at_max": float(np.mean(np.array(seeds) >= T)),
                "n": sims}
        if kind == "effect" and effect == delta:  # the fixed design sized for 80% power at delta
            k80, k80z = fixed_design(abs(pop), math.sqrt(float(np.mean(np.square(sd)))))
        if kind == "effect":
            base.update(one_horizon=float(np.mean(one)), step1=float(np.mean(fine)), k80=k80, k80z=k80z)
        rows.append({**base, "row": "CS excludes 0" if kind != "effect" else "CS decides (right side)",
                     "kind": "type-I" if kind != "effect" else "power",
                     "value": float(np.mean(rej if kind != "effect" else right))})
        rows.append({**base, "row": "CS @ stop [F]", "kind": "coverage", "value": float(np.mean(cs_cov))})
        rows.append({**base, "row": "paired_interval @ stop [P]", "kind": "coverage", "value": float(np.mean(pi_cov))})
        rows.append({**base, "row": f"paired_interval @ {T} [P]", "kind": "coverage", "value": float(np.mean(fx_cov))})
        if kind != "effect":
            rows.append({**base, "row": "paired_interval excludes 0 @ stop", "kind": "type-I",
                         "value": float(np.mean(pi_rej))})
            rows.append({**base, "row": f"paired_interval excludes 0 @ {T}", "kind": "type-I",
                         "value": float(np.mean(fx_rej))})
    return rows


def fixed_design(effect: float, sd: float, power: float = 0.8, alpha: float = 0.05) -> tuple[int, int]:
    """Seeds of the fixed design with ``power`` at ``effect`` for per-seed differences of SD ``sd``: (the
    two-sided paired t test, by the noncentral t; the z test with the SD known)."""
    z = math.ceil(((stats.norm.isf(alpha / 2) + stats.norm.ppf(power)) * sd / effect) ** 2)
    for k in range(2, 10_000):
        crit, nc = stats.t.isf(alpha / 2, k - 1), effect * math.sqrt(k) / sd
        if stats.nct.sf(crit, k - 1, nc) + stats.nct.cdf(-crit, k - 1, nc) >= power:
            return k, max(z, 1)
    raise ValueError("no fixed design below 10,000 seeds")


def flag(r: dict) -> str:
    se = math.sqrt(max(r["value"] * (1 - r["value"]), 0.0025 * 0.9975) / r["n"])
    if r["kind"] == "coverage" and r["value"] < 0.95 - 2 * se:
        return "**below**"
    if r["kind"] == "type-I" and r["value"] > 0.05 + 2 * se:
        return "**above**"
    return ""


def summary(rows: list[dict]) -> list[str]:
    """One line per row kind: its range over the grid, and the settings flagged."""
    out = ["## Summary", ""]
    names = sorted({(r["row"].replace(f"@ {r['max']}", "@ max"), r["kind"], "effect" in r and r.get("case") == "effect")
                    for r in rows})
    for name, kind, effect in names:
        sel = [r for r in rows if r["row"].replace(f"@ {r['max']}", "@ max") == name and r["kind"] == kind
               and (r.get("case") == "effect") == effect]
        lo, hi = min(sel, key=lambda r: r["value"]), max(sel, key=lambda r: r["value"])
        flagged = sum(bool(flag(r)) for r in sel)
        where = lambda r: f"{r['P']} problems, {r['design']}, max {r['max']}{', ' + r['case'] if 'case' in r else ''}"  # noqa: E731
        out.append(f"- {name} ({kind}{', under effects' if effect else ''}): {lo['value']:.3f} ({where(lo)}) to "
                   f"{hi['value']:.3f} ({where(hi)}); {flagged} of {len(sel)} settings flagged")
    out.append("")
    for r in rows:
        if r["row"] == "CS @ stop [F]" and r["rule"].startswith("halfwidth"):
            out.append(f"- seeds, half-width rule, {r['P']} problems, {r['design']}: {r['seeds']:.1f} of {r['max']}")
    out += ["", "## Population targets (`of: population`)", "",
            "Target sqrt(F^2 + h^2): F the floor at the design's true spread of problems, h the half-width rule's "
            "target. `within target`: the population interval printed at the stop is at most the target wide; "
            "`out of reach`: stopped because the stored rows put the target at or below the floor.", "",
            "| P | design | max | floor F | target | mean seeds | share at max | out of reach | within target | "
            "accuracy_interval covers |", "|---" * 10 + "|"]
    for r in rows:
        if "futile" in r:
            out.append(f"| {r['P']} | {r['design']} | {r['max']} | {100 * r['floor']:.2f} | {r['rule'].split()[1]} | "
                       f"{r['seeds']:.1f} | {r['at_max']:.2f} | {r['futile']:.2f} | {r['within']:.2f} | "
                       f"{r['value']:.3f} {flag(r)} |")
    out += ["", "## Seeds saved by the compare rule", "",
            "Against the fixed design sized for 80% power at delta (the paired t test on per-seed differences; "
            "the z test with the SD known beside it). Target: at most half the fixed design's seeds from "
            "2 delta on. `step 1`: the same sweeps checked after every seed (start 2, step 1); `one horizon`: "
            "rounds of 2 with stakes tuned for max / 2 seeds only (before the mixture).", "",
            "| P | design | max | effect | seeds | power | step 1 | one horizon | fixed (t) | fixed (z) | "
            "seeds / fixed (t) | step 1 / fixed (t) | target |", "|---" * 13 + "|"]
    for r in rows:
        if r["row"] == "CS decides (right side)":
            mult = round(r["effect"] / target(r["P"]))
            ratio, fine = r["seeds"] / r["k80"], r["step1"] / r["k80"]
            ok = "" if mult < 2 else ("met" if ratio <= 0.5 else "met at step 1" if fine <= 0.5 else "**missed**")
            out.append(f"| {r['P']} | {r['design']} | {r['max']} | {mult} delta ({100 * r['effect']:.3g} pts) | "
                       f"{r['seeds']:.1f} | {r['value']:.3f} | {r['step1']:.1f} | {r['one_horizon']:.1f} | "
                       f"{r['k80']} | {r['k80z']} | {ratio:.2f} | {fine:.2f} | {ok} |")
    return out + [""]


def markdown(rows: list[dict], command: str, seconds: float) -> str:
    out = ["# Adaptive seeding: calibration at the stopping time and seeds saved (issue #31)", "",
           f"Command: `{command}` ({seconds / 60:.1f} min). Generated by benchmarks/adaptive.py;",
           "see its docstring for the designs and rows. MC SE = sqrt(v (1 - v) / sims).", ""]
    out += summary(rows)
    out += ["## Half-width rule (start 2, step 2)", "",
           "| P | design | max | rule | mean seeds | share at max | row | value | MC SE | flag |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["rule"].startswith("halfwidth"):
            se = math.sqrt(r["value"] * (1 - r["value"]) / r["n"])
            out.append(f"| {r['P']} | {r['design']} | {r['max']} | {r['rule']} | {r['seeds']:.1f} | "
                       f"{r['at_max']:.2f} | {r['row']} | {r['value']:.3f} | {se:.3f} | {flag(r)} |")
    out += ["", "## Compare rule (start 2, step 2; stop when the CS excludes 0 or lies inside ± delta)", "",
            "| P | design | max | rule | case | effect | mean seeds | share at max | row | value "
            "| MC SE | flag |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["rule"].startswith("compare"):
            se = math.sqrt(r["value"] * (1 - r["value"]) / r["n"])
            out.append(f"| {r['P']} | {r['design']} | {r['max']} | {r['rule']} | {r['case']} | {r['effect']:.3g} | "
                       f"{r['seeds']:.1f} | {r['at_max']:.2f} | {r['row']} | {r['value']:.3f} | "
                       f"{se:.3f} | {flag(r)} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--big-sims", type=int, default=300, help="half-width rule at 198+ problems (slow)")
    ap.add_argument("--problems", type=int, nargs="+", default=[30, 198, 500])
    ap.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    ap.add_argument("--max-seeds", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--long-max-problems", type=int, default=30, help="64 seeds only up to this many problems")
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--out", default=str(Path(__file__).with_name("adaptive_results.md")))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    t0, rows = time.time(), []
    for T in args.max_seeds:
        for P in args.problems:
            if T > 32 and args.long_max_problems < P:
                continue
            for design in args.designs:
                rows += halfwidth_rows(P, design, T, args.sims if P <= 30 else args.big_sims, rng)
                rows += population_rows(P, design, T, args.big_sims, rng)
                rows += compare_rows(P, design, T, args.sims, rng)
                print(f"P={P} {design} max={T}: {time.time() - t0:.0f}s", flush=True)
    command = "python benchmarks/adaptive.py " + " ".join(argv if argv is not None else sys.argv[1:])
    Path(args.out).write_text(markdown(rows, command.strip(), time.time() - t0))
    print(f"wrote {args.out} ({time.time() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
