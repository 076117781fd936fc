"""Analyze stage: pure statistics on numpy arrays (no I/O, no other stage)."""

from evalkit.analyze.bootstrap import (
    MultiSeedAccuracy,
    VarianceComponents,
    bootstrap_means,
    clustered_se,
    multi_seed_accuracy,
    two_level_bootstrap,
    variance_components,
)
from evalkit.analyze.clustered import (
    accuracy_interval,
    effective_n,
    fixed_set_interval,
    paired_interval,
    paired_t_test,
    seed_sd_interval,
)
from evalkit.analyze.intervals import (
    BINOMIAL_METHODS,
    Interval,
    SeedSummary,
    binomial_interval,
    newcombe_difference,
    seed_summary,
    two_proportion_z,
    wilson,
    wilson_rate,
)
from evalkit.analyze.matched import MatchedComparison, matched_compute
from evalkit.analyze.paired import (
    TestResult,
    benjamini_hochberg,
    holm,
    mcnemar_exact,
    paired_difference,
    sign_flip_test,
    subset_difference,
)
from evalkit.analyze.passk import best_of_k, maj_at_k, maj_at_k_problems, pass_at_k
from evalkit.analyze.power import PowerResult, minimum_detectable_difference, seeds_for_half_width
from evalkit.analyze.resample import Resampled, mean_of, resample
from evalkit.analyze.scaling import CurvePoint, ScalingResult, scaling_curve

__all__ = [
    "Resampled",
    "accuracy_interval",
    "effective_n",
    "fixed_set_interval",
    "mean_of",
    "paired_interval",
    "paired_t_test",
    "resample",
    "seed_sd_interval",
    "BINOMIAL_METHODS",
    "Interval",
    "MultiSeedAccuracy",
    "PowerResult",
    "SeedSummary",
    "TestResult",
    "VarianceComponents",
    "CurvePoint",
    "MatchedComparison",
    "matched_compute",
    "ScalingResult",
    "scaling_curve",
    "benjamini_hochberg",
    "best_of_k",
    "binomial_interval",
    "bootstrap_means",
    "clustered_se",
    "holm",
    "maj_at_k",
    "maj_at_k_problems",
    "mcnemar_exact",
    "minimum_detectable_difference",
    "multi_seed_accuracy",
    "paired_difference",
    "pass_at_k",
    "seed_summary",
    "seeds_for_half_width",
    "sign_flip_test",
    "subset_difference",
    "two_level_bootstrap",
    "variance_components",
    "wilson",
    "wilson_rate",
    "newcombe_difference",
    "two_proportion_z",
]
