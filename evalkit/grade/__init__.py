"""Grade stage: answer extraction and equivalence."""

from evalkit.grade.mathverify import (
    GRADER_VERSION,
    answer_classes,
    equivalent,
    extract_choice,
    grade_answer,
    grade_response,
)

__all__ = ["GRADER_VERSION", "answer_classes", "equivalent", "extract_choice", "grade_answer", "grade_response"]
