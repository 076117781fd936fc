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
from evalkit.grade.mathverify import grade_math

PAIRS = Path(__file__).parent / "data" / "conformance_pairs.jsonl"


def test_conformance_agreement(capsys) -> None:
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
    # the standing check: evalkit differs from plain math-verify (same settings) only where the label
    # says evalkit is right
    below = [
        r["id"]
        for r in rows
        if _plain(r) == r["equivalent"]
        and grade_math(r["candidate"], r["gold"], GraderConfig.from_settings(r["settings"], gold_format="text")).correct
        != r["equivalent"]
    ]
    plain_agree = sum(_plain(r) == r["equivalent"] for r in rows)
    overall = sum(agree.values()) / len(rows)
    with capsys.disabled():
        print(
            f"\nconformance agreement {sum(agree.values())}/{len(rows)} = {overall:.3f} "
            f"(plain math-verify with the same settings: {plain_agree}/{len(rows)}; "
            f"evalkit wrong where it is right: {below})"
        )
        for src in sorted(total):
            print(f"  {src}: {agree[src]}/{total[src]}")
        for m in misses:
            print(f"  disagree: {m}")
    assert overall >= 0.98
    assert not below


def _plain(r: dict) -> bool:
    """Plain math-verify as the source tests call it: parse gold and candidate with the row's settings."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    st = r["settings"]
    kinds = st.get("match_types", st.get("match_type")) or ["latex", "expr"]
    cfgs = [LatexExtractionConfig() if k == "latex" else ExprExtractionConfig() for k in kinds]
    try:
        g, c = parse(r["gold"], cfgs), parse(r["candidate"], cfgs)
        kw = {k: st[k] for k in ("strict", "allow_set_relation_comp") if k in st}
        if "precision" in st:
            kw["float_rounding"] = st["precision"]
        return bool(g and c and verify(g, c, **kw))
    except Exception:  # noqa: BLE001 - a crash of the reference counts as "not equivalent"
        return False
