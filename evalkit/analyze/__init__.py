"""Analyze stage: the statistics, pure functions on numpy arrays (no I/O; no evalkit module but ``errors`` and
``records``). Outcomes are arrays ``[problem, seed(, sample)]`` with NaN for a missing unit; every estimate
weights problems equally; every interval states its estimand (the population of problems, or these problems).

The public names, what each is for:

| name | what |
| --- | --- |
| `accuracies_from_summary` | per-problem accuracies consistent with a published mean and seed SD (for planning) |
| `accuracy_interval` | mean accuracy with its problem-clustered score interval (population of problems) |
| `AdaptiveRule` | when an adaptive sweep stops seeding (rounds, rule, confidence) |
| `benjamini_hochberg` | Benjamini-Hochberg adjusted p-values (false discovery rate) |
| `best_of_k` | expected accuracy of a verifier's top pick among k of n samples (exact) |
| `best_paired_p` | smallest exact McNemar p-value two runs with k1 and k2 correct can have |
| `binomial_interval` | interval for k of n (Wilson, Clopper-Pearson, Jeffreys, Agresti-Coull) |
| `bootstrap_means` | bootstrap replicates of mean accuracy (problems, or problems x seeds) |
| `complete_seeds` | the seeds (columns) every problem has |
| `confidence_sequence` | anytime-valid confidence sequence for a cell's mean over seeds |
| `ConfidenceSequence` | result of `confidence_sequence` / `paired_confidence_sequence` |
| `CurvePoint` | one cell of a `ScalingResult` (compute and accuracy intervals) |
| `expected_seeds` | seeds an adaptive rule is expected to use, by simulation |
| `fixed_set_difference` | a k-seed mean minus a fixed number, for these problems (seed noise only) |
| `fixed_set_interval` | mean accuracy of these problems (seed noise only) |
| `holm` | Holm step-down adjusted p-values (family-wise error) |
| `Interval` | an estimate with its interval, method, n and details |
| `ladder_trend` | Cochran-Armitage trend test over a forcing ladder |
| `maj_at_k` | expected majority-vote accuracy of k of n samples (exact; ties split) |
| `matched_compute` | sequential vs parallel accuracy at matched compute, with paired bootstrap intervals |
| `MatchedComparison` | result of `matched_compute` |
| `max_seed_sd` | the largest seed SD of accuracy n problems allow |
| `mcnemar_exact` | exact McNemar test (one sample per problem) |
| `mean_accuracy` | evalkit's accuracy: the mean over problems of each problem's mean over its seeds |
| `minimum_detectable_difference` | smallest accuracy difference a design detects with the given power |
| `mover_difference` | MOVER interval for p1 - p2 from two independent intervals |
| `n_for_difference` | problems per arm for an unpaired two-proportion test |
| `newcombe_difference` | Newcombe's hybrid score interval for p1 - p2 (independent samples) |
| `paired_confidence_sequence` | anytime-valid confidence sequence for the difference of two cells |
| `paired_difference` | mean difference of two cells on the same problems, paired interval and tests |
| `paired_interval` | paired score interval for the difference of two cells (population of problems) |
| `paired_t_test` | test of a zero mean difference that matches `paired_interval` |
| `pass_at_k` | unbiased pass@k (Chen et al. 2021) |
| `per_seed_accuracy` | accuracy at each seed: the mean over the problems the seed has |
| `population_budget` | what a population-of-problems target leaves the seeds, given the stored rows |
| `population_floor` | the half-width no number of seeds takes the population interval below |
| `population_interval` | population-of-problems interval around a k-seed mean |
| `PopulationBudget` | result of `population_budget` |
| `PopulationFloor` | result of `population_floor` |
| `PowerResult` | result of `minimum_detectable_difference` |
| `problem_accuracy` | accuracy of each problem: the mean over the seeds it has |
| `resample` | the one problem-level bootstrap engine (percentile, BCa, t) |
| `Resampled` | result of `resample`: estimate, interval, SE and the replicates |
| `scaling_curve` | accuracy-vs-compute scaling metrics (control, scaling, performance) with intervals |
| `ScalingResult` | result of `scaling_curve` |
| `sd_interval` | chi-square interval for an SD of k per-seed accuracies |
| `sd_relative_half_width` | relative half-width of an SD estimated from k seeds |
| `seed_sd_interval` | SD of per-seed accuracies with its chi-square interval (these problems) |
| `seed_spread` | what a seed SD over n problems says about the problems |
| `seed_summary` | mean accuracy, per-seed accuracies and their SD |
| `SeedForecast` | result of `expected_seeds` |
| `SeedSpread` | result of `seed_spread` |
| `SeedSummary` | result of `seed_summary` |
| `sign_flip_test` | problem-level sign-flip permutation test of a zero mean difference |
| `single_run_range` | where one more run at the same settings falls (t prediction interval) |
| `stop_check` | whether an adaptive rule stops after the seeds so far |
| `StopCheck` | result of `stop_check` |
| `StopRule` | the kinds of stop rule (`halfwidth`, `excludes_zero`, `equivalence`, `compare`) |
| `subset_difference` | accuracy on a subset of the problems minus accuracy on all of them |
| `TestResult` | a test's statistic, p-value, method and n |
| `Trend` | result of `ladder_trend` |
| `trend_power` | interval, minimum detectable slope and power of a ladder's trend test |
| `TrendPower` | result of `trend_power` |
| `two_level_bootstrap` | evalkit 0.1's two-level (problems x seeds) bootstrap interval |
| `two_proportion_z` | pooled two-proportion z test |
| `variance_components` | between- and within-problem variance and the ICC (one-way ANOVA) |
| `VarianceComponents` | result of `variance_components` |
| `vote_matrices` | maj@k, pass@k and best-of-k of every (problem, seed) of a parallel cell |
| `VoteMatrices` | result of `vote_matrices` |
| `wilson` | Wilson score interval for k of n |
| `wilson_rate` | Wilson score interval for an observed rate on n trials |
| `within_cluster_slope` | within-problem slope of y on x, problems resampled |
| `yardstick_position` | where a value stands among other systems' values |
| `YardstickPosition` | result of `yardstick_position` |
"""

from evalkit.analyze.association import within_cluster_slope
from evalkit.analyze.bootstrap import (
    VarianceComponents,
    bootstrap_means,
    two_level_bootstrap,
    variance_components,
)
from evalkit.analyze.clustered import (
    accuracy_interval,
    fixed_set_interval,
    paired_interval,
    paired_t_test,
    seed_sd_interval,
)
from evalkit.analyze.intervals import (
    Interval,
    SeedSummary,
    TestResult,
    binomial_interval,
    newcombe_difference,
    seed_summary,
    two_proportion_z,
    wilson,
    wilson_rate,
)
from evalkit.analyze.matched import MatchedComparison, matched_compute
from evalkit.analyze.matrices import (
    VoteMatrices,
    complete_seeds,
    mean_accuracy,
    per_seed_accuracy,
    problem_accuracy,
    vote_matrices,
)
from evalkit.analyze.paired import (
    benjamini_hochberg,
    holm,
    mcnemar_exact,
    paired_difference,
    sign_flip_test,
    subset_difference,
)
from evalkit.analyze.passk import best_of_k, maj_at_k, pass_at_k
from evalkit.analyze.power import (
    PowerResult,
    minimum_detectable_difference,
    n_for_difference,
    sd_relative_half_width,
)
from evalkit.analyze.resample import Resampled, resample
from evalkit.analyze.scaling import CurvePoint, ScalingResult, scaling_curve
from evalkit.analyze.sequential import (
    AdaptiveRule,
    ConfidenceSequence,
    PopulationBudget,
    PopulationFloor,
    SeedForecast,
    StopCheck,
    StopRule,
    accuracies_from_summary,
    confidence_sequence,
    expected_seeds,
    paired_confidence_sequence,
    population_budget,
    population_floor,
    stop_check,
)
from evalkit.analyze.summaries import (
    SeedSpread,
    Trend,
    TrendPower,
    YardstickPosition,
    best_paired_p,
    fixed_set_difference,
    ladder_trend,
    max_seed_sd,
    mover_difference,
    population_interval,
    sd_interval,
    seed_spread,
    single_run_range,
    trend_power,
    yardstick_position,
)

__all__ = [
    "accuracies_from_summary",
    "accuracy_interval",
    "AdaptiveRule",
    "benjamini_hochberg",
    "best_of_k",
    "best_paired_p",
    "binomial_interval",
    "bootstrap_means",
    "complete_seeds",
    "confidence_sequence",
    "ConfidenceSequence",
    "CurvePoint",
    "expected_seeds",
    "fixed_set_difference",
    "fixed_set_interval",
    "holm",
    "Interval",
    "ladder_trend",
    "maj_at_k",
    "matched_compute",
    "MatchedComparison",
    "max_seed_sd",
    "mcnemar_exact",
    "mean_accuracy",
    "minimum_detectable_difference",
    "mover_difference",
    "n_for_difference",
    "newcombe_difference",
    "paired_confidence_sequence",
    "paired_difference",
    "paired_interval",
    "paired_t_test",
    "pass_at_k",
    "per_seed_accuracy",
    "population_budget",
    "population_floor",
    "population_interval",
    "PopulationBudget",
    "PopulationFloor",
    "PowerResult",
    "problem_accuracy",
    "resample",
    "Resampled",
    "scaling_curve",
    "ScalingResult",
    "sd_interval",
    "sd_relative_half_width",
    "seed_sd_interval",
    "seed_spread",
    "seed_summary",
    "SeedForecast",
    "SeedSpread",
    "SeedSummary",
    "sign_flip_test",
    "single_run_range",
    "stop_check",
    "StopCheck",
    "StopRule",
    "subset_difference",
    "TestResult",
    "Trend",
    "trend_power",
    "TrendPower",
    "two_level_bootstrap",
    "two_proportion_z",
    "variance_components",
    "VarianceComponents",
    "vote_matrices",
    "VoteMatrices",
    "wilson",
    "wilson_rate",
    "within_cluster_slope",
    "yardstick_position",
    "YardstickPosition",
]
