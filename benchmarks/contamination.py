"""Contamination audit speed: a 10,000-item synthetic training set against every benchmark.

    python benchmarks/contamination.py [--items 10000] [--warm]

The training set is generated here: templated competition-style problems (algebra, geometry,
counting, number theory, physics and chemistry word problems; random names and numbers; lengths
like MATH500's) with traces, plus planted contamination: verbatim copies and paraphrases
("all" perturbations) of random benchmark problems, half of them with a trace that states the gold
answer. GPQA-Diamond is gated, so a synthetic 198-row CSV stands in for it. The benchmark
embeddings are computed cold (fresh cache) unless --warm. Prints the time of each stage and the
end-to-end time (target <= 120 s), and how many planted items each method catches.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
from pathlib import Path

NAMES = ["Alice", "Bob", "Carmen", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kofi", "Lena"]
OBJECTS = ["marbles", "coins", "cards", "books", "apples", "tickets", "stamps", "pencils"]
COLORS = ["red", "blue", "green", "yellow", "white", "black"]
TEMPLATES = [
    "Let $f(x) = {a}x^2 + {b}x - {c}$. Find the sum of all real numbers $x$ for which $f(x) = {d}$.",
    "A bag contains {a} {c1} {obj} and {b} {c2} {obj}. {name} draws two {obj} at random without replacement. "
    "What is the probability that both {obj} are {c1}? Express your answer as a common fraction.",
    "In triangle $PQR$, $PQ = {a}$, $QR = {b}$ and $PR = {c}$. The point $M$ is the midpoint of $QR$. "
    "Find the length of the median $PM$, in simplest radical form.",
    "How many positive integers less than {big} are divisible by {a} or {b} but not by {c}?",
    "{name} has {a} {obj}. Each day {name} gives away {b} {obj} and receives {c} new ones from a friend. "
    "After how many days will {name} have exactly {d} {obj} for the first time?",
    "Find the remainder when ${a}^{{{big}}} + {b}^{{{c}}}$ is divided by {d}.",
    "A rectangle has a perimeter of {big} units and its length is {a} units more than {b} times its width. "
    "What is the area of the rectangle, in square units?",
    "The arithmetic sequence $a_1, a_2, a_3, \\ldots$ has $a_{a} = {b}$ and $a_{c} = {d}$. "
    "What is the value of $a_{{{big}}}$?",
    "A car travels {a} kilometers at {b} kilometers per hour and then {c} kilometers at {d} kilometers per hour. "
    "What is its average speed for the whole trip, in kilometers per hour? Round to the nearest tenth.",
    "How many ways are there to seat {a} people around a round table if {name} and {name2} refuse to sit next "
    "to each other? Two seatings are the same if one is a rotation of the other.",
    "A block of mass {a} kg rests on a frictionless incline at {b} degrees and is attached by a string over a "
    "pulley to a hanging mass of {c} kg. Find the acceleration of the system in meters per second squared.",
    "A solution is prepared by dissolving {a} grams of sodium chloride in {big} milliliters of water at {b} "
    "degrees Celsius. What is the molarity of the solution, and how does the boiling point change?",
    "Let $z$ be a complex number such that $|z - {a}| = {b}$ and $|z + {c}i| = {d}$. "
    "Find the largest possible value of $|z|^2$.",
    "The sum of {a} consecutive odd integers is {big}. What is the product of the smallest and the largest of "
    "these integers?",
    "{name} rolls {a} fair six-sided dice. What is the probability that the sum of the numbers shown is exactly "
    "{big}? Express your answer as a common fraction.",
    "Find all real solutions of the system $x + y = {a}$, $x^2 + y^2 = {big}$. Enter the solutions as ordered "
    "pairs separated by commas.",
]
FILLER = [
    "All quantities are exact.", "Assume the process continues in the same way.",
    "Give your answer in simplest form.", "Justify each step of your computation.",
    "Ignore air resistance.", "Every choice is equally likely.",
]


def synthetic_item(rng: random.Random) -> dict[str, str]:
    n = {k: rng.randint(2, 40) for k in "abcd"}
    tid = rng.randrange(len(TEMPLATES))
    text = TEMPLATES[tid].format(
        **n, big=rng.randint(50, 2000), obj=rng.choice(OBJECTS), c1=COLORS[n["a"] % 3], c2=COLORS[3 + n["b"] % 3],
        name=rng.choice(NAMES), name2=rng.choice(NAMES))
    if rng.random() < 0.5:
        text += " " + rng.choice(FILLER)
    ans = rng.randint(1, 999)
    trace = (f"We set up the relations from the statement and simplify step by step. Checking the cases gives "
             f"{rng.randint(1, 99)} and then {rng.randint(1, 99)}. Therefore the answer is $\\boxed{{{ans}}}$.")
    return {"question": text, "trace": trace, "_template": tid}


def write_gpqa(path: Path, rng: random.Random, n: int = 198) -> None:
    topics = ["a spin-1/2 particle in a magnetic field", "the hydrogen atom's fine structure",
              "a Diels-Alder reaction between a diene and an alkene", "gene expression in E. coli",
              "a relativistic electron in a storage ring", "the Michaelis-Menten kinetics of an enzyme"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
                    "Record ID", "High-level domain"])
        for i in range(n):
            q = (f"Consider {rng.choice(topics)} with parameter {rng.randint(2, 90)} in synthetic setting {i}. "
                 f"Which statement about the observed quantity is correct under standard assumptions?")
            w.writerow([q, f"value {i}", f"wrong {i}a", f"wrong {i}b", f"wrong {i}c", f"rec{i:014d}", "Physics"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--planted", type=int, default=100)
    ap.add_argument("--warm", action="store_true", help="reuse the user's embedding cache")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="evalkit-contam-bench-"))
    if not args.warm:
        os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    os.environ["EVALKIT_GPQA_CSV"] = str(tmp / "gpqa_diamond.csv")
    rng = random.Random(0)
    write_gpqa(tmp / "gpqa_diamond.csv", rng)

    from evalkit.contamination import audit, read_training
    from evalkit.contamination.embed import Encoder
    from evalkit.contamination.perturb import paraphrase
    from evalkit.spec.tasks import load_questions

    questions = [q for t in ("aime24", "aime25", "math500", "gpqa_diamond") for q in load_questions(t)]
    vendored = [q for q in questions if q.task != "gpqa_diamond"]
    items = [synthetic_item(rng) for _ in range(args.items - args.planted)]
    planted: dict[int, tuple[str, str, str]] = {}  # line -> (task, problem id, kind)
    for k in range(args.planted):
        q = rng.choice(vendored)
        kind = "verbatim" if k % 2 == 0 else "paraphrase"
        text = q.text if kind == "verbatim" else paraphrase(q.text, "all", rng)
        trace = (
            f"Working it out carefully, the final answer is $\\boxed{{{q.answer}}}$." if k % 4 < 2 else "I am not sure."
        )
        pos = rng.randint(0, len(items))
        items.insert(pos, {"question": text, "trace": trace, "_src": (q.task, q.problem_id, kind)})
    train_path = tmp / "train.jsonl"
    import json

    template: dict[int, int] = {}
    with open(train_path, "w") as f:
        for line, it in enumerate(items, 1):
            if "_src" in it:
                planted[line] = it.pop("_src")
            else:
                template[line] = it.pop("_template")
            f.write(json.dumps(it) + "\n")

    t0 = time.perf_counter()
    train = read_training(train_path, "question", "trace")
    t_read = time.perf_counter() - t0
    t1 = time.perf_counter()
    enc = Encoder()
    res = audit(train, questions, encoder=enc, log=lambda m: print("  " + m))
    total = time.perf_counter() - t0
    print(f"{len(train)} training items ({len(planted)} planted) x {len(questions)} benchmark problems "
          f"({', '.join(sorted({q.task for q in questions}))}; GPQA synthetic)")
    print(f"  read {t_read:.2f}s; audit {time.perf_counter() - t1:.1f}s "
          + ", ".join(f"{k} {v:.1f}s" for k, v in res.timings.items()) + f"; precision {enc.precision}")
    print(f"  end to end (read, model load, n-grams, embeddings, evidence): {total:.1f} s (target <= 120 s)")
    found: dict[str, dict[str, int]] = {}
    for f in res.flags:
        src = planted.get(f.train_line)
        if src and (f.task, f.problem_id) == src[:2]:
            for m in f.methods:
                found.setdefault(src[2], {}).setdefault(m, 0)
                found[src[2]][m] += 1
    for kind in ("verbatim", "paraphrase"):
        n = sum(1 for s in planted.values() if s[2] == kind)
        print(
            f"  planted {kind} ({n}): caught by "
            + ", ".join(f"{m} {c}" for m, c in sorted(found.get(kind, {}).items()))
        )
    other = [f for f in res.flags if f.train_line not in planted]
    print(f"  flags on synthetic (unplanted) items: {len(other)} pairs "
          f"({len({f.train_line for f in other})} items); answer leaks among planted traces: "
          f"{sum(f.leaked_answer is not None for f in res.flags if f.train_line in planted)}")
    per_method = {m: len({f.train_line for f in other if m in f.methods}) for m in res.thresholds}
    print("    unplanted items flagged by " + ", ".join(f"{m} {c}" for m, c in per_method.items()))
    by_t: dict[int, set[int]] = {}
    near: dict[int, dict[str, int]] = {}
    for f in other:
        by_t.setdefault(template[f.train_line], set()).add(f.train_line)
        key = f"{f.task}/{f.problem_id}"
        near.setdefault(template[f.train_line], {}).setdefault(key, 0)
        near[template[f.train_line]][key] += 1
    total_t = {t: sum(1 for v in template.values() if v == t) for t in set(template.values())}
    for t, lines in sorted(by_t.items(), key=lambda kv: -len(kv[1]))[:6]:
        top = sorted(near[t].items(), key=lambda kv: -kv[1])[:2]
        print(f"    template {t}: {len(lines)}/{total_t[t]} items flagged, mostly against "
              + ", ".join(f"{k} ({v})" for k, v in top) + f": {TEMPLATES[t][:70]}...")
    for c in res.counts.values():
        print(f"  {c.task}: {c.flagged_problems}/{c.problems} problems flagged, {c.pairs} pairs, "
              f"leaked {c.leaked}/{c.traces_checked}")


if __name__ == "__main__":
    main()
