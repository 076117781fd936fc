"""Generate stage: engines (vLLM, scripted) and strategies (budget forcing). Only
:mod:`evalkit.generate.engine` imports vLLM, and only when a :class:`VLLMEngine` is created."""

from evalkit.generate.engine import Engine, GenRequest, GenResult, VLLMEngine
from evalkit.generate.forcing import BudgetError, Job, branch_of, run_rejection, run_sequential, run_trees
from evalkit.generate.formats import PRESETS, ThinkFormat, get_format
from evalkit.generate.scripted import ScriptedEngine

__all__ = [
    "PRESETS",
    "BudgetError",
    "Engine",
    "GenRequest",
    "GenResult",
    "Job",
    "ScriptedEngine",
    "ThinkFormat",
    "VLLMEngine",
    "branch_of",
    "get_format",
    "run_rejection",
    "run_sequential",
    "run_trees",
]
