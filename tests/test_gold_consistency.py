"""Every vendored gold grades correct against itself in the surface forms models write, and a strict
fragment of a multi-part gold grades wrong. Runs over every task with vendored data (today AIME24,
AIME25, MATH500: 560 golds), so a task added later is covered too."""

from __future__ import annotations

import collections
import re

import pytest

from evalkit.grade import grade_response
from evalkit.grade.baseline import plain_verdict
from evalkit.grade.mathverify import gold_problem
from evalkit.spec import load_problems
from evalkit.spec.tasks import registry

TASKS = sorted(name for name, t in registry().items() if t.source != "gpqa_csv")
PROBLEMS = [p for name in TASKS for p in load_problems(name)]


def _top_level_split(s: str, sep: str = ",") -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [*parts, cur]


def _unwrap(g: str) -> str:
    """Drop one pair of outer brackets (a tuple or interval) for splitting its entries."""
    t = g.strip().replace("\\left", "").replace("\\right", "").strip()
    if t[:1] in "([" and t[-1:] in ")]" and len(_top_level_split(t[1:-1])) > 1:
        return t[1:-1]
    return t


BS = "\\"


def _swap_frac(g: str) -> str:
    return g.replace(BS + "dfrac", BS + "FRAC").replace(BS + "frac", BS + "dfrac").replace(BS + "FRAC", BS + "frac")


def surface_forms(g: str) -> dict[str, str]:
    """A gold in the forms a model writes its final answer."""
    boxed = {
        "frac_swap": _swap_frac(g),
        "no_left_right": g.replace(BS + "left", "").replace(BS + "right", ""),
        "no_spaces": g.replace(" ", ""),
        "spaced_ops": re.sub(r"\s*([=+<>])\s*", r" \1 ", g),
    }
    forms = {
        "boxed": f"So the answer is $\\boxed{{{g}}}$.",
        "answer_is": f"The answer is ${g}$",
        "dollars": f"${g}$",
        "final_answer": f"Final Answer: The final answer is ${g}$. I hope it is correct.",
        "forced_prefix": f"Final Answer: $\\boxed{{{g}}}$",
        "display": f"Therefore\n\\[\n{g}\n\\]",
        "trailing_period": f"The final answer is $\\boxed{{{g}}}$.\n",
        **{name: f"$\\boxed{{{v}}}$" for name, v in boxed.items()},
    }
    if re.fullmatch(r"-?\d+(\.\d+)?", g.strip()):  # a plain number: unit text and a bare statement are harmless
        forms["unit_text"] = f"$\\boxed{{{g}\\text{{ units}}}}$"
        forms["bare"] = f"The answer is {g}."
    return forms


def fragments(g: str) -> list[str]:
    """Strict fragments of a multi-part gold: one entry of a tuple / list / vector / interval, the
    coefficient of a surd, one term of a sum."""
    out = []
    t = _unwrap(g)
    m = re.search(r"\\begin\{pmatrix\}(.*)\\end\{pmatrix\}", g, re.S)
    if m:
        out += [e.strip() for e in re.split(r"\\\\|&", m.group(1)) if e.strip()][:1]
    parts = [p.strip() for p in _top_level_split(t)]
    thousands = len(parts) > 1 and all(re.fullmatch(r"\\!\s*\d{3}|\d{3}", p) for p in parts[1:])
    if len(parts) > 1 and not thousands and all(parts):
        out += [parts[0], parts[-1]]
    m = re.fullmatch(r"(\d+)\s*\\sqrt\s*\{?\d+\}?", g.strip())
    if m:
        out.append(m.group(1))
    return [f for f in dict.fromkeys(out) if f and f != g]


def test_every_vendored_gold_parses_whole() -> None:
    bad = [(p.task, p.problem_id, p.gold, gold_problem(p.gold, p.answer_type)) for p in PROBLEMS
           if gold_problem(p.gold, p.answer_type)]
    assert not bad, bad
    assert len(PROBLEMS) >= 560


def test_golds_grade_correct_in_every_surface_form(capsys) -> None:
    ok: collections.Counter[str] = collections.Counter()
    plain: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    misses = []
    for p in PROBLEMS:
        for name, text in surface_forms(p.gold).items():
            g = grade_response(text, p.gold, p.answer_type)
            total[name] += 1
            ok[name] += g.correct
            plain[name] += plain_verdict(text, p.gold, p.answer_type)
            if not g.correct:
                misses.append(f"{p.task}/{p.problem_id} {name}: {text!r} -> {g.reason} {g.extracted!r}")
    with capsys.disabled():
        print(f"\ngold self-consistency over {len(PROBLEMS)} golds ({', '.join(TASKS)}): evalkit / plain math-verify")
        for name in total:
            print(f"  {name:16s} {ok[name]}/{total[name]}  {plain[name]}/{total[name]}")
        for m in misses[:40]:
            print("  miss:", m)
    assert not misses


def test_fragments_of_multi_part_golds_grade_wrong(capsys) -> None:
    n, wrong_right, plain_right = 0, [], 0
    for p in PROBLEMS:
        for f in fragments(p.gold):
            n += 1
            text = f"The answer is $\\boxed{{{f}}}$."
            g = grade_response(text, p.gold, p.answer_type)
            plain_right += plain_verdict(text, p.gold, p.answer_type)
            if g.correct:
                wrong_right.append(f"{p.task}/{p.problem_id}: gold {p.gold!r}, fragment {f!r} graded correct")
    with capsys.disabled():
        print(f"\nfragments of multi-part golds: {n - len(wrong_right)}/{n} graded wrong "
              f"(plain math-verify: {n - plain_right}/{n})")
        for m in wrong_right:
            print("  ", m)
    assert n >= 50 and not wrong_right


@pytest.mark.parametrize("gold,fragment", [("3\\sqrt{13}", "3"), ("6 - 5i", "5"), ("11\\sqrt2", "11"),
                                           ("1,-2", "1"), ("\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}", "-7"),
                                           ("x^5 - x^4 + x^3 - x^2 + x - 1", "1"), ("\\frac 59", "59")])
def test_the_fragments_grade_0_2_kept(gold: str, fragment: str) -> None:
    """The golds that grader ek-0.2 parsed into fragments: the fragment is wrong, the gold right."""
    assert not grade_response(f"$\\boxed{{{fragment}}}$", gold, "math").correct
    assert grade_response(f"$\\boxed{{{gold}}}$", gold, "math").correct
