"""Spec stage: sweep YAML -> validated plan of cells; task definitions and their data. (Claims files and
reported results are read by :mod:`evalkit.claims`.)"""

from evalkit.spec.errors import SpecError
from evalkit.spec.plan import Plan, build_plan, load_spec, parse_spec
from evalkit.spec.schema import SweepSpec
from evalkit.spec.tasks import TaskError, get_task, load_problems, registry

__all__ = [
    "Plan",
    "SpecError",
    "SweepSpec",
    "TaskError",
    "build_plan",
    "get_task",
    "load_problems",
    "load_spec",
    "parse_spec",
    "registry",
]
