"""``length_confound``: realised thinking length predicts correctness within problems (a confound for
budget-forcing curves), from a sweep's sequential samples."""

from __future__ import annotations

from evalkit.analyze import within_cluster_slope
from evalkit.claims.data import ClaimData
from evalkit.claims.params import NoParams
from evalkit.claims.registry import claim_kind
from evalkit.claims.verdict import INCONCLUSIVE, SUPPORTED, Verdict, needs
from evalkit.claims.words import Words
from evalkit.store import Samples


class LengthConfound(NoParams):
    """Realised thinking length predicts correctness within problems (a sweep's sequential samples)."""


def _words(v: Verdict, p: LengthConfound) -> Words:
    s = v.intervals["slope"]
    return Words(statistic=f"within-problem slope of correctness on realised thinking length: "
                           f"{1e5 * s.estimate:+.1f} points of accuracy per 1,000 thinking tokens",
                 interval=f"[{1e5 * s.low:+.1f}, {1e5 * s.high:+.1f}] (problem bootstrap, t; population of problems)",
                 n=f"{s.n} problems, {s.details['samples']} samples",
                 method="pooled within-problem least-squares slope; problems resampled as clusters",
                 power="'supported' means realised length predicts correctness within problems (a confound "
                       "for budget-forcing curves); a controlled answer-at-fixed-length design isolates it")


@claim_kind("length_confound", LengthConfound, words=_words, reads_sweeps=True)
def length_confound(data: ClaimData, p: LengthConfound) -> Verdict:
    """Within-problem association of correctness with realised thinking length (sequential samples)."""
    rows = Samples.of(data.rows)
    if rows.empty:
        return needs()
    seq = rows.of_method("sequential")
    if seq.empty:
        return needs()
    seq = seq.where(seq.thinking_tokens.notna())  # imported samples may not know their token counts
    if seq.empty:
        return needs("thinking token counts are unknown (import lm-eval samples with --tokenizer)")
    s = within_cluster_slope(seq.thinking_tokens.astype(float).to_numpy(), seq.correct.astype(float).to_numpy(),
                             seq.problem_id.to_numpy(), 1 - data.alpha)
    return Verdict(SUPPORTED if (s.low > 0 or s.high < 0) else INCONCLUSIVE, intervals={"slope": s}, used=seq.frame)
