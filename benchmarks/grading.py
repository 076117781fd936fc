"""Grading throughput on 4,000 realistic responses synthesised from MATH500 golds.

    python benchmarks/grading.py

Prints items/s of (a) plain in-process math-verify parse+verify, (b) evalkit's grader sandboxed in
1 worker process, (c) in 2 workers, (d) a cached regrade, and the ratios against (a). Targets:
(b)/(a) >= 0.7, (c)/(a) >= 1.6, (d) >= 20,000 items/s.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from evalkit.grade import GradeCache, GraderConfig, Item, SandboxGrader
from evalkit.spec import load_problems

FORMATS = [
    "Let me compute. ... so the result is \\boxed{{{a}}}.",
    "Final Answer: The final answer is ${a}$. I hope it is correct.",
    "After simplifying, the answer is ${a}$.",
    "**Answer:** ${a}$",
    "Therefore\n$$ {a} $$",
    "We get $x = {a}$, hence \\boxed{{{a}}}",
    "The value is \\fbox{{{a}}}.",
    "So, the final answer is $\\boxed{{{a}}}$",
]


def corpus(n: int = 4000, seed: int = 0) -> list[Item]:
    rng = random.Random(seed)
    golds = [p.gold for p in load_problems("math500")]
    items = []
    for i in range(n):
        gold = golds[i % len(golds)]
        ans = gold
        if rng.random() < 0.3:  # a wrong answer: change a digit or append one
            digits = [j for j, ch in enumerate(gold) if ch.isdigit()]
            ans = (
                (gold[: digits[0]] + str((int(gold[digits[0]]) + 1) % 10) + gold[digits[0] + 1 :])
                if digits
                else gold + "+1"
            )
        items.append(Item(FORMATS[i % len(FORMATS)].format(a=ans), gold, "math"))
    return items


def main() -> None:
    from math_verify import parse, verify

    items = corpus()
    n = len(items)
    t0 = time.perf_counter()
    for it in items:
        verify(parse(f"${it.gold}$"), parse(it.response))
    base = n / (time.perf_counter() - t0)
    cfg = GraderConfig()
    rates = {}
    for w in (1, 2):
        with SandboxGrader(cfg, workers=w) as sb:
            sb.grade(items[:16])  # start-up
            t0 = time.perf_counter()
            grades = sb.grade(items)
            rates[w] = n / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as d:
        cache = GradeCache(Path(d) / "g.sqlite", cfg)
        cache.put_many(items, grades)
        t0 = time.perf_counter()
        got = cache.get_many(items)
        cached = n / (time.perf_counter() - t0)
        assert all(g is not None for g in got)
    correct = sum(g.correct for g in grades)
    print(f"{n} responses ({correct} graded correct)")
    print(f"  in-process math-verify:  {base:8.0f} items/s")
    print(f"  sandboxed, 1 worker:     {rates[1]:8.0f} items/s  ratio {rates[1] / base:.2f} (target >= 0.7)")
    print(f"  sandboxed, 2 workers:    {rates[2]:8.0f} items/s  ratio {rates[2] / base:.2f} (target >= 1.6)")
    print(f"  cached regrade:          {cached:8.0f} items/s  (target >= 20,000)")


if __name__ == "__main__":
    main()
