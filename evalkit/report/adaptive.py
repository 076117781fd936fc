"""The report's section on an adaptive sweep: the seeds it used, why it stopped, and the anytime-valid
intervals the rule was decided on, beside which the report's other intervals are read (see
:data:`AFTER_ADAPTIVE_STOP` for which of them keep their coverage when the number of seeds was
chosen by the data)."""

from __future__ import annotations

from typing import Any

# What benchmarks/adaptive.py measured for the report's other intervals when the seeds
# stop adaptively (coverage at the stopping time, nominal 0.95).
AFTER_ADAPTIVE_STOP = (
    "The anytime-valid intervals above hold at whatever round the sweep stopped. The report's other "
    "intervals are computed as for a fixed number of seeds; after an adaptive stop "
    "(benchmarks/adaptive.py) the fixed-set, population and seed-SD intervals keep their "
    "coverage after a half-width stop (and the population interval after a population-target stop), but "
    "after a `compare` stop the paired interval of the two cells covered 0.914-0.934 in 13 of 96 settings "
    "(true effect 0 or near the margin) and its test rejected a null up to 0.071 of the time: the stop "
    "favours seeds where the difference looked large. Read it with that margin, or use the anytime-valid "
    "interval."
)


def render_markdown(decisions: list[dict[str, Any]], max_seeds: int | None = None) -> str:
    """The section (empty for a sweep without adaptive decisions)."""
    if not decisions:
        return ""
    last = decisions[-1]
    head = (f"stopped after round {last['round'] + 1} with {last['seeds']} seeds: {last['reason']}" if last["stop"]
            else f"not stopped yet: round {last['round'] + 1} with {last['seeds']} seeds: {last['reason']}")
    lines = ["", "## Adaptive seeds", "",
             f"Seeds in rounds until the stop rule held{f' (at most {max_seeds})' if max_seeds else ''}; "
             f"{head}.", "",
             "| round | seeds | decision | interval (anytime-valid, these problems) |", "|---:|---:|---|---|"]
    for d in decisions:
        ivs = "; ".join(f"{k}: {100 * e:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
                        for k, (e, lo, hi) in d["intervals"].items())
        lines.append(f"| {d['round'] + 1} | {d['seeds']} | {'stop' if d['stop'] else 'go on'}: {d['reason']} | {ivs} |")
    lines += ["", AFTER_ADAPTIVE_STOP, ""]
    return "\n".join(lines)
