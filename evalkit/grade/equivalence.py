"""Equivalence of two extracted answers, and equivalence classes among a problem's samples (what a
majority vote counts)."""

from __future__ import annotations

from evalkit.grade.config import GraderConfig
from evalkit.grade.mathverify import parse_gold

DEFAULT = GraderConfig()


def _normal_letter_or_int(x: str) -> str:
    t = x.strip().strip("$").strip()
    try:
        return str(int(t))
    except ValueError:
        return t.upper()


def equivalent(a: str, b: str, answer_type: str) -> bool:
    """Are two extracted answers the same answer (the grader's equivalence, symmetric use)?"""
    if answer_type in ("mc", "integer"):
        return _normal_letter_or_int(a) == _normal_letter_or_int(b)
    if a.strip() == b.strip():
        return True
    from math_verify import verify

    try:
        return bool(verify(list(parse_gold(a, DEFAULT)), list(parse_gold(b, DEFAULT))))
    except Exception:  # noqa: BLE001
        return False


def answer_classes(extracted: list[str | None], answer_type: str) -> list[int | None]:
    """Cluster answers into equivalence classes (first member is the representative); None stays None.
    Majority votes count classes, not strings: ``1/2`` and ``0.5`` vote together."""
    reps: list[str] = []
    labels: list[int | None] = []
    for x in extracted:
        if x is None:
            labels.append(None)
            continue
        for i, r in enumerate(reps):
            if equivalent(r, x, answer_type):
                labels.append(i)
                break
        else:
            reps.append(x)
            labels.append(len(reps) - 1)
    return labels
