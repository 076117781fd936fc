"""The audit: every training item against every benchmark problem, by three kinds of evidence.

1. word n-gram overlap (containment of the problem's n-grams in the item; n = 8 and 13 by default);
2. paraphrase similarity: cosine of all-MiniLM-L6-v2 embeddings of :func:`embedding_text`;
3. answer leakage: for every flagged pair whose item has a trace, whether the trace states the
   problem's final answer.

Thresholds are the calibrated constants below (see :mod:`evalkit.contamination.calibration` and
``tests/test_contamination_calibration.py``, which re-measures them and fails if they drift).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.contamination.leak import states_answer
from evalkit.contamination.ngrams import NgramIndex, Vocab
from evalkit.contamination.normalize import embedding_text, words
from evalkit.errors import EvalkitError
from evalkit.spec.tasks import QuestionText
from evalkit.store.jsonl import json_objects

# Calibrated on the vendored benchmarks (calibration.py; 568 positives + 266 negatives in the
# selection split, 581 + 278 held out). Each is the lowest score whose false-positive rate on the
# selection split is <= 0.05; the numbers are the held-out split's at that threshold.
# Embedding (bf16 on this CPU; fp32 cosines differ by < 1e-4): recall 0.940, FPR 0.014; recall by
# perturbation: rename 1.00, numbers 0.92, synonyms 1.00, reorder 1.00, all at once 0.83.
EMBEDDING_THRESHOLD = 0.737
# n-gram containment (fraction of the problem's distinct n-grams found in the item).
# 8-grams: recall 0.731, FPR 0.040 (all at once: 0.46). 13-grams: recall 0.568, FPR 0.004 (all at
# once: 0.26); the threshold is one shared 13-gram of a 66-13-gram problem, close to s1's rule "any
# shared 13-gram" (recall 0.571, FPR 0.007). Both miss paraphrases, as expected.
NGRAM_THRESHOLDS = {8: 0.04, 13: 0.0151}
ANY_SHARED = 1e-12  # other n: any shared n-gram flags


class TrainingDataError(EvalkitError, ValueError):
    """A training file is unusable; the message names file:line."""


@dataclass(frozen=True)
class TrainItem:
    line: int
    text: str
    trace: str | None = None


def read_training(path: Path, field: str, trace_field: str | None = None) -> list[TrainItem]:
    """JSONL training items: ``field`` is the question text, ``trace_field`` the optional trace."""
    path = Path(path)
    if not path.exists():
        raise TrainingDataError(f"{path}: no such file")
    out = []
    for n, rec in json_objects(Path(path), TrainingDataError):
        if field not in rec:
            raise TrainingDataError(f"{path}:{n}: missing field {field!r}")
        if not isinstance(rec[field], str):
            raise TrainingDataError(f"{path}:{n}: field {field!r} must be a string")
        trace = None
        if trace_field is not None:
            if trace_field not in rec:
                raise TrainingDataError(f"{path}:{n}: missing field {trace_field!r}")
            trace = rec[trace_field]
            if isinstance(trace, list):  # e.g. several sampled traces per question
                trace = "\n".join(str(t) for t in trace)
            elif not isinstance(trace, str):
                raise TrainingDataError(f"{path}:{n}: field {trace_field!r} must be a string or a list of strings")
        out.append(TrainItem(n, rec[field], trace))
    return out


@dataclass
class Flag:
    """One flagged (benchmark problem, training item) pair and its evidence."""

    task: str
    problem_id: str
    train_line: int
    methods: list[str]
    similarity: float | None
    ngram_shared: dict[int, int]
    ngram_containment: dict[int, float]
    shared_ngrams: list[str]
    leaked_answer: str | None
    has_trace: bool
    train_excerpt: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ngram_shared"] = {str(k): v for k, v in self.ngram_shared.items()}
        d["ngram_containment"] = {str(k): round(v, 4) for k, v in self.ngram_containment.items()}
        return d


@dataclass
class BenchmarkCounts:
    task: str
    problems: int
    flagged_problems: int = 0
    pairs: int = 0
    by_method: dict[str, int] = field(default_factory=dict)  # problems flagged by each method
    traces_checked: int = 0  # flagged pairs whose item has a trace
    leaked: int = 0  # ... whose trace states the problem's answer

    @property
    def leak_fraction(self) -> float:
        return self.leaked / self.traces_checked if self.traces_checked else float("nan")


@dataclass
class AuditResult:
    flags: list[Flag]
    counts: dict[str, BenchmarkCounts]
    thresholds: dict[str, float]
    n_train: int
    embedding: dict[str, Any] | None
    timings: dict[str, float]

    def flagged_keys(self, methods: set[str] | None = None) -> list[tuple[str, str, str]]:
        """(task, problem_id, comment) for the exclude list, one per problem flagged by any of
        ``methods`` (default: every method)."""
        by: dict[tuple[str, str], list[Flag]] = {}
        for f in self.flags:
            if methods is None or methods & set(f.methods):
                by.setdefault((f.task, f.problem_id), []).append(f)
        out = []
        for (task, pid), fs in sorted(by.items()):
            methods = sorted({m for f in fs for m in f.methods})
            best = max((f.similarity or 0.0) for f in fs)
            leaked = sum(f.leaked_answer is not None for f in fs)
            lines = ",".join(str(f.train_line) for f in fs[:5]) + (",..." if len(fs) > 5 else "")
            out.append((task, pid, f"{'+'.join(methods)}; max cos {best:.3f}; train lines {lines}"
                        + (f"; answer leaked in {leaked}" if leaked else "")))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"n_train": self.n_train, "thresholds": self.thresholds, "embedding": self.embedding,
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
                "counts": {t: {**asdict(c), "leak_fraction": None if np.isnan(c.leak_fraction) else c.leak_fraction}
                           for t, c in self.counts.items()},
                "flags": [f.to_dict() for f in self.flags]}


def _method_name(n: int) -> str:
    return f"{n}-gram"


Evidence = dict[tuple[int, int], dict[str, Any]]  # (train, bench) -> shared n-grams, containment, methods


def _evidence(scores: Evidence, t: int, b: int) -> dict[str, Any]:
    return scores.setdefault((t, b), {"shared": {}, "containment": {}, "methods": set()})


def _ngram_evidence(bench_words: list, train_words: list, ngram_sizes: tuple[int, ...],
                    thr_ng: dict[int, float], scores: Evidence) -> dict[int, NgramIndex]:
    """Shared n-grams of every (training item, problem) pair that shares any; the indexes."""
    vocab = Vocab()
    train_ids = None
    indexes: dict[int, NgramIndex] = {}
    for n in ngram_sizes:
        idx = NgramIndex(bench_words, n, vocab)
        indexes[n] = idx
        if train_ids is None:
            train_ids = [vocab.encode(ws) for ws in train_words]
        m = idx.match_ids(train_ids)
        for t, b, s, c in zip(m.train.tolist(), m.bench.tolist(), m.shared.tolist(), m.containment.tolist(),
                              strict=True):
            ev = _evidence(scores, t, b)
            ev["shared"][n] = s
            ev["containment"][n] = c
            if c >= thr_ng[n]:
                ev["methods"].add(_method_name(n))
    return indexes


def _embedding_evidence(train: list[TrainItem], questions: list[QuestionText], encoder: Any,
                        bench_encode: Callable | None, threshold: float, scores: Evidence,
                        timings: dict[str, float], say: Callable[[str], None]) -> np.ndarray:
    """Cosine similarities of every (training item, problem) pair; pairs over ``threshold`` flagged."""
    t1 = time.perf_counter()
    enc_b = bench_encode or encoder.encode_cached
    eb = enc_b([embedding_text(q.text) for q in questions])
    timings["embed_benchmarks"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    uniq: dict[str, int] = {}  # duplicates are encoded once
    inv = np.array([uniq.setdefault(embedding_text(it.text), len(uniq)) for it in train], dtype=np.int64)
    et = encoder.encode(list(uniq))[inv]
    timings["embed_train"] = time.perf_counter() - t1
    sims = et @ eb.T
    ti, bi = np.nonzero(sims >= threshold)
    for t, b in zip(ti.tolist(), bi.tolist(), strict=True):
        _evidence(scores, t, b)["methods"].add("embedding")
    say(f"embeddings: benchmarks {timings['embed_benchmarks']:.1f}s, {len(train)} training items "
        f"{timings['embed_train']:.1f}s ({len(train) / max(timings['embed_train'], 1e-9):.0f}/s); "
        f"{len(ti)} pairs at cosine >= {threshold}")
    return sims


def _flags(scores: Evidence, train: list[TrainItem], questions: list[QuestionText], train_words: list,
           indexes: dict[int, NgramIndex], sims: np.ndarray | None, ngram_sizes: tuple[int, ...],
           methods_run: list[str]) -> tuple[list[Flag], dict[str, BenchmarkCounts]]:
    """One flag per pair some method flagged (with its evidence), and the per-benchmark counts."""
    flags: list[Flag] = []
    counts = {q.task: BenchmarkCounts(q.task, 0) for q in questions}
    for q in questions:
        counts[q.task].problems += 1
    flagged_problems: dict[str, set[int]] = {}
    by_method: dict[tuple[str, str], set[int]] = {}
    for (t, b), ev in sorted(scores.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if not ev["methods"]:
            continue
        q, item = questions[b], train[t]
        shared_text: list[str] = []
        for n in sorted(ev["shared"], reverse=True):
            shared_text = indexes[n].shared_ngrams(b, train_words[t])
            if shared_text:
                break
        leaked = states_answer(item.trace, q.answer) if item.trace else None
        methods = sorted(ev["methods"])
        flags.append(Flag(q.task, q.problem_id, item.line, methods,
                          None if sims is None else round(float(sims[t, b]), 4),
                          {n: int(ev["shared"].get(n, 0)) for n in ngram_sizes},
                          {n: float(ev["containment"].get(n, 0.0)) for n in ngram_sizes},
                          shared_text, leaked, item.trace is not None,
                          item.text[:160].replace("\n", " ")))
        c = counts[q.task]
        c.pairs += 1
        flagged_problems.setdefault(q.task, set()).add(b)
        for mth in methods:
            by_method.setdefault((q.task, mth), set()).add(b)
        if item.trace is not None:
            c.traces_checked += 1
            c.leaked += leaked is not None
    for task, c in counts.items():
        c.flagged_problems = len(flagged_problems.get(task, ()))
        for mth in methods_run:
            c.by_method[mth] = len(by_method.get((task, mth), ()))
    return flags, counts


def audit(train: list[TrainItem], questions: list[QuestionText], *, ngram_sizes: tuple[int, ...] = (8, 13),
          ngram_thresholds: dict[int, float] | None = None, embedding_threshold: float = EMBEDDING_THRESHOLD,
          encoder: Any = None, bench_encode: Callable[[list[str]], np.ndarray] | None = None,
          log: Callable[[str], None] | None = None) -> AuditResult:
    """Compare every training item with every benchmark problem.

    ``encoder``: an :class:`~evalkit.contamination.embed.Encoder` (None: no paraphrase check);
    ``bench_encode``: how benchmark texts are encoded (default: the encoder's cached path)."""
    say = log or (lambda m: None)
    thr_ng = {n: (ngram_thresholds or NGRAM_THRESHOLDS).get(n, ANY_SHARED) for n in ngram_sizes}
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    bench_words = [words(q.text) for q in questions]
    train_words = [words(it.text) for it in train]
    scores: Evidence = {}  # pairs found by any method
    indexes = _ngram_evidence(bench_words, train_words, ngram_sizes, thr_ng, scores)
    timings["ngrams"] = time.perf_counter() - t0
    say(f"n-grams ({', '.join(map(str, ngram_sizes))}): {timings['ngrams']:.1f}s, "
        f"{sum(1 for v in scores.values() if v['methods'])} pairs over threshold")
    sims = None
    emb_info = None
    if encoder is not None:
        sims = _embedding_evidence(train, questions, encoder, bench_encode, embedding_threshold, scores, timings, say)
        emb_info = {**encoder.identity, "threshold": embedding_threshold}
    t1 = time.perf_counter()
    methods_run = [_method_name(n) for n in ngram_sizes] + (["embedding"] if encoder is not None else [])
    flags, counts = _flags(scores, train, questions, train_words, indexes, sims, ngram_sizes, methods_run)
    timings["evidence"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    thresholds = {_method_name(n): thr_ng[n] for n in ngram_sizes}
    if encoder is not None:
        thresholds["embedding"] = embedding_threshold
    return AuditResult(flags, counts, thresholds, len(train), emb_info, timings)


def render_markdown(res: AuditResult, source: str, max_rows: int = 200) -> str:
    lines = [f"# Contamination audit: {source}", "",
             f"{res.n_train} training items against {sum(c.problems for c in res.counts.values())} benchmark problems. "
             "Thresholds: " + ", ".join(f"{k} >= {v:g}" for k, v in res.thresholds.items())
             + " (n-gram: fraction of the problem's n-grams found in the item; embedding: cosine).", "",
             "## Per benchmark", "",
             "| benchmark | problems | flagged problems | flagged pairs | " + " | ".join(
                 f"by {m}" for m in res.thresholds) + " | traces checked | answer leaked |",
             "|" + "---|" * (6 + len(res.thresholds))]
    for c in res.counts.values():
        frac = "-" if not c.traces_checked else f"{c.leaked} ({100 * c.leak_fraction:.0f}%)"
        lines.append(f"| {c.task} | {c.problems} | {c.flagged_problems} | {c.pairs} | "
                     + " | ".join(str(c.by_method.get(m, 0)) for m in res.thresholds)
                     + f" | {c.traces_checked} | {frac} |")
    lines += ["", "## Flagged pairs", "",
              "| benchmark problem | train line | methods | cosine | shared n-grams | leaked answer | training item |",
              "|---|---|---|---|---|---|---|"]
    for f in res.flags[:max_rows]:
        ng = ", ".join(f"{n}: {f.ngram_shared[n]} ({100 * f.ngram_containment[n]:.0f}%)" for n in f.ngram_shared)
        ex = f"; e.g. \"{f.shared_ngrams[0]}\"" if f.shared_ngrams else ""
        lines.append(f"| {f.task}/{f.problem_id} | {f.train_line} | {'+'.join(f.methods)} | "
                     f"{'-' if f.similarity is None else f'{f.similarity:.3f}'} | {ng}{ex} | "
                     f"{'-' if f.leaked_answer is None else f.leaked_answer.replace('|', '/')} | "
                     f"{f.train_excerpt[:80].replace('|', '/')} |")
    if len(res.flags) > max_rows:
        lines.append(f"\n({len(res.flags) - max_rows} more pairs in flagged.jsonl)")
    return "\n".join(lines) + "\n"
