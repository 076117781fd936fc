"""Coverage of the 95% intervals by seeded simulation (>= 4,000 simulations per setting).

    python benchmarks/coverage.py [--sims 4000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from evalkit.analyze import two_level_bootstrap, wilson
from evalkit.analyze.bootstrap import bootstrap_means


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=4000)
    ap.add_argument("--boot", type=int, default=1000)
    a = ap.parse_args()
    rng = np.random.default_rng(2026)
    print(f"Wilson 95%, n = 30, {a.sims} simulations per p")
    table = {k: wilson(k, 30) for k in range(31)}
    for p in (0.1, 0.5, 0.9):
        ks = rng.binomial(30, p, a.sims)
        cov = np.mean([table[k].low <= p <= table[k].high for k in ks])
        exact = sum(stats.binom.pmf(k, 30, p) for k in range(31) if table[k].low <= p <= table[k].high)
        print(f"  p={p}: simulated {cov:.4f}  exact {exact:.4f}")
    print(f"30 problems x 10 seeds, accuracy ~ Beta(0.6, 0.9) per problem (truth 0.4), {a.sims} simulations, "
          f"{a.boot} resamples each")
    t0 = time.perf_counter()
    hits = {"two-level percentile": 0, "two-level BCa": 0, "problems-only percentile": 0}
    for s in range(a.sims):
        p = rng.beta(0.6, 0.9, 30)
        c = rng.random((30, 10)) < p[:, None]
        ci = two_level_bootstrap(c, n_boot=a.boot, seed=s)
        hits["two-level percentile"] += ci.low <= 0.4 <= ci.high
        ci = two_level_bootstrap(c, n_boot=a.boot, seed=s, method="bca")
        hits["two-level BCa"] += ci.low <= 0.4 <= ci.high
        lo, hi = np.quantile(bootstrap_means(c, a.boot, s, two_level=False), [0.025, 0.975])
        hits["problems-only percentile"] += lo <= 0.4 <= hi
    for k, v in hits.items():
        print(f"  {k}: {v / a.sims:.4f}")
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
