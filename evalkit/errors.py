"""One exception family: every error evalkit raises on purpose derives from :class:`EvalkitError`.

Each carries the exit code the command line ends with (2: the input is wrong; 1: the environment or
a run failed), so ``evalkit``'s commands catch one type. The concrete classes stay where their stage
is (:class:`~evalkit.spec.SpecError`, :class:`~evalkit.generate.forcing.BudgetError`, ...) and keep
their ``ValueError`` / ``RuntimeError`` bases for callers that catch those.
"""

from __future__ import annotations


class EvalkitError(Exception):
    """Root of evalkit's errors. ``str(err)`` is the whole message (file:line: key where it applies)."""

    exit_code: int = 2


__all__ = ["EvalkitError"]
