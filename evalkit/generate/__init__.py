"""Generate stage: engines (vLLM in process, model servers over HTTP, scripted) and strategies (budget
forcing). Only :mod:`evalkit.generate.engine` imports vLLM, and only when a :class:`VLLMEngine` is
created; only :mod:`evalkit.generate.server` talks to model servers."""

from evalkit.generate.engine import Engine, GenRequest, GenResult, VLLMEngine
from evalkit.generate.forcing import BudgetError, Job, branch_of, run_rejection, run_sequential, run_trees
from evalkit.generate.formats import PRESETS, ThinkFormat, get_format
from evalkit.generate.scripted import ScriptedEngine
from evalkit.generate.server import ServerEngine, ServerError

__all__ = [
    "PRESETS",
    "BudgetError",
    "Engine",
    "GenRequest",
    "GenResult",
    "Job",
    "ScriptedEngine",
    "ServerEngine",
    "ServerError",
    "ThinkFormat",
    "VLLMEngine",
    "branch_of",
    "get_format",
    "run_rejection",
    "run_sequential",
    "run_trees",
]
