from __future__ import annotations

import pytest

from evalkit.grade import grade_answer, grade_response

CASES = [
    ("Final Answer: The final answer is $\\boxed{204}$", "204", "integer", True),
    ("Final Answer: \\boxed{025}", "25", "integer", True),
    ("Final Answer: \\boxed{2.5}", "204", "integer", False),
    ("so \\boxed{\\dfrac{\\pi}{2}}", "\\frac{\\pi}{2}", "math", True),
    ("The answer is $\\boxed{\\frac{14}{3}}$.", "\\frac{14}{3}", "math", True),
    ("The answer is $\\boxed{3\\sqrt{2}}$.", "\\sqrt{18}", "math", True),
    ("The answer is $\\boxed{4.7}$.", "\\frac{14}{3}", "math", False),
    ("Answer: (B)", "B", "mc", True),
    ("I first thought A. Final answer: C", "C", "mc", True),
    ("answer: d", "D", "mc", True),
    ("Answer: B", "C", "mc", False),
]


@pytest.mark.parametrize("text,gold,kind,expected", CASES)
def test_grade_answer(text: str, gold: str, kind: str, expected: bool) -> None:
    g = grade_answer(text, gold, kind)
    assert g.correct is expected, g
    assert g.reason in ("equivalent", "not_equivalent", "not_integer_0_999")


def test_no_answer_and_unclosed_thinking() -> None:
    assert grade_answer("", "1", "math").reason == "no_answer"
    assert grade_answer("no idea at all", "B", "mc").reason == "no_answer"
    g = grade_response("thinking about \\boxed{5} forever", "5", "math", think_end="<|im_start|>answer")
    assert (g.correct, g.reason) == (False, "unclosed_thinking")
    g = grade_response("thinking \\boxed{4}<|im_start|>answer\n\\boxed{5}", "5", "math",
                       think_end="<|im_start|>answer")
    assert g.correct and g.extracted == "5"
    g = grade_response("thinking \\boxed{5}", "5", "math", think_end="</think>", unclosed_thinking="use_all")
    assert g.correct
