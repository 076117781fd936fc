"""Verifiers for best-of-n: callables ``(problem, responses, extracted) -> scores`` (higher is better).

A sweep names one as ``parallel: {verifier: "module:function"}``; the runner calls it once per
(problem, seed) with that problem's n samples and stores the score of each sample. These two are
baselines that need no model: plug in a reward model or an LLM judge with the same signature.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

Verifier = Callable[[Any, Sequence[str], Sequence[str | None]], Sequence[float]]


def agreement(problem: Any, responses: Sequence[str], extracted: Sequence[str | None]) -> list[float]:
    """Score = how many other samples state the same extracted answer (string-equal); no answer = -1.
    Best-of-n with it is a plurality vote that breaks ties at random."""
    out = []
    for x in extracted:
        out.append(-1.0 if x is None else float(sum(1 for y in extracted if y == x) - 1))
    return out


def shortest(problem: Any, responses: Sequence[str], extracted: Sequence[str | None]) -> list[float]:
    """Prefer the shortest response that states an answer (a length prior)."""
    return [-float(len(r)) if x is not None else -float("inf") for r, x in zip(responses, extracted, strict=True)]


def load_verifier(ref: str) -> Verifier:
    """``module:function`` -> the callable; a clear error if it cannot be imported."""
    if ":" not in ref:
        raise ValueError(f"verifier {ref!r}: expected 'module:function'")
    mod, fn = ref.split(":", 1)
    try:
        f = getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"verifier {ref!r} cannot be loaded: {e}") from None
    if not callable(f):
        raise ValueError(f"verifier {ref!r} is not callable")
    return f
