"""Golds with units or unit-like letters, already extracted answers, and the named equivalence rules
(issue #27). Every (gold, answer) pair carries the verdict a careful grader gives; evalkit is compared
with plain math-verify (:mod:`evalkit.grade.baseline`) on the same pairs and the counts are printed
(``pytest tests/test_grade_units.py -s``). Principles: in a math answer a letter glued to a number is a
variable (``5m`` is 5m, not 5) unless the grader is told the answers carry units; unit words and
abbreviations in plain text (``45 degrees``, ``8 cm``, ``5 dollars``, ``100 m``) are units on both sides."""

from __future__ import annotations

import json

import pytest

from evalkit.grade import GraderConfig, gold_problem, grade_bare_answer, grade_response
from evalkit.grade.baseline import plain_math_verify

# the issue's table: gold, answer (all correct; plain math-verify grades them correct too)
ISSUE_TABLE = [("5m", "5m"), ("2s", "2s"), ("3h", "3h"), ("7g", "7g"), ("45 degrees", "45"),
               ("12 square inches", "12"), ("8 cm", "8"), ("12a", "12a"), ("6 \\text{ cm}", "6")]

# a letter glued to a number is a variable: the same expression is right, the bare number and another
# coefficient are wrong (plain math-verify drops the letter as a unit and accepts the bare number)
LETTER_GOLDS = {
    "5m": [("5m", True), ("5 m", True), ("m \\cdot 5", True), ("5", False), ("6m", False)],
    "2s": [("2s", True), ("s2", True), ("2", False)],
    "3h": [("3h", True), ("3", False)],
    "7g": [("7g", True), ("7", False), ("7h", False)],
    "4t": [("4t", True), ("4", False)],
    "9d": [("9d", True), ("9", False)],
    "2c": [("2c", True), ("2", False)],
    "12ab": [("12ab", True), ("12ba", True), ("12", False)],
    "-3m": [("-3m", True), ("-m \\cdot 3", True), ("-3", False)],
    "0.5s": [("0.5s", True), ("\\frac{s}{2}", True), ("0.5", False)],
    "\\frac{3}{2}m": [("\\frac{3m}{2}", True), ("1.5m", True), ("\\frac32", False)],
    "x=5m": [("x = 5m", True), ("5m", True), ("5", False)],
    "10h": [("10h", True), ("h \\cdot 10", True), ("10", False)],
    "y = 2t": [("2t", True), ("y=2t", True), ("2", False)],
    "4m^2": [("4m^2", True), ("4 m^{2}", True), ("4", False)],
}

# unit words and abbreviations in plain text: the number, with or without its unit, is right
UNIT_GOLDS = {
    "45 degrees": [
        ("45", True),
        ("45^\\circ", True),
        ("45 degrees", True),
        ("45 \\text{ degrees}", True),
        ("135", False),
    ],
    "12 square inches": [("12", True), ("12 \\text{ square inches}", True), ("12 \\text{ in}^2", True), ("24", False)],
    "8 cm": [("8", True), ("8 cm", True), ("8 \\text{ cm}", True), ("8\\,\\mathrm{cm}", True), ("80", False)],
    "3 hours": [("3", True), ("3 hours", True), ("3 \\text{ hours}", True), ("4", False)],
    "10 dollars": [("10", True), ("\\$10", True), ("10 dollars", True), ("\\$10.00", True), ("100", False)],
    "2.5 miles": [("2.5", True), ("\\frac52", True), ("2.5 \\text{ miles}", True), ("25", False)],
    "60 mph": [("60", True), ("60 \\text{ mph}", True), ("60 \\text{ miles per hour}", True), ("6", False)],
    "4 m/s": [("4", True), ("4 \\text{ m/s}", True), ("4 m/s", True), ("2", False)],
    "7 kg": [("7", True), ("7 \\text{ kg}", True), ("7 kg", True), ("7000", False)],
    "100 grams": [("100", True), ("100 \\text{ grams}", True), ("100 grams", True), ("10", False)],
    "3 students": [("3", True), ("3 \\text{ students}", True), ("3 students", True), ("5", False)],
    "15 cm^2": [("15", True), ("15 \\text{ cm}^2", True), ("15 cm^2", True), ("225", False)],
    "12 sq units": [("12", True), ("12 \\text{ square units}", True), ("12 sq units", True), ("144", False)],
    "9 units": [("9", True), ("9 \\text{ units}", True), ("3", False)],
    "1.5 liters": [("1.5", True), ("\\frac{3}{2}", True), ("1.5 \\text{ liters}", True), ("15", False)],
    "5 feet": [("5", True), ("5 \\text{ feet}", True), ("5 ft", True), ("60", False)],
    "5 ft": [("5", True), ("5 \\text{ ft}", True), ("5 feet", True), ("6", False)],
    "6 inches": [("6", True), ("6 \\text{ inches}", True), ("6 inches", True), ("\\frac12", False)],
    "2 weeks": [("2", True), ("2 \\text{ weeks}", True), ("2 weeks", True), ("14", False)],
    "10 minutes": [("10", True), ("10 \\text{ min}", True), ("10 minutes", True), ("600", False)],
    "30 seconds": [("30", True), ("30 \\text{ s}", True), ("30 seconds", True), ("0.5", False)],
    "25 cents": [("25", True), ("25 \\text{ cents}", True), ("25 cents", True), ("0.25", False)],
    "3 meters": [("3", True), ("3 \\text{ m}", True), ("3 metres", True), ("300", False)],
    "200 ml": [("200", True), ("200 \\text{ mL}", True), ("200 ml", True), ("0.2", False)],
    "72 points": [("72", True), ("72 \\text{ points}", True), ("72 points", True), ("27", False)],
    "-4 degrees": [("-4", True), ("-4^\\circ", True), ("-4 degrees", True), ("4", False)],
    "4\\pi cm^2": [("4\\pi", True), ("4\\pi \\text{ cm}^2", True), ("4\\pi cm^2", True), ("4", False)],
    "36\\pi \\text{ cubic inches}": [("36\\pi", True), ("36\\pi \\text{ in}^3", True), ("36", False)],
    "30°": [("30", True), ("30°", True), ("30^\\circ", True), ("60", False)],
    "\\$1.50": [("1.5", True), ("\\$1.50", True), ("1.50 dollars", True), ("150", False)],
    "5 percent": [("5", True), ("5\\%", True), ("5 percent", True), ("50", False)],
    "1 1/2 cups": [("\\frac32", True), ("1.5", True), ("1 1/2", True), ("1", False)],
    "1 1/2 \\text{ cups}": [("\\frac32", True), ("1.5", True), ("1 1/2", True), ("1", False)],
    "2 \\frac{1}{2} inches": [("\\frac52", True), ("2.5", True), ("2\\frac12", True), ("2", False)],
    "3 and 4": [("3, 4", True), ("4, 3", True), ("3", False)],
    "8 in.": [("8", True), ("8 \\text{ in.}", True), ("8 inches", True), ("9", False)],
    "12\\,\\%": [("12", True), ("12\\%", True), ("12 percent", True), ("21", False)],
    # a unit letter standing apart from the number is a unit symbol, as math-verify reads it
    "100 m": [("100", True), ("100 \\text{ m}", True), ("100 m", True), ("10", False)],
    "20 s": [("20", True), ("20 \\text{ s}", True), ("20 seconds", True), ("2", False)],
}

FORMS = {
    "boxed": "so the answer is $\\boxed{{{a}}}$",
    "answer_is": "The answer is ${a}$.",
    "final_answer": "Final Answer: The final answer is ${a}$. I hope it is correct.",
}


def _pairs(table: dict[str, list[tuple[str, bool]]]) -> list[tuple[str, str, bool]]:
    return [(g, a, label) for g, answers in table.items() for a, label in answers]


def _compare(pairs: list[tuple[str, str, bool]]) -> tuple[int, int, int, list[str], list[str]]:
    """(n, evalkit matches the label, plain math-verify matches the label, evalkit misses, pairs where
    plain math-verify matches the label and evalkit does not)."""
    n = ek = mv = 0
    misses, below = [], []
    for gold, ans, label in pairs:
        for name, form in FORMS.items():
            text = form.format(a=ans)
            g = grade_response(text, gold, "math")
            p = plain_math_verify(text, gold)
            n += 1
            ek += g.correct == label
            mv += p == label
            if g.correct != label:
                misses.append(f"gold {gold!r} {name} {ans!r}: {g.correct} ({g.reason}, {g.extracted!r}), label {label}")
                if p == label:
                    below.append(misses[-1])
    return n, ek, mv, misses, below


def test_issue_table_golds_grade_correct() -> None:
    for gold, ans in ISSUE_TABLE:
        assert gold_problem(gold, "math") is None, gold
        g = grade_response(f"so the answer is $\\boxed{{{ans}}}$", gold, "math")
        assert g.correct, (gold, ans, g)
        assert plain_math_verify(f"so the answer is $\\boxed{{{ans}}}$", gold)


@pytest.mark.parametrize("name,table", [("letters glued to numbers (variables)", LETTER_GOLDS),
                                        ("unit words and abbreviations", UNIT_GOLDS)])
def test_unit_and_variable_golds_at_or_above_plain_math_verify(name: str, table: dict, capsys) -> None:
    n, ek, mv, misses, below = _compare(_pairs(table))
    with capsys.disabled():
        print(f"\n{name}: {len(table)} golds, {n} graded responses; matches the label: evalkit {ek}/{n}, "
              f"plain math-verify {mv}/{n}")
        for m in misses:
            print("  evalkit miss:", m)
    assert len(table) >= 13
    assert not below, below
    assert not misses, misses


def test_thirty_plus_unit_and_variable_golds() -> None:
    assert len(LETTER_GOLDS) + len(UNIT_GOLDS) >= 30 + len(ISSUE_TABLE) - 2


def test_unit_letters_setting_reads_a_glued_letter_as_a_unit() -> None:
    """A task whose answers carry units (``evalkit grade --unit-letters``): ``5m`` is 5 metres."""
    cfg = GraderConfig(unit_letters=True)
    assert grade_response("$\\boxed{5}$", "5m", "math", cfg=cfg).correct
    assert grade_response("$\\boxed{5m}$", "5m", "math", cfg=cfg).correct
    assert not grade_response("$\\boxed{6}$", "5m", "math", cfg=cfg).correct
    assert not grade_response("$\\boxed{5}$", "5m", "math").correct  # default: m is a variable


def test_golds_that_still_do_not_parse_are_refused_not_fragments() -> None:
    for gold in ("\\frac{1}{", "((1,2)", "3 \\sqrt{", "1,,2", "[0,1"):
        assert gold_problem(gold, "math"), gold
        assert grade_response("$\\boxed{1}$", gold, "math").reason == "gold_unparsable"


# --- already extracted answers (records with ``answer``) -------------------------------------------

BARE = [  # gold, answer, answer type, verdict
    ("\\frac{1}{3}", "\\dfrac{1}{3}", "math", True),
    ("\\frac34 i", "\\frac{3}{4}i", "math", True),
    ("\\frac{1}{2}", "0.5", "math", True),
    ("\\frac{1}{2}", "1/2", "math", True),
    ("\\frac{\\sqrt{3}}{2}", "\\sqrt3/2", "math", True),
    ("x^2+1", "1 + x^2", "math", True),
    ("\\{1, 2\\}", "2, 1", "math", True),
    ("(1,2)", "(2,1)", "math", False),
    ("45", "45^\\circ", "math", True),
    ("45 degrees", "45", "math", True),
    ("5m", "5m", "math", True),
    ("5m", "5", "math", False),
    ("1 1/2", "3/2", "math", True),
    ("3\\sqrt{13}", "3", "math", False),
    ("6 - 5i", "5", "math", False),
    ("y = 2x + 3", "2x+3", "math", True),
    ("\\$5", "5 dollars", "math", True),
    ("25", "025", "integer", True),
    ("25", "2.5", "integer", False),
    ("B", "B", "mc", True),
    ("B", "(B)", "mc", True),
    ("B", "\\boxed{B}", "mc", True),
    ("C", "B", "mc", False),
    ("\\frac{14}{3}", "$\\frac{14}{3}$", "math", True),
    ("\\frac{14}{3}", "\\boxed{\\frac{14}{3}}", "math", True),
]


def test_bare_answers_grade_by_the_same_equivalence(capsys) -> None:
    wrong = [
        (g, a, t, grade_bare_answer(a, g, t)) for g, a, t, label in BARE if grade_bare_answer(a, g, t).correct != label
    ]
    raw = sum(plain_math_verify(a, g) == label for g, a, t, label in BARE if t != "mc")
    dollars = sum(plain_math_verify(f"${a.strip('$')}$", g) == label for g, a, t, label in BARE if t != "mc")
    n = sum(t != "mc" for *_, t, _ in BARE)
    with capsys.disabled():
        print(f"\nbare answers: evalkit {len(BARE) - len(wrong)}/{len(BARE)} match the verdict; plain math-verify "
              f"(math/integer) {raw}/{n} on the answer as given, {dollars}/{n} on $answer$")
    assert not wrong, wrong


def test_bare_pairs_need_no_delimiters() -> None:
    """Today's failure: nothing to extract from a bare ``\\dfrac{1}{3}`` (no ``$...$`` or ``\\boxed{}``)."""
    assert grade_response("\\dfrac{1}{3}", "\\frac{1}{3}", "math").reason == "no_answer"
    assert grade_bare_answer("\\dfrac{1}{3}", "\\frac{1}{3}", "math").correct
    assert grade_bare_answer("", "1", "math").reason == "no_answer"


def test_cli_grades_answer_records_and_warns_on_unparsable_golds(tmp_path) -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app

    recs = [{"task": "math", "gold": "\\frac{1}{3}", "answer": "\\dfrac{1}{3}"},
            {"task": "math", "gold": "\\frac34 i", "answer": "\\frac{3}{4}i"},
            {"task": "math", "gold": "45 degrees", "response": "so $\\boxed{45}$"},
            {"task": "mc", "gold": "B", "answer": "B"},
            {"task": "math", "gold": "\\frac{1}{", "answer": "1"},
            {"task": "math", "gold": "\\frac{1}{", "response": "$\\boxed{1}$"}]
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    res = CliRunner().invoke(app, ["grade", str(inp), "-o", str(out), "--no-cache",
                                   "--audit", str(tmp_path / "audit.jsonl")])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["correct"] for r in rows] == [True, True, True, True, False, False]
    assert rows[4]["reason"] == rows[5]["reason"] == "gold_unparsable"
    warnings = [line for line in res.output.splitlines() if line.startswith("warning: gold")]
    assert len(warnings) == 1 and "2 record" in warnings[0] and "\\\\frac{1}{" in warnings[0], res.output
    for bad, what in (({"task": "math", "gold": "1"}, "neither"),
                      ({"task": "math", "gold": "1", "answer": "1", "response": "1"}, "'response' and 'answer'")):
        f = tmp_path / "bad.jsonl"
        f.write_text(json.dumps(recs[0]) + "\n" + json.dumps(bad) + "\n")
        res = CliRunner().invoke(app, ["grade", str(f), "-o", str(tmp_path / "never.jsonl")])
        assert res.exit_code == 2 and "bad.jsonl:2" in res.output and what in res.output, res.output
    assert not (tmp_path / "never.jsonl").exists()


def test_answer_and_response_records_are_cached_apart(tmp_path) -> None:
    from evalkit.grade import GradeCache, Item

    cache = GradeCache(tmp_path / "c.sqlite")
    try:
        assert cache.key(Item("1", "1", "math")) != cache.key(Item("1", "1", "math", is_answer=True))
    finally:
        cache.close()


# --- named equivalence rules -------------------------------------------------------------------------

def _ok(ans: str, gold: str, cfg: GraderConfig | None = None) -> bool:
    return grade_response(f"The answer is $\\boxed{{{ans}}}$.", gold, "math", cfg=cfg or GraderConfig()).correct


@pytest.mark.parametrize("gold,ans", [("1, 2", "\\{2, 1\\}"), ("\\{1,2\\}", "2, 1"), ("\\{1,2\\}", "2 \\text{ and } 1"),
                                      ("-1, 3", "x = 3, x = -1"), ("\\{-1, 3\\}", "[3, -1]"), ("1,2,3", "(3, 2, 1)"),
                                      ("3, 1, 2", "2; 3; 1"), ("3 and 4", "4, 3")])
def test_rule_unordered_lists_and_sets(gold: str, ans: str) -> None:
    assert _ok(ans, gold)


def test_rule_unordered_solution_groups() -> None:
    """lighteval's pair gp-0284: math-verify turns ``\\quad \\text{and} \\quad`` into ``\\quad, \\quad``."""
    from evalkit.grade.mathverify import grade_math

    cfg = GraderConfig(gold_format="text")
    gold = "\\boxed{ p = 5, q = 2 \\quad \\text{and} \\quad p = 7, q = 2}"
    assert grade_math("$p=7,q=2;p=5,q=2$", gold, cfg).reason == "unordered_list"
    assert not grade_math("$p=5,q=2;p=7,q=3$", gold, cfg).correct


def test_rule_tuples_stay_ordered() -> None:
    assert not _ok("(2,1)", "(1,2)")


@pytest.mark.parametrize("gold,ans", [("y=2x+3", "2x + 3"), ("2x+3", "y = 2x+3"), ("f(x) = x^2+1", "x^2+1"),
                                      ("x^2+1", "f(x) = x^2+1"), ("x = 1, y = 2", "(1, 2)"), ("(1,2)", "x=1, y=2"),
                                      ("x=1,y=2", "1,2"), ("x=5", "5")])
def test_rule_equation_sides(gold: str, ans: str) -> None:
    assert _ok(ans, gold)


def test_rule_factorisation_accepts_reordered_factors_and_rejects_the_expansion() -> None:
    """Real output (tests/data/real_outputs): ``ab+5b+2a+10`` for the gold ``(a+5)(b+2)``."""
    for gold, ans in [("(a+5)(b+2)", "(b+2)(a+5)"), ("x(x+3)", "(x+3)x"), ("(x+3)^2", "(3+x)^2"),
                      ("(3x-2)(x+1)", "(x+1)(3x-2)"), ("(x-2)(x+2)(x^2+4)", "(x^2+4)(x+2)(x-2)"),
                      ("-(x-1)(x+2)", "(1-x)(x+2)"), ("2(x-1)^3", "(x-1)^3 \\cdot 2")]:
        assert _ok(ans, gold), (gold, ans)
    for gold, ans in [("(a+5)(b+2)", "ab+5b+2a+10"), ("(x+3)^2", "x^2+6x+9"), ("(x-2)(x+2)", "x^2-4")]:
        g = grade_response(f"$\\boxed{{{ans}}}$", gold, "math")
        assert (g.correct, g.reason) == (False, "form_mismatch"), (gold, ans)


@pytest.mark.parametrize("gold,ans", [("\\$5", "5"), ("5", "\\$5.00"), ("5", "5 dollars"), ("\\$1,000", "1000"),
                                      ("20\\%", "20"), ("20", "20\\%"), ("5", "5 USD"), ("\\$2.50", "2.5"),
                                      ("25\\%", "25 percent"), ("€5", "5")])
def test_rule_currency_and_percent(gold: str, ans: str) -> None:
    assert _ok(ans, gold)


@pytest.mark.parametrize("gold,ans,ok", [("2\\frac14", "\\frac94", True), ("\\frac94", "2\\frac14", True),
                                         ("1 1/2", "\\frac32", True), ("\\frac32", "1 1/2", True),
                                         ("-2\\frac{1}{3}", "-\\frac{7}{3}", True), ("3\\tfrac{1}{2}", "3.5", True),
                                         ("1", "1 1/2", False), ("1 1/2", "1", False), ("1 1/2", "\\frac12", False)])
def test_rule_mixed_numbers(gold: str, ans: str, ok: bool) -> None:
    g = grade_response(f"The answer is $\\boxed{{{ans}}}$.", gold, "math")
    assert g.correct is ok, g
    if ok and "/" in gold + ans and "frac" not in gold + ans:
        assert g.reason == "mixed_number"


@pytest.mark.parametrize(
    "gold,ans,ok",
    [
        ("0.\\overline{3}", "\\frac13", True),
        ("\\frac13", "0.\\overline{3}", True),
        ("0.1\\overline{6}", "\\frac16", True),
        ("1.\\overline{142857}", "\\frac87", True),
        ("0.\\overline{3}", "0", False),
        ("0", "0.\\overline{3}", False),
        ("0.\\overline{3}", "0.\\overline{3}", True),
    ],
)
def test_rule_repeating_decimals(gold: str, ans: str, ok: bool) -> None:
    """math-verify reads ``0.\\overline{3}`` as 0, so plain math-verify grades 0 correct for it."""
    assert grade_response(f"$\\boxed{{{ans}}}$", gold, "math").correct is ok


@pytest.mark.parametrize("gold,ans", [("\\sec x", "\\frac{1}{\\cos x}"), ("\\frac{1}{\\cos x}", "\\sec x"),
                                      ("\\csc^2 x", "\\frac{1}{\\sin^2 x}"), ("\\cot x", "\\frac{\\cos x}{\\sin x}"),
                                      ("\\cot \\theta", "\\frac{1}{\\tan \\theta}"), ("\\csc \\frac{\\pi}{6}", "2")])
def test_rule_reciprocal_trig(gold: str, ans: str) -> None:
    assert _ok(ans, gold)


def test_rule_decimal_approximation_is_off_by_default() -> None:
    assert not _ok("3.14", "\\pi") and not _ok("0.333", "\\frac13") and not _ok("1.41", "\\sqrt2")
    cfg = GraderConfig(approximate=True)
    g = grade_response("$\\boxed{3.14}$", "\\pi", "math", cfg=cfg)
    assert (g.correct, g.reason) == (True, "decimal_approximation")
    assert _ok("0.333", "\\frac13", cfg) and _ok("1.414", "\\sqrt2", cfg) and _ok("1.41", "\\sqrt2", cfg)
    assert not _ok("3.15", "\\pi", cfg) and not _ok("3", "\\pi", cfg) and not _ok("0.34", "\\frac13", cfg)
