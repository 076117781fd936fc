"""Agreement with the 286 (gold, candidate, expected) pairs from Math-Verify's and lighteval's test
suites (tests/data/conformance_pairs.jsonl; provenance beside it). Each pair is graded with the
grader settings its source test used (match types, precision, strict, set-relation comparison):
those are settings of our grader too. Those tests call ``parse`` on their golds as on any text (a gold
is often a whole solution with a ``\\boxed{}``), so the pairs are graded with ``gold_format="text"``, an
explicit setting; task golds take the default path (tests/test_gold_consistency.py). No pair is
special-cased and none is excluded."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from evalkit.grade import GraderConfig
from evalkit.grade.equivalence import grade_math

PAIRS = Path(__file__).parent / "data" / "conformance_pairs.jsonl"


def test_conformance_agreement(capsys) -> None:  # noqa: ANN001
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    assert len(rows) == 286
    agree: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    misses = []
    for r in rows:
        g = grade_math(r["candidate"], r["gold"], GraderConfig.from_settings(r["settings"], gold_format="text"))
        src = ":".join(r["source"].split(":")[:2])
        total[src] += 1
        if g.correct == r["equivalent"]:
            agree[src] += 1
        else:
            misses.append(f"{r['id']} expected {r['equivalent']} got {g.correct} ({g.reason}, {g.extracted!r}) "
                          f"flags={r['flags']}")
    overall = sum(agree.values()) / len(rows)
    with capsys.disabled():
        print(f"\nconformance agreement {sum(agree.values())}/{len(rows)} = {overall:.3f}")
        for src in sorted(total):
            print(f"  {src}: {agree[src]}/{total[src]}")
        for m in misses:
            print(f"  disagree: {m}")
    assert overall >= 0.98
