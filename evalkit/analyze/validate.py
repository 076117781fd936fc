"""One validation of the inputs of every interval and test in :mod:`evalkit.analyze`.

Conventions, the same everywhere:
- ``confidence`` is a level in (0, 1) (0.95, never 95);
- outcomes are arrays ``[problem, seed(, sample)]`` of values in [0, 1] (binary statistics: 0 or 1),
  with NaN marking a missing unit (a seed that did not run, a failed batch);
- a problem's accuracy is the mean over the units it has; a problem with none is an error;
- paired statistics use the units both cells have (a unit missing in either is missing in both).
"""

from __future__ import annotations

import numpy as np


def confidence_level(confidence: float) -> float:
    """``confidence`` as a float in (0, 1); ValueError otherwise (95 is not 0.95)."""
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}") from None
    if not 0.0 < c < 1.0:
        hint = f" (did you mean {c / 100:g}?)" if 1.0 < c < 100.0 else ""
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}{hint}")
    return c


def units_matrix(x: np.ndarray, *, name: str = "outcomes", min_problems: int = 2) -> np.ndarray:
    """``x[problem, seed(, sample)]`` as a float array ``(problem, unit)``, NaN for missing units, every
    problem with at least one unit (any values: see :func:`outcomes` for outcomes)."""
    c = np.asarray(x, dtype=float)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim == 3:
        c = c.reshape(c.shape[0], -1)
    if c.ndim != 2:
        raise ValueError(f"{name}: expected [problem, seed(, sample)], got shape {np.shape(x)}")
    if c.shape[0] < min_problems:
        raise ValueError(f"{name}: need at least {min_problems} problems, got {c.shape[0]}")
    counts = np.sum(~np.isnan(c), axis=1)
    if np.any(counts == 0):
        rows = np.flatnonzero(counts == 0)
        raise ValueError(f"{name}: {len(rows)} problems have no observation (rows {rows[:10].tolist()})")
    return c


def outcomes(x: np.ndarray, *, binary: bool = False, name: str = "outcomes", min_problems: int = 2) -> np.ndarray:
    """:func:`units_matrix` of outcomes: values must lie in [0, 1] (or be 0/1 with ``binary``)."""
    c = units_matrix(x, name=name, min_problems=min_problems)
    if np.any(np.isinf(c)):
        raise ValueError(f"{name}: infinite values")
    seen = c[~np.isnan(c)]
    if np.any((seen < 0) | (seen > 1)):
        raise ValueError(f"{name}: values must lie in [0, 1] (found {seen.min():g} .. {seen.max():g})")
    if binary and np.any((seen != 0) & (seen != 1)):
        raise ValueError(f"{name}: values must be 0 or 1 (a fraction or a probability is not an outcome)")
    return c


def paired_outcomes(a: np.ndarray, b: np.ndarray, *, binary: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Two cells on the same problems x seeds, as :func:`outcomes`, each missing wherever either is:
    the units both have. A problem with no shared unit is an error."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"paired cells need the same problems x seeds; shapes {np.shape(a)} and {np.shape(b)}")
    a2 = np.asarray(a, dtype=float)
    b2 = np.asarray(b, dtype=float)
    both = ~(np.isnan(a2) | np.isnan(b2))
    a2, b2 = np.where(both, a2, np.nan), np.where(both, b2, np.nan)
    return (outcomes(a2, binary=binary, name="first cell (units both cells have)"),
            outcomes(b2, binary=binary, name="second cell (units both cells have)"))
