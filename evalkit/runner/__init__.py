"""The pipeline as a library: run sweeps (plan -> batches -> generate -> grade -> store), regrade a
results directory, grade a file of responses, and move results to and from lm-eval's sample logs.

``run_sweep`` is the entry point (also ``from evalkit import run_sweep``); the ``evalkit`` command
is a thin layer over these functions.
"""

from evalkit.runner.batches import Batch, plan_batches
from evalkit.runner.checks import check_context, check_golds, check_plan
from evalkit.runner.context import SweepContext, SweepResult, assign_classes
from evalkit.runner.executors import EXECUTOR_KINDS, Executor, LocalExecutor, SubmititExecutor, get_executor
from evalkit.runner.grade_file import GradeFileError, GradeFileResult, grade_file
from evalkit.runner.models import (
    ENGINES,
    EngineFactory,
    load_model_config,
    scripted_factory,
    scripted_resolve,
    vllm_factory,
)
from evalkit.runner.regrade import RegradeResult, regrade
from evalkit.runner.sweep import results_dir, run_sweep

__all__ = [
    "ENGINES",
    "EXECUTOR_KINDS",
    "Batch",
    "EngineFactory",
    "Executor",
    "GradeFileError",
    "GradeFileResult",
    "LocalExecutor",
    "RegradeResult",
    "SubmititExecutor",
    "SweepContext",
    "SweepResult",
    "assign_classes",
    "check_context",
    "check_golds",
    "check_plan",
    "get_executor",
    "grade_file",
    "load_model_config",
    "plan_batches",
    "regrade",
    "results_dir",
    "run_sweep",
    "scripted_factory",
    "scripted_resolve",
    "vllm_factory",
]
