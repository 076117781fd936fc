"""``control_token``: accuracy depends on the control token that replaces the end of thinking, from a sweep
with several controls at the same caps and ignores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.analyze import holm, paired_t_test
from evalkit.claims.data import ClaimData
from evalkit.claims.params import NoParams
from evalkit.claims.registry import claim_kind
from evalkit.claims.verdict import INCONCLUSIVE, SUPPORTED, Verdict, needs
from evalkit.claims.words import Words, p_value, pct
from evalkit.store import Col, Samples


class ControlToken(NoParams):
    """Accuracy depends on the control token (a sweep with several ``controls`` at the same caps and ignores)."""


def _control_mats(g: Samples, ctrls: list[str]) -> dict[str, pd.DataFrame]:
    return {c: g.where(g.control == c).accuracy_matrix() for c in ctrls}


def _line(group: dict[str, Any]) -> str:
    accs = group["accuracy"]
    return (f"{group['task']} cap {group['cap']} ignores {group['ignores']}: "
            + ", ".join(f"{c} {pct(a)}" for c, a in accs.items())
            + f" (mean {pct(group['mean'])} +- {100 * group['sd']:.1f})")


def _words(v: Verdict, p: ControlToken) -> Words:
    x = v.numbers
    lines = tuple(_line(g) for g in x["groups"])
    return Words(statistic="; ".join(lines),
                 interval=f"smallest Holm-adjusted {p_value(x['smallest_adjusted_p'])} over {x['comparisons']} "
                          "paired comparisons",
                 n=f"{x['problems']} problems x {x['seeds']} seeds",
                 method="paired t tests over problems (population of problems; level shown by simulation, README "
                        "statistics), Holm correction", details=lines)


@claim_kind("control_token", ControlToken, words=_words, reads_sweeps=True)
def control_token(data: ClaimData, p: ControlToken) -> Verdict:
    """Paired t tests between every two controls at the same task, cap and ignores; Holm over all of them."""
    rows, alpha = Samples.of(data.rows), data.alpha
    seq = rows.where((rows.method == "sequential") & (rows.n_ignore > 0)) if not rows.empty else rows
    if seq.empty or seq.control.nunique() < 2:
        return needs()
    groups, pvals = [], []
    for (task, cap, k), g in seq.by(Col.TASK, Col.CAP, Col.N_IGNORE):
        ctrls = sorted(g.control.unique())
        if len(ctrls) < 2:
            continue
        mats = _control_mats(g, ctrls)
        accs = {c: float(np.nanmean(np.nanmean(m.to_numpy(float), axis=1))) for c, m in mats.items()}
        groups.append({"task": task, "cap": cap, "ignores": k, "accuracy": accs, "mean": np.mean(list(accs.values())),
                       "sd": np.std(list(accs.values()), ddof=1)})
        for i in range(len(ctrls)):
            for j in range(i + 1, len(ctrls)):
                a, b = mats[ctrls[i]], mats[ctrls[j]]
                common = a.index.intersection(b.index)
                pvals.append(paired_t_test(a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)).pvalue)
    if not pvals:
        return needs()
    adj = holm(np.array(pvals))
    return Verdict(SUPPORTED if (adj < alpha).any() else INCONCLUSIVE,
                   numbers={"groups": groups, "smallest_adjusted_p": adj.min(), "comparisons": len(pvals),
                            "problems": seq.n_problems, "seeds": seq.n_seeds},
                   used=seq.frame)
