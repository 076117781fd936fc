"""The pipeline as a library: run sweeps (plan -> batches -> generate -> grade -> store), regrade a
results directory, grade a file of responses. What a run tells its caller goes through one
:class:`Observer`; lm-eval and Slurm live in :mod:`evalkit.integrations`.

``run_sweep`` is the entry point (also ``from evalkit import run_sweep``); the ``evalkit`` command
is a thin layer over these functions.
"""

from evalkit.pipeline.batches import Batch, plan_batches
from evalkit.pipeline.changes import check_store, plan_changes
from evalkit.pipeline.checks import check_context, check_golds, check_plan
from evalkit.pipeline.context import SweepContext, SweepResult, assign_classes
from evalkit.pipeline.engines import ENGINES, EngineFactory, EngineKind, engine_kind
from evalkit.pipeline.executors import EXECUTOR_KINDS, EXECUTORS, Executor, LocalExecutor, get_executor
from evalkit.pipeline.grade_file import GradeFileError, GradeFileResult, grade_file
from evalkit.pipeline.models import load_model_config, scripted_factory, scripted_resolve, server_factory, vllm_factory
from evalkit.pipeline.observer import Collect, LineProgress, Observer, ProgressSink
from evalkit.pipeline.regrade import RegradeResult, regrade
from evalkit.pipeline.sweep import results_dir, run_sweep

__all__ = [
    "ENGINES",
    "EXECUTORS",
    "EXECUTOR_KINDS",
    "Batch",
    "EngineFactory",
    "EngineKind",
    "Executor",
    "GradeFileError",
    "GradeFileResult",
    "Collect",
    "LineProgress",
    "LocalExecutor",
    "Observer",
    "ProgressSink",
    "RegradeResult",
    "SweepContext",
    "SweepResult",
    "assign_classes",
    "check_context",
    "check_golds",
    "check_plan",
    "check_store",
    "engine_kind",
    "get_executor",
    "grade_file",
    "load_model_config",
    "plan_batches",
    "plan_changes",
    "regrade",
    "results_dir",
    "run_sweep",
    "scripted_factory",
    "scripted_resolve",
    "server_factory",
    "vllm_factory",
]
