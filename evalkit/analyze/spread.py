"""A worked example of a new statistic (scratch): the range of per-seed accuracies."""

from __future__ import annotations

import numpy as np

from evalkit.analyze.validate import outcomes


def seed_range(correct: np.ndarray) -> float:
    """Largest minus smallest per-seed mean accuracy of ``correct[problem, seed]`` (complete seeds)."""
    c = outcomes(correct)
    means = np.nanmean(c, axis=0)
    return float(np.nanmax(means) - np.nanmin(means))
