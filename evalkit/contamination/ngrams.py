"""Word n-gram overlap between training items and benchmark problems, vectorised.

Words become integer ids (one vocabulary per audit), n-grams become 64-bit polynomial hashes
computed for a whole corpus at once with numpy, and matches are found with a sorted array of the
benchmark's hashes (``np.isin`` / ``searchsorted``): no loop over (item, problem) pairs.

The score of a (training item, benchmark problem) pair is the *containment*: the fraction of the
problem's distinct n-grams that occur in the item. A benchmark problem with fewer than ``n`` words
(but at least :data:`MIN_WORDS`) counts its whole word sequence as its single n-gram; shorter ones are
not checkable by n-grams (the embedding check still covers them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.contamination.normalize import words

MIN_WORDS = 8
_MULT = np.uint64(0x9E3779B97F4A7C15)
_MASK_LEN = np.uint64(0xD6E8FEB86659FD93)


class Vocab:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def encode(self, ws: list[str]) -> np.ndarray:
        get = self.ids.setdefault
        return np.fromiter((get(w, len(self.ids) + 1) for w in ws), dtype=np.uint64, count=len(ws))


def _flat(docs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lens = np.array([len(d) for d in docs], dtype=np.int64)
    flat = np.concatenate(docs) if docs else np.zeros(0, np.uint64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]) if len(docs) else np.zeros(0, np.int64)
    return flat, np.stack([starts, lens], axis=1) if len(docs) else np.zeros((0, 2), np.int64)


def window_hashes(flat: np.ndarray, bounds: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes of every length-``n`` window that lies inside one document.

    Returns (hashes, doc index, start offset within the document)."""
    N = len(flat)
    if n > N or len(bounds) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    m = N - n + 1
    with np.errstate(over="ignore"):
        h = np.full(m, np.uint64(n) * _MASK_LEN, dtype=np.uint64)
        for k in range(n):
            h = h * _MULT + flat[k:k + m]
        h ^= h >> np.uint64(29)
    doc = np.repeat(np.arange(len(bounds)), bounds[:, 1])
    pos = np.arange(N) - np.repeat(bounds[:, 0], bounds[:, 1])
    ok = (pos[:m] + n) <= bounds[doc[:m], 1]
    return h[ok], doc[:m][ok], pos[:m][ok]


@dataclass
class NgramMatches:
    """Sparse (train item, benchmark problem) pairs sharing n-grams."""

    n: int
    train: np.ndarray  # item index
    bench: np.ndarray  # problem index
    shared: np.ndarray  # distinct shared n-grams
    containment: np.ndarray  # shared / the problem's distinct n-grams
    bench_ngrams: np.ndarray  # distinct n-grams per benchmark problem (0: too short to check)


class NgramIndex:
    """Distinct n-grams of each benchmark problem, ready to be matched against corpora."""

    def __init__(self, bench_words: list[list[str]], n: int, vocab: Vocab | None = None) -> None:
        self.n = n
        self.vocab = vocab or Vocab()
        self.bench_words = bench_words
        P = len(bench_words)
        keys, probs = [], []
        self.lengths: set[int] = set()  # window lengths in use (n, and shorter for short problems)
        self.bench_ngrams = np.zeros(P, dtype=np.int64)
        ids = [self.vocab.encode(ws) for ws in bench_words]
        by_len: dict[int, list[int]] = {}
        for i, ws in enumerate(bench_words):
            if len(ws) >= MIN_WORDS:
                by_len.setdefault(min(n, len(ws)), []).append(i)
        for L, members in by_len.items():
            flat, bounds = _flat([ids[i] for i in members])
            h, d, _ = window_hashes(flat, bounds, L)
            pairs = np.unique(np.stack([np.asarray(members)[d].astype(np.uint64), h], axis=1), axis=0)
            keys.append(pairs[:, 1])
            probs.append(pairs[:, 0].astype(np.int64))
            self.lengths.add(L)
        if keys:
            k, p = np.concatenate(keys), np.concatenate(probs)
            order = np.argsort(k, kind="stable")
            self.keys, self.probs = k[order], p[order]
            np.add.at(self.bench_ngrams, self.probs, 1)
        else:
            self.keys, self.probs = np.zeros(0, np.uint64), np.zeros(0, np.int64)

    def match_ids(self, docs: list[np.ndarray]) -> NgramMatches:
        """Match training items given as vocabulary id arrays."""
        flat, bounds = _flat(docs)
        tr, be, hs = [], [], []
        for L in sorted(self.lengths):
            h, d, _ = window_hashes(flat, bounds, L)
            hit = np.isin(h, self.keys)
            h, d = h[hit], d[hit]
            if not len(h):
                continue
            lo = np.searchsorted(self.keys, h, "left")
            hi = np.searchsorted(self.keys, h, "right")
            cnt = hi - lo
            rep_d = np.repeat(d, cnt)
            rep_h = np.repeat(h, cnt)
            offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            rep_p = self.probs[np.repeat(lo, cnt) + offs]
            tr.append(rep_d)
            be.append(rep_p)
            hs.append(rep_h)
        if not tr:
            z = np.zeros(0, np.int64)
            return NgramMatches(self.n, z, z, z, np.zeros(0), self.bench_ngrams)
        trip = np.unique(np.stack([np.concatenate(tr).astype(np.uint64), np.concatenate(be).astype(np.uint64),
                                   np.concatenate(hs)], axis=1), axis=0)
        pairs, shared = np.unique(trip[:, :2], axis=0, return_counts=True)
        t, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
        return NgramMatches(self.n, t, b, shared.astype(np.int64), shared / self.bench_ngrams[b], self.bench_ngrams)

    def match(self, train_words: list[list[str]]) -> NgramMatches:
        return self.match_ids([self.vocab.encode(ws) for ws in train_words])

    def shared_ngrams(self, bench: int, item_words: list[str], limit: int = 3) -> list[str]:
        """Up to ``limit`` shared n-grams as text, in the problem's order (for the evidence column)."""
        bw = self.bench_words[bench]
        L = min(self.n, len(bw))
        have = {tuple(item_words[i:i + L]) for i in range(len(item_words) - L + 1)}
        out, seen = [], set()
        for i in range(len(bw) - L + 1):
            g = tuple(bw[i:i + L])
            if g in have and g not in seen:
                seen.add(g)
                out.append(" ".join(g))
                if len(out) >= limit:
                    break
        return out


__all__ = ["MIN_WORDS", "NgramIndex", "NgramMatches", "Vocab", "window_hashes", "words"]
