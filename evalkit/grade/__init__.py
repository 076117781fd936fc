"""Grade stage: answer extraction and equivalence, in-process or sandboxed.

Two functions carry most uses (after Math-Verify's parse/verify split): :func:`grade_response` for
one response, :func:`grade_many` for many in worker processes with hard timeouts.
"""

from evalkit.grade.api import grade_many
from evalkit.grade.cache import GradeCache, grade_cached
from evalkit.grade.config import GRADER_VERSION, GraderConfig
from evalkit.grade.equivalence import answer_classes, equivalent
from evalkit.grade.mathverify import gold_problem, parse_answer, parse_gold
from evalkit.grade.response import (
    extract_choice,
    grade_answer,
    grade_bare_answer,
    grade_item_inprocess,
    grade_response,
)
from evalkit.grade.sandbox import Item, SandboxGrader

__all__ = [
    "GRADER_VERSION",
    "GradeCache",
    "GraderConfig",
    "Item",
    "SandboxGrader",
    "answer_classes",
    "equivalent",
    "extract_choice",
    "gold_problem",
    "grade_answer",
    "grade_bare_answer",
    "grade_cached",
    "grade_item_inprocess",
    "grade_many",
    "grade_response",
    "parse_answer",
    "parse_gold",
]
