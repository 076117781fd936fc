"""``matched_compute``: sequential sampling (budget forcing) beats parallel sampling (majority vote) at
matched compute, from the first sweep that has both families."""

from __future__ import annotations

from evalkit.claims.compute import compare, default_x
from evalkit.claims.data import ClaimData
from evalkit.claims.params import NoParams
from evalkit.claims.registry import claim_kind
from evalkit.claims.verdict import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Verdict, needs
from evalkit.claims.words import Words
from evalkit.store import Samples


class MatchedCompute(NoParams):
    """Sequential (budget forcing) beats parallel sampling (majority vote) at matched compute (a sweep
    with both families; FLOPs with prefix caching where known, else tokens)."""


def _words(v: Verdict, p: MatchedCompute) -> Words:
    md, x = v.intervals["mean_difference"], v.numbers
    return Words(statistic=f"mean difference (sequential - parallel) over the matched {x['x']} range "
                           f"{100 * md.estimate:+.1f} points",
                 interval=f"[{100 * md.low:+.1f}, {100 * md.high:+.1f}]",
                 n=f"{x['problems']} problems x {x['seeds']} seeds", method=md.method,
                 power="more problems narrow the interval fastest; seeds help less when seeds correlate")


@claim_kind("matched_compute", MatchedCompute, words=_words, reads_sweeps=True)
def matched_compute(data: ClaimData, p: MatchedCompute) -> Verdict:
    """Sequential minus parallel over the matched compute range of the first sweep that has both."""
    for df in data.results:
        if Samples.of(df).has_method("sequential") and Samples.of(df).has_method("parallel"):
            x = default_x(df)
            try:
                m, _ = compare(df, x)
            except ValueError:
                continue
            md = m.mean_difference
            verdict = SUPPORTED if md.low > 0 else (NOT_SUPPORTED if md.high < 0 else INCONCLUSIVE)
            return Verdict(verdict, intervals={"mean_difference": md},
                           numbers={"x": x, "problems": m.n_problems, "seeds": m.n_seeds}, used=df)
    return needs()
