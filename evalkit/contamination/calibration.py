"""Calibration of the detectors' thresholds on programmatic paraphrases of the vendored benchmarks.

The vendored problems (AIME 2024, AIME 2025, MATH500) are split by a hash of their ids into four
folds. Folds 0-1 play the benchmark ("reference" problems); folds 2-3 are clean training items.

* positives: paraphrases of reference problems (:mod:`evalkit.contamination.perturb`: renamed
  variables, changed numbers, synonym swaps, reordered sentences, all of them at once); a positive is
  detected when its score *against its own source problem* reaches the threshold;
* negatives: the problems of folds 2-3 as they are and perturbed ("all"): different problems of the
  same subjects (MATH500's seven subjects and AIME are spread over every fold); a negative is a false
  positive when its score against *any* reference problem reaches the threshold, which is how the
  audit uses a threshold (one training item against the whole benchmark).

The threshold is chosen on the *selection* split (positives from fold 0, negatives from fold 2): the
lowest score whose false-positive rate is at most ``target_fpr`` there. Recall and false-positive
rate are then measured on the *held-out* split (folds 1 and 3).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from evalkit.contamination.ngrams import NgramIndex
from evalkit.contamination.normalize import embedding_text, words
from evalkit.contamination.perturb import KINDS, paraphrase
from evalkit.spec.tasks import QuestionText, benchmark_names, load_questions


def fold(q: QuestionText, k: int = 4) -> int:
    return int(hashlib.sha256(f"{q.task}/{q.problem_id}".encode()).hexdigest(), 16) % k


@dataclass(frozen=True)
class CalItem:
    text: str
    positive: bool
    kind: str  # a perturbation kind, or "negative" / "negative-all"
    source: int | None  # index into the reference problems (positives)
    split: str  # "select" | "heldout"
    subject: str = ""


@dataclass
class CalibrationSet:
    reference: list[QuestionText]
    items: list[CalItem]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for it in self.items:
            key = f"{it.split}/{'pos' if it.positive else 'neg'}"
            out[key] = out.get(key, 0) + 1
        return out


def _subject(q: QuestionText) -> str:
    return str(q.meta.get("subject") or q.task)


def build_calibration_set(questions: list[QuestionText] | None = None, seed: int = 0) -> CalibrationSet:
    """Reference problems (by default, of every task whose data is vendored), paraphrases (one per kind; a
    perturbation that changes nothing is dropped) and same-subject negatives, each assigned to the selection
    or held-out split."""
    tasks = benchmark_names(vendored_only=True)
    qs = questions if questions is not None else [q for t in tasks for q in load_questions(t)]
    rng = random.Random(seed)
    ref = [q for q in qs if fold(q) < 2]
    items: list[CalItem] = []
    for i, q in enumerate(ref):
        split = "select" if fold(q) == 0 else "heldout"
        for kind in KINDS:
            t = paraphrase(q.text, kind, rng)
            if t != q.text:
                items.append(CalItem(t, True, kind, i, split, _subject(q)))
    for q in qs:
        if fold(q) < 2:
            continue
        split = "select" if fold(q) == 2 else "heldout"
        items.append(CalItem(q.text, False, "negative", None, split, _subject(q)))
        items.append(CalItem(paraphrase(q.text, "all", rng), False, "negative-all", None, split, _subject(q)))
    return CalibrationSet(ref, items)


def embedding_scores(cal: CalibrationSet, encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Per item: cosine to its source (positives) or the maximum over the reference (negatives)."""
    ref = encode([embedding_text(q.text) for q in cal.reference])
    emb = encode([embedding_text(it.text) for it in cal.items])
    sims = emb @ ref.T
    return _item_scores(cal, sims)


def _item_scores(cal: CalibrationSet, sims: np.ndarray) -> np.ndarray:
    out = np.empty(len(cal.items))
    for j, it in enumerate(cal.items):
        out[j] = sims[j, it.source] if it.positive else sims[j].max()
    return out


def ngram_scores(cal: CalibrationSet, n: int) -> np.ndarray:
    """Containment of the source's n-grams (positives) or its maximum over the reference (negatives)."""
    index = NgramIndex([words(q.text) for q in cal.reference], n)
    m = index.match([words(it.text) for it in cal.items])
    sims = np.zeros((len(cal.items), len(cal.reference)))
    sims[m.train, m.bench] = m.containment
    return _item_scores(cal, sims)


def choose_threshold(scores: np.ndarray, positive: np.ndarray, target_fpr: float) -> float:
    """Lowest threshold (flag when score >= threshold) whose false-positive rate is <= ``target_fpr``;
    never 0, so that an item sharing nothing is never flagged."""
    neg = np.sort(scores[~positive])[::-1]
    allowed = int(np.floor(target_fpr * len(neg)))  # negatives that may reach the threshold
    bar = neg[allowed] if allowed < len(neg) else -np.inf  # the threshold must exceed this score
    cand = np.unique(scores[positive & (scores > bar)])
    if len(cand) == 0:
        return float(np.nextafter(max(bar, 0.0), np.inf))
    return float(max(cand.min(), np.nextafter(0.0, 1.0)))


@dataclass
class MethodCalibration:
    method: str
    threshold: float
    recall: float  # held-out
    fpr: float  # held-out
    recall_by_kind: dict[str, float]
    select_recall: float
    select_fpr: float
    n_pos: int
    n_neg: int
    details: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in self.recall_by_kind.items())
        return (f"{self.method:10s} threshold {self.threshold:.4f}: held-out recall {self.recall:.3f} "
                f"(n={self.n_pos}), FPR {self.fpr:.3f} (n={self.n_neg}); selection split recall "
                f"{self.select_recall:.3f}, FPR {self.select_fpr:.3f}; recall by kind: {kinds}")


def evaluate(cal: CalibrationSet, scores: np.ndarray, method: str, *, target_fpr: float = 0.05,
             threshold: float | None = None) -> MethodCalibration:
    """Choose the threshold on the selection split (unless given) and measure it on the held-out one."""
    pos = np.array([it.positive for it in cal.items])
    sel = np.array([it.split == "select" for it in cal.items])
    kinds = np.array([it.kind for it in cal.items])
    thr = choose_threshold(scores[sel], pos[sel], target_fpr) if threshold is None else threshold
    flag = scores >= thr
    held = ~sel

    def rate(mask: np.ndarray) -> float:
        return float(flag[mask].mean()) if mask.any() else float("nan")

    return MethodCalibration(
        method=method, threshold=thr,
        recall=rate(held & pos), fpr=rate(held & ~pos),
        recall_by_kind={k: rate(held & pos & (kinds == k)) for k in KINDS},
        select_recall=rate(sel & pos), select_fpr=rate(sel & ~pos),
        n_pos=int((held & pos).sum()), n_neg=int((held & ~pos).sum()),
        details={"target_fpr": target_fpr, "fpr_negative": rate(held & (kinds == "negative")),
                 "fpr_negative_all": rate(held & (kinds == "negative-all"))},
    )
