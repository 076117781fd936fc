"""Adversarial grading inputs: every item returns within its timeout + 1 s, nothing crashes, the
worker's memory is capped, and dead or stuck workers are replaced."""

from __future__ import annotations

import time

import pytest

from evalkit.grade import GraderConfig, Item, SandboxGrader

TIMEOUT = 1.5


def corpus() -> list[Item]:
    big = "1" * 1_000_000
    nested = "(" * 10_000 + "1" + ")" * 10_000
    braces = "{" * 10_000 + "1" + "}" * 10_000
    matrix = (
        "\\begin{pmatrix}" + "\\\\".join("&".join(str(i * j) for j in range(50)) for i in range(50)) + "\\end{pmatrix}"
    )
    texts = [
        "\\boxed{10^{10^{10^{10}}}}",
        "\\boxed{1000000!}",
        "\\boxed{(10^{10^{10}})!}",
        "\\boxed{2^{2^{2^{2^{2^{2}}}}}}",
        f"\\boxed{{{big}}}",
        "x" * 1_000_000,
        "\\" * 100_000,
        "\\boxed{" + "\\" * 50_000 + "}",
        f"\\boxed{{{nested}}}",
        f"\\boxed{{{braces}}}",
        "$" * 50_000,
        "\\boxed{" * 5_000,
        "\u202e\\boxed{5}\u202c",
        "\u200b\\boxed{\u200b5\u200b}",
        "\\boxed{٥}",
        "\\boxed{５}",
        "\x00\\boxed{5}\x07",
        "\x1b[31m\\boxed{5}\x1b[0m",
        "\ud7ff\\boxed{5}",
        "Final Answer: " + "9" * 5000,
        f"\\boxed{{{matrix}}}",
        "\\boxed{\\frac{1}{0}}",
        "\\boxed{0/0}",
        "\\boxed{\\infty - \\infty}",
        "\\boxed{\\log(0)}",
        "\\boxed{\\sqrt{-1}}",
        "\\boxed{\\int_0^\\infty e^{-x^2} dx}",
        "\\boxed{\\sum_{n=1}^{\\infty} n}",
        "\\boxed{\\lim_{x\\to 0} \\sin(x)/x}",
        "\\boxed{" + "+".join(["x"] * 5000) + "}",
        "\\boxed{x^{" + "9" * 200 + "}}",
        "\\boxed{9^{9^{9}}}",
        "\\boxed{\\binom{10^{9}}{10^{8}}}",
        "\\boxed{e^{e^{e^{e^{10}}}}}",
        "\\boxed{" + "\\frac{1}{" * 500 + "2" + "}" * 500 + "}",
        "\\boxed{" + "\\sqrt{" * 2000 + "2" + "}" * 2000 + "}",
        "\\boxed{\\begin{matrix}" + "1&" * 3000 + "1\\end{matrix}}",
        "\\boxed{}" * 5000,
        "\\boxed{\\text{" + "a" * 100_000 + "}}",
        "__import__('os').system('echo pwned')",
        "\\boxed{__import__('os').getcwd()}",
        "\\boxed{lambda: 0}",
        "\\boxed{exec('1')}",
        "\\boxed{eval('2+2')}",
        "\\boxed{globals()}",
        "\\boxed{().__class__.__bases__}",
        "\\boxed{\\x}" * 1000,
        "\\boxed{" + "a_{" * 300 + "1" + "}" * 300 + "}",
        "Answer: " + "(" * 5000,
        "\\boxed{10**10**10**10}",
        "\\boxed{factorial(10**7)}",
        "\\boxed{Symbol('x')**10**10}",
    ]
    return [Item(t, "5", "math") for t in texts] + [Item(t, "B", "mc") for t in ("A" * 100_000, "(B)" * 10_000)] + [
        Item(t, "204", "integer") for t in ("\\boxed{" + "0" * 10_000 + "204}", "\\boxed{204" + "0" * 10_000 + "}")]


def test_adversarial_corpus_is_bounded() -> None:
    items = corpus()
    assert len(items) >= 50
    t0 = time.monotonic()
    with SandboxGrader(GraderConfig(), workers=2, timeout_s=TIMEOUT, max_memory_mb=1536) as sb:
        out = []
        slowest = 0.0
        for item in items:  # one at a time, to bound each item's time
            s, started = time.monotonic(), sb.startup_s
            out.extend(sb.grade([item]))
            # a restarted worker's start-up (imports on a loaded machine) is off the item's clock
            slowest = max(slowest, time.monotonic() - s - (sb.startup_s - started))
        restarts = sb.restarts
    assert len(out) == len(items)
    assert slowest <= TIMEOUT + 1.0, slowest
    assert all(g is not None for g in out)
    # no false positive: an item is right only if it states the gold answer somewhere
    for item, g in zip(items, out, strict=True):
        if g.correct:
            assert item.gold in item.response or item.gold in ("B", "204"), (item.response[:80], g)
    # text wrapped in unicode controls (RTL marks, zero-width spaces) or terminal escapes still grades
    wrapped = [g for item, g in zip(items, out, strict=True) if "\u202e" in item.response or "\x1b" in item.response]
    assert all(g.correct for g in wrapped)
    reasons = {g.reason_text for g in out}
    assert reasons <= {"timeout", "no_answer", "not_equivalent", "worker_died", "memory_limit", "gold_unparsable",
                       "ambiguous", "not_integer_0_999", "equivalent"} | {r for r in reasons if r.startswith("error:")}
    print(f"\n{len(items)} adversarial items in {time.monotonic() - t0:.1f}s, slowest {slowest:.2f}s, "
          f"{restarts} worker restarts, reasons {sorted(reasons)}")


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_memory_cap_hangs_and_crashes_cost_only_their_item(context: str) -> None:
    faults = {"hog": "hog", "hang": "hang", "crash": "crash"}
    items = [Item(x, "5", "math") for x in ("hog", "\\boxed{5}", "hang", "\\boxed{5}", "crash", "\\boxed{5}")]
    with SandboxGrader(GraderConfig(), workers=1, timeout_s=2, max_memory_mb=3072, context=context,
                       faults=faults) as sb:
        out = sb.grade(items)
        restarts = sb.restarts
    assert out[0].reason in ("memory_limit", "worker_died")  # 16 GB refused by the address-space cap
    assert out[2].reason == "timeout"
    assert out[4].reason == "worker_died"
    assert [out[i].correct for i in (1, 3, 5)] == [True, True, True]
    assert restarts >= 2


@pytest.mark.parametrize("workers", [1, 2])
def test_sandbox_matches_inprocess(workers: int) -> None:
    from evalkit.grade import grade_item_inprocess

    items = [Item(f"so \\boxed{{{i}/2}}", f"\\frac{{{i}}}{{2}}", "math") for i in range(40)]
    items += [Item("Answer: (C)", "C", "mc"), Item("<think>x</think> \\boxed{3}", "3", "math", think_end="</think>")]
    with SandboxGrader(workers=workers) as sb:
        out = sb.grade(items)
    cfg = GraderConfig()
    assert out == [grade_item_inprocess(i, cfg) for i in items]
