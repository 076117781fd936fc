"""``seed_variance``: the seed SD of accuracy on a benchmark with its interval, from the sweep cell with the
most seeds, else from the published multi-seed result with the most seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

from evalkit.analyze import (
    Interval,
    accuracy_interval,
    fixed_set_interval,
    max_seed_sd,
    sd_interval,
    sd_relative_half_width,
    seed_sd_interval,
    seed_spread,
    single_run_range,
    yardstick_position,
)
from evalkit.claims.data import ClaimData
from evalkit.claims.params import Params
from evalkit.claims.registry import claim_kind
from evalkit.claims.reported import Reported, Result
from evalkit.claims.verdict import INCONCLUSIVE, SUPPORTED, Verdict, needs
from evalkit.claims.words import Words, pct
from evalkit.store import Col, Samples


class SeedVariance(Params):
    """The seed SD of accuracy on ``benchmark`` with its interval: from a sweep cell with at least
    ``min_seeds`` seeds, else from the published multi-seed result with the most seeds."""

    benchmark: str
    min_seeds: int = Field(default=10, ge=2)
    label: str | None = None


def _spread(rep: Reported, p: SeedVariance, r: Result, alpha: float) -> dict[str, Any]:
    """What the published SD says about the problems, against a yardstick and the single reported run."""
    n, k, m, sd = rep.benchmarks[p.benchmark].n, r.k, r.center, r.seed_sd or 0.0
    lo, hi = sd_interval(sd, k, 1 - alpha)
    cap_m = max_seed_sd(n, m)
    sp, sp_lo, sp_hi = seed_spread(m, sd, n, k), seed_spread(m, hi, n, k), seed_spread(m, lo, n, k)
    out: dict[str, Any] = {
        "max_sd": max_seed_sd(n), "max_sd_at_mean": cap_m, "share_of_max_sd": sd / cap_m,
        "problem_sd": sp.problem_sd, "share_between": [sp.share_between, sp_lo.share_between, sp_hi.share_between],
        "yardsticks": [], "single_run": None,
    }
    for y in (y for y in rep.seed_sd_yardstick if y.benchmark == p.benchmark):
        pos = yardstick_position(np.asarray(y.sds, dtype=float), 100 * sd)
        out["yardsticks"].append({"citation": rep.cite(y.source), "systems": len(y.sds), "seeds": y.seeds,
                                  "median": pos.median, "maximum": pos.maximum, "percentile": pos.percentile})
    single = rep.find(p.benchmark, r.system)
    if single is not None:
        a, b = single_run_range(m, sd, k, 1 - alpha)
        out["single_run"] = {"accuracy": single.center, "decoding": single.sampling.decoding,
                             "citation": rep.cite(single.source), "seed_sds_from_mean": (single.center - m) / sd,
                             "prediction": [a, b]}
    return out


def _published(rep: Reported, p: SeedVariance, alpha: float) -> Verdict | None:
    """The seed SD from the published multi-seed result on the benchmark with the most seeds (None without one)."""
    cands = [r for r in rep.results if r.benchmark == p.benchmark and r.multi_seed and r.seed_sd is not None]
    if not cands or p.benchmark not in rep.benchmarks:
        return None
    r = max(cands, key=lambda x: x.k)
    n, k, sd = rep.benchmarks[p.benchmark].n, r.k, r.seed_sd or 0.0
    lo, hi = sd_interval(sd, k, 1 - alpha)
    numbers = {
        "from": "published", "system": r.system, "mean": r.center, "n": n, "k": k, "alpha": alpha,
        "citation": rep.cite(r.source), "decoding": r.sampling.decoding, "temperature": r.sampling.temperature,
        "relative_half_width": {"k": sd_relative_half_width(k), "20": sd_relative_half_width(20)},
        **_spread(rep, p, r, alpha),
    }
    sd_iv = Interval(sd, lo, hi, 1 - alpha, "chi-square", k, {"df": k - 1})
    return Verdict(SUPPORTED if k >= p.min_seeds else INCONCLUSIVE, intervals={"sd": sd_iv}, numbers=numbers)


def _published_details(x: Mapping[str, Any], p: SeedVariance, sd: float) -> list[str]:
    n, m, k, share = x["n"], x["mean"], x["k"], x["share_between"]
    lines = [f"The largest seed SD {n} problems allow is {100 * x['max_sd']:.1f} points (every problem a fair coin), "
             f"{100 * x['max_sd_at_mean']:.1f} at a mean of {pct(m)}; {100 * sd:.1f} is {x['share_of_max_sd']:.0%} of "
             f"it, so the problems' accuracies spread with SD(p_i) = {x['problem_sd']:.2f} (between-problem share of "
             f"the variance {share[0]:.2f}, [{share[1]:.2f}, {share[2]:.2f}] from the SD's interval)."]
    for y in x["yardsticks"]:
        lines.append(f"Yardstick ({y['citation']}): {y['systems']} systems' {y['seeds']}-seed SDs on {p.name} have "
                     f"median {y['median']:.1f} and maximum {y['maximum']:.1f} points; {100 * sd:.1f} is at the "
                     f"{100 * y['percentile']:.0f}th percentile.")
    if (s := x["single_run"]) is not None:
        a, b = s["prediction"]
        lines.append(
            f"The single reported run of {x['system']} ({pct(s['accuracy'])}, {s['decoding']} decoding; "
            f"{s['citation']}) sits {s['seed_sds_from_mean']:+.2f} seed SDs from the {k}-seed mean; one run "
            f"at this SD falls in [{pct(a)}, {pct(b)}] ({100 * (1 - x['alpha']):.0f}% prediction interval). The two "
            f"differ in decoding ({s['decoding']} vs {x['decoding']}"
            + (f" at temperature {x['temperature']}" if x["temperature"] is not None else "")
            + "), so this bounds how much seed luck a single run can carry; it does not measure it.")
    return lines


def _words(v: Verdict, p: SeedVariance) -> Words:
    x, sd = v.numbers, v.intervals["sd"]
    if x["from"] == "published":
        k = x["k"]
        return Words(
            statistic=f"{x['system']}: seed SD of {p.name} accuracy {100 * sd.estimate:.1f} points "
                      f"(mean {pct(x['mean'])})",
            interval=f"SD [{100 * sd.low:.1f}, {100 * sd.high:.1f}] points ({100 * (1 - x['alpha']):.0f}% chi-square "
                     f"on {k - 1} df; these problems, seed noise)",
            n=f"{x['n']} problems", k=f"{k} seeds",
            method="chi-square interval for the SD of k per-seed accuracies (exact for normal per-seed accuracies); "
                   "maximum SD sqrt(p(1 - p)/n); t prediction interval for one more run",
            source=f"published multi-seed ({x['citation']})", details=tuple(_published_details(x, p, sd.estimate)),
            power=f"an SD from k seeds has relative half-width about 1/sqrt(2(k - 1)): "
                  f"{x['relative_half_width']['k']:.0%} at k = {k}, {x['relative_half_width']['20']:.0%} at k = 20")
    ci, fixed = v.intervals["mean"], v.intervals["mean_these_problems"]
    return Words(
        statistic=f"across-seed SD of accuracy {100 * sd.estimate:.1f} points "
        f"(seed accuracies {', '.join(pct(a) for a in x['seed_accuracies'])})",
        interval=(
            f"SD [{100 * sd.low:.1f}, {100 * sd.high:.1f}] points (chi-square, {sd.details['df']:.1f} df; these "
            f"problems); mean {pct(ci.estimate)} [{pct(ci.low)}, {pct(ci.high)}] for the population "
            f"of problems, [{pct(fixed.low)}, {pct(fixed.high)}] for these problems (seed noise only)"
        ),
        n=f"{x['problems']} problems x {x['seeds']} seeds", k=f"{x['seeds']} seeds",
        method="chi-square interval for an SD; problem-clustered score interval; pooled within-problem variance",
        source="sweep results",
    )


@claim_kind("seed_variance", SeedVariance, words=_words, reads_sweeps=True)
def seed_variance(data: ClaimData, p: SeedVariance) -> Verdict:
    """From the sweep cell on the benchmark with the most seeds (at least ``min_seeds``), else published seeds."""
    rows, alpha = Samples.of(data.rows), data.alpha
    seq = rows.where((rows.task == p.benchmark) & (rows.method == "sequential")) if not rows.empty else rows
    best = None
    for cid, g in (seq.by(Col.CELL_ID) if not seq.empty else []):
        if g.n_seeds >= p.min_seeds and (best is None or g.n_seeds > best[1].n_seeds):
            best = (cid, g)
    if best is None:
        v = _published(data.reported, p, alpha) if data.reported is not None else None
        return v if v is not None else needs()
    _, g = best
    mat = g.accuracy_matrix().to_numpy(float)
    seed_acc = np.nanmean(mat, axis=0)
    return Verdict(
        SUPPORTED,
        intervals={"sd": seed_sd_interval(seed_acc, 1 - alpha, correct=mat), "mean": accuracy_interval(mat, 1 - alpha),
                   "mean_these_problems": fixed_set_interval(mat, 1 - alpha)},
        numbers={"from": "sweep", "seed_accuracies": list(seed_acc), "problems": mat.shape[0], "seeds": mat.shape[1]},
        used=g.frame,
    )
