"""The grader on real outputs of our own engine (tests/data/real_outputs/, provenance in its README):
evalkit matches every hand-adjudicated label, and wherever no label was needed it agrees with the
reference (plain math-verify; simple-evals' letter pattern for multiple choice): evalkit is never
below math-verify on real data. Agreement per source is printed (`pytest ... -s`)."""

from __future__ import annotations

from conftest import load_benchmark

ga = load_benchmark("grader_agreement")


def test_real_output_corpus_matches_every_label(capsys) -> None:
    items, labels = ga.load()
    assert len(items) >= 1000, "the real-output corpus has at least 1,000 responses"
    assert {it["task"] for it in items} >= {"math500", "aime24", "aime25", "gpqa_diamond"}
    ids = [it["id"] for it in items]
    assert len(set(ids)) == len(ids)
    assert set(labels) <= set(ids), "every label belongs to a corpus item"
    assert all(isinstance(lab["label"], bool) and lab["reason"].strip() for lab in labels.values())
    res = ga.agreement(items, labels)
    wrong_label, unlabelled = [], []
    for it, ek, base, lab in res["rows"]:
        if lab is not None and ek.correct != lab["label"]:
            wrong_label.append(f"{it['id']} {it['task']} gold {it['gold']!r}: evalkit {ek.correct} ({ek.reason}, "
                               f"{ek.extracted!r}), label {lab['label']}: {lab['reason']}")
        if lab is None and ek.correct != base:
            unlabelled.append(f"{it['id']} {it['task']} gold {it['gold']!r}: evalkit {ek.correct} ({ek.extracted!r}), "
                              f"reference {base}")
    with capsys.disabled():
        print(f"\nreal-output corpus: {len(items)} responses, {len(labels)} adjudicated")
        for src, c in sorted(res["per_source"].items()):
            print(
                f"  {src:32s} n={c['n']:4d} evalkit correct {c['evalkit_correct']:3d}, "
                f"reference {c['baseline_correct']:3d}; "
                f"agree {c['agree']}/{c['n']}; labels matched: evalkit {c['evalkit_matches_label']}/{c['labelled']}, "
                f"reference {c['baseline_matches_label']}/{c['labelled']}"
            )
    assert not wrong_label, wrong_label
    assert not unlabelled, f"disagreements with the reference that nobody adjudicated: {unlabelled}"
