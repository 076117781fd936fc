"""evalkit: a statistically rigorous evaluation harness for test-time scaling of reasoning LLMs.

Stages (each a package; none imports a later one):
``spec`` -> ``generate`` -> ``grade`` -> ``analyze`` -> ``report``, plus ``store`` (results on disk),
``pipeline`` (the stages run as a library), ``integrations`` (lm-eval, Slurm: at the edge) and
``cli`` (thin commands over them; it owns the terminal). Typed records passed
between stages live in :mod:`evalkit.records`; every deliberate error derives from
:class:`evalkit.errors.EvalkitError`.

The public API, after ``inspect_ai.eval``::

    from evalkit import run_sweep, report, grade
    res = run_sweep("sweeps/quickstart.yaml", engine="scripted")
    report.build(res.out_dir)
    grade.grade_response("... so the answer is \\\\boxed{42}", "42", "integer")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["EvalkitError", "Observer", "SweepResult", "__version__", "grade", "regrade", "report", "run_sweep"]

_LAZY = {"run_sweep": "evalkit.pipeline", "regrade": "evalkit.pipeline", "SweepResult": "evalkit.pipeline",
         "Observer": "evalkit.pipeline",
         "EvalkitError": "evalkit.errors"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("report", "grade"):
        return importlib.import_module(f"evalkit.{name}")
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
