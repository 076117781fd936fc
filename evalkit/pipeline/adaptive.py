"""Seeds in rounds until the question is decided (issue #31): an adaptive sweep runs ``start`` seeds,
then ``step`` more per round up to ``max``, and after each round evaluates its stop rule on the stored
rows with an anytime-valid confidence sequence (:mod:`evalkit.analyze.sequential`), so stopping at the
first round the rule holds keeps the error rate. Each decision is journaled (``journal/adaptive.jsonl``);
a killed or resubmitted sweep evaluates the same rows again and reaches the same decision.

Per seed, a cell's accuracy over every problem (and sample) is one observation: given the problems,
seeds are independent draws, so the per-seed accuracies of a cell (and the per-seed differences of two
cells on the same seeds) are i.i.d. and bounded. That is the fixed-set estimand (these problems): seeds
shrink its interval, never the population-of-problems one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from evalkit.analyze import (
    AdaptiveRule,
    confidence_sequence,
    paired_confidence_sequence,
    population_budget,
    stop_check,
)
from evalkit.pipeline.context import SweepResult
from evalkit.pipeline.observer import Observer
from evalkit.pipeline.provenance import now
from evalkit.spec import Plan
from evalkit.spec.schema import AdaptiveSeeds
from evalkit.store import NUMBERS, ResultStore, Samples


def rule_of(a: AdaptiveSeeds) -> AdaptiveRule:
    """The spec's stop rule as :class:`evalkit.analyze.AdaptiveRule` (points become fractions). Its
    confidence sequence's stakes are fixed by the spec (tuned for half of ``max`` seeds), so every
    evaluation of the same rows gives the same decision."""
    if a.stop.compare is not None:
        margin = None if a.stop.margin is None else a.stop.margin / 100
        return AdaptiveRule("compare", a.start, a.step, a.max, margin=margin, confidence=a.confidence)
    return AdaptiveRule("halfwidth", a.start, a.step, a.max, halfwidth=(a.stop.halfwidth or 0.0) / 100,
                        confidence=a.confidence)


def round_sizes(a: AdaptiveSeeds) -> list[int]:
    """Seeds after each round: start, start + step, ..., max."""
    return list(rule_of(a).rounds())


@dataclass(frozen=True)
class Decision:
    """An adaptive sweep's decision after a round: stop or go on, why, and the anytime-valid intervals
    (cell label or ``a - b`` -> estimate, low, high) it was decided on."""

    round: int
    seeds: int
    stop: bool
    reason: str
    intervals: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def line(self) -> str:
        ivs = "; ".join(f"{k}: {100 * e:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
                        for k, (e, lo, hi) in self.intervals.items())
        return f"round {self.round + 1} ({self.seeds} seeds): {'stop' if self.stop else 'go on'}: {self.reason}; {ivs}"

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round, "seeds": self.seeds, "stop": self.stop, "reason": self.reason,
                "intervals": {k: list(v) for k, v in self.intervals.items()}}


def outcome_matrix(rows: Samples, cell_id: str, seeds: list[int]) -> np.ndarray:
    """A cell's outcomes ``[problem, seed]`` (a problem's mean over its samples at that seed)."""
    cell = rows.where(rows.cell_id == cell_id)
    return cell.accuracy_matrix().reindex(columns=seeds).to_numpy(float)


def decide(plan: Plan, rows: Samples, round_no: int) -> Decision:
    """The stop rule on the rows of the round's seeds (``plan.seeds``), by the confidence sequences of
    :mod:`evalkit.analyze.sequential` on the outcome matrices (every problem independent within a seed)."""
    a = plan.spec.adaptive
    assert a is not None
    rule, seeds, roles = rule_of(a), plan.seeds, plan.stop_cells()
    labels = {c.cell_id: c.label for c in plan.cells}
    if "compare" in roles:
        x, y = (outcome_matrix(rows, c, seeds) for c in roles["compare"])
        cs = paired_confidence_sequence(x, y, confidence=rule.confidence, horizon=rule.bet_horizon)
        check = stop_check(cs, rule)
        name = f"{labels[roles['compare'][0]]} - {labels[roles['compare'][1]]}"
        return Decision(round_no, len(seeds), check.met, check.reason, {name: (cs.estimate, cs.low, cs.high)})
    intervals, undecided, futile, notes = {}, [], [], []
    target = (a.stop.halfwidth or 0.0) / 100
    for c in roles["halfwidth"]:
        x = outcome_matrix(rows, c, seeds)
        cs = confidence_sequence(x, confidence=rule.confidence, horizon=rule.bet_horizon)
        intervals[labels[c]] = (cs.estimate, cs.low, cs.high)
        if a.stop.of == "population":  # seeds shrink only the seed noise: what the floor leaves of the target
            pb = population_budget(x, target, rule.confidence)
            if pb.futile:
                futile.append(f"{labels[c]}: {pb.floor.message(target, 'its population of problems')}")
            notes.append(f"{labels[c]}: population interval +-{100 * pb.printed:.2f}, floor "
                         f"+-{100 * pb.floor.floor:.2f}, seed noise +-{100 * cs.half_width:.2f} "
                         f"of +-{100 * pb.budget:.2f} left")
            if not pb.met(cs.half_width):
                undecided.append(labels[c])
        elif not stop_check(cs, rule).decided:
            undecided.append(labels[c])
    of = " for the population of problems" if a.stop.of == "population" else ""
    detail = f" ({'; '.join(notes)})" if notes else ""
    if futile:
        return Decision(round_no, len(seeds), True, "out of reach, no more seeds: " + "; ".join(futile), intervals)
    if not undecided:
        return Decision(round_no, len(seeds), True, f"every interval within +-{a.stop.halfwidth:g} points{of}{detail}",
                        intervals)
    why = f"{len(undecided)} of {len(intervals)} cells wider than +-{a.stop.halfwidth:g} points{of}{detail}"
    final = len(seeds) >= a.max
    return Decision(round_no, len(seeds), final, (f"max seeds ({a.max}) reached; " if final else "") + why, intervals)


def run_adaptive(plan: Plan, store: ResultStore, run_pass: Callable[[Plan, bool], SweepResult],
                 observer: Observer) -> SweepResult:
    """Round after round: run the round's missing units (``run_pass(plan of the round, first)``), decide,
    journal, stop at the first round the rule holds or at ``max``. A pass that only submitted (Slurm) or
    left units failed or in the queue returns: the next ``evalkit sweep`` decides on the stored rows."""
    a = plan.spec.adaptive
    assert a is not None
    total: SweepResult | None = None
    journaled = {d["round"]: {k: d[k] for k in ("round", "seeds", "stop", "reason", "intervals")}
                 for d in store.decisions()} if store.root.exists() else {}
    for r, n in enumerate(round_sizes(a)):
        sub = replace(plan, active_seeds=plan.spec.seed_list[:n])
        res = run_pass(sub, r == 0)
        total = res if total is None else _merge(total, res)
        if res.job_id or res.held or res.failed_batches:
            observer.say(f"round {r + 1} ({n} seeds) is not complete (submitted, queued or failed); "
                         "run the sweep again when it is to decide")
            return total
        d = decide(sub, Samples.of(store.read_rows(columns=NUMBERS)), r)
        if journaled.get(r) != d.to_json():  # a rerun re-decides the stored rounds: journaled once each
            store.record_decision({**d.to_json(), "decided": now()})
            journaled[r] = d.to_json()
        observer.say(d.line())
        total.decision = d.to_json()
        if d.stop:
            break
    assert total is not None
    return total


def _merge(a: SweepResult, b: SweepResult) -> SweepResult:
    return replace(a, generated_shards=a.generated_shards + b.generated_shards, samples=a.samples + b.samples,
                   generated_tokens=a.generated_tokens + b.generated_tokens, generate_s=a.generate_s + b.generate_s,
                   failed_batches=a.failed_batches + b.failed_batches, job_id=b.job_id, held=b.held,
                   batches=a.batches + b.batches)
