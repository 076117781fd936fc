"""Bootstrap speed and exactness, in one run on one 500 problems x 64 samples binary matrix.

    python benchmarks/bootstrap.py                      # about 25 s here (lm-eval's 10,000 take most)
    python benchmarks/bootstrap.py --lm-eval-iters 2000  # lm-eval on fewer iterations, scaled to 10,000

Prints, for 10,000 resamples each:

- evalkit: the two-level (problems x seeds) bootstrap of the mean accuracy by the one engine,
  :func:`evalkit.analyze.resample` with ``levels=2`` (sufficient statistics: one multinomial per resample
  over the values a resampled problem mean can take); median of 5 timed runs after a warm-up;
- evalkit 0.1's two-level bootstrap (problem indices, then per drawn problem a Binomial(n_p, k_p / n_p) /
  n_p), copied here as the reference: the engine must give the same distribution (two-sample KS test;
  mean and SD within Monte Carlo error), and a plain loop over problems and seeds (the definition; 1,000
  resamples) must too;
- inspect_ai's ``bootstrap_stderr`` algorithm (inspect_ai/scorer/_metrics/std.py: a Python loop of
  ``np.mean(np.random.choice(values, len(values), replace=True))``; one level), on the 32,000 flattened
  sample scores as a float array (inspect passes a Python list, which np.random.choice converts on every
  iteration: about 4x slower still, so the array is the conservative comparison). Also shown on the 500
  problem means, which is what inspect's metric sees when 64 epochs are reduced by their mean;
- lm-eval's ``bootstrap_stderr`` (``lm_eval.api.metrics``), called as lm-eval calls it:
  ``bootstrap_stderr(mean, values, iters=10000)`` on the 32,000 flattened values (a Python list),
  multiprocessing over every core as lm-eval does; one level.

The one-level SEs over 32,000 samples ignore that samples of one problem are correlated: they are about
a fifth of the problem-level SE here, which is why evalkit resamples problems.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalkit.analyze import bootstrap_means

P, S, B = 500, 64, 10_000


def evalkit01_two_level_bootstrap(correct: np.ndarray, n_boot: int, seed: int = 0, chunk: int = 2_000) -> np.ndarray:
    """evalkit 0.1's two-level bootstrap of the mean accuracy for 0/1 outcomes (NaN: missing): draw P
    problem indices with replacement, then each drawn problem's resampled mean as Binomial(n_p, k_p /
    n_p) / n_p (its n_p samples resampled with replacement)."""
    c = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    n = np.sum(~np.isnan(c), axis=1)
    k = np.nansum(c, axis=1)
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, c.shape[0], size=(b, c.shape[0]))
        nn = n[idx]
        out[start:start + b] = (rng.binomial(nn, k[idx] / nn) / nn).mean(axis=1)
    return out


def loop_two_level_bootstrap(correct: np.ndarray, n_boot: int, seed: int = 0) -> np.ndarray:
    """The two-level bootstrap by its definition, as a plain loop (evalkit 0.1's reference loop)."""
    c = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    rows = [r[~np.isnan(r)] for r in c]
    out = np.empty(n_boot)
    for b in range(n_boot):
        vals = []
        for p in rng.integers(0, len(rows), len(rows)):
            r = rows[p]
            vals.append(np.mean(r[rng.integers(0, len(r), len(r))]))
        out[b] = float(np.mean(vals))
    return out


def inspect_ai_bootstrap_stderr(values: np.ndarray, num_samples: int) -> float:
    """inspect_ai's bootstrap_stderr metric body (np.random global state, as inspect uses it)."""
    return float(np.std([np.mean(np.random.choice(values, len(values), replace=True)) for _ in range(num_samples)]))


def timed(f, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    t0 = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - t0


def same_distribution(ref: np.ndarray, new: np.ndarray) -> str:
    ks = stats.ks_2samp(np.round(ref, 10), np.round(new, 10))  # one lattice value, two float roundings
    sd = ref.std(ddof=1)
    z_mean = (new.mean() - ref.mean()) / (sd * math.sqrt(1 / len(ref) + 1 / len(new)))
    se_sd = sd * math.sqrt(1 / (2 * (len(ref) - 1)) + 1 / (2 * (len(new) - 1)))  # normal-theory SE of an SD
    z_sd = (new.std(ddof=1) - sd) / se_sd
    return (f"KS D = {ks.statistic:.4f}, p = {ks.pvalue:.3f}; mean {ref.mean():.5f} vs {new.mean():.5f} "
            f"({z_mean:+.2f} MC SE); SD {sd:.5f} vs {new.std(ddof=1):.5f} ({z_sd:+.2f} MC SE)")


def lm_eval_time(values: list[float], iters: int) -> tuple[float, float]:
    from lm_eval.api.metrics import bootstrap_stderr, mean

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        se, t = timed(bootstrap_stderr, mean, values, iters=iters)
    return se, t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lm-eval-iters", type=int, default=B, help="measure lm-eval on this many iterations "
                    "(a multiple of 2,000 keeps both of its worker processes busy) and scale to 10,000")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    p = rng.beta(0.8, 0.8, P)
    c = rng.random((P, S)) < p[:, None]
    flat = c.ravel().astype(float)

    bootstrap_means(c, 100, seed=1)  # warm-up
    runs = [timed(bootstrap_means, c, B, seed=1 + i) for i in range(5)]
    fast, t_fast = runs[0][0], statistics.median(t for _, t in runs)
    ref, t_ref = timed(evalkit01_two_level_bootstrap, c, B, seed=2)
    loop = loop_two_level_bootstrap(c, 1_000, seed=3)
    np.random.seed(4)
    se_insp, t_insp = timed(inspect_ai_bootstrap_stderr, flat, B)
    se_insp_pm, t_insp_pm = timed(inspect_ai_bootstrap_stderr, c.mean(axis=1), B)
    se_lm, t_lm = lm_eval_time(flat.tolist(), args.lm_eval_iters)
    t_lm_10k = t_lm * B / args.lm_eval_iters

    print(f"bootstrap of mean accuracy, {P} problems x {S} samples (0/1), {B:,} resamples each")
    print(f"  evalkit engine, two-level (problems x seeds): {t_fast:.3f} s (median of 5; target <= 0.1 s)")
    print(f"  evalkit 0.1 two-level (Binomial per drawn problem): {t_ref:.3f} s")
    print(f"  inspect_ai bootstrap_stderr loop, one level over the {P * S:,} samples: {t_insp:.2f} s")
    print(f"  inspect_ai bootstrap_stderr loop, one level over the {P} problem means: {t_insp_pm:.2f} s")
    lm_note = "" if args.lm_eval_iters == B else f" (measured on {args.lm_eval_iters:,} iterations, scaled)"
    print(f"  lm-eval bootstrap_stderr(mean, values, iters={B}), one level over the {P * S:,} samples: "
          f"{t_lm_10k:.1f} s{lm_note}")
    print(f"  speed-up of the engine: {t_ref / t_fast:.0f}x evalkit 0.1, {t_insp / t_fast:.0f}x inspect_ai "
          f"(target >= 30x), {t_lm_10k / t_fast:.0f}x lm-eval")
    print(f"  engine vs evalkit 0.1 ({B:,} vs {B:,} resamples): {same_distribution(ref, fast)}")
    print(f"  engine vs the plain two-level loop ({B:,} vs 1,000 resamples): {same_distribution(loop, fast)}")
    print(f"  bootstrap SE: engine {fast.std(ddof=1):.5f}, evalkit 0.1 {ref.std(ddof=1):.5f} (two-level); "
          f"inspect_ai {se_insp:.5f} / {se_insp_pm:.5f} (samples / problem means), lm-eval {se_lm:.5f} (samples)")


if __name__ == "__main__":
    main()
