"""A scripted engine: the engine interface with seeded, token-level behaviour, for tests.

Tokens are characters (plus ChatML/think special tokens), so text and ids map one to one. In a
thinking request the engine emits letters and, from ``min_tokens`` on, the first stop id with
probability ``p_end`` per token. In an answer request (the prompt ends with a delimiter or the answer
prefix) it writes ``\\boxed{gold}`` if the thinking was at least the problem's difficulty long,
else a wrong boxed answer. Like vLLM's seeded sampling, the output of a request depends only on its
seed (or, at temperature 0, on its prompt) and has the prefix property in ``max_tokens``.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import ClassVar

from evalkit.generate.engine import GenRequest, GenResult, OnDone, stream_rounds

SPECIALS = ("<|pad|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")
CHARS = tuple(string.printable[:95]) + ("\n",)  # printable ASCII without the odd whitespace, plus \n
# s1's lm-eval fork writes its delimiter and start string without the trailing newline
ANSWER_MARKERS = ("<|im_start|>answer\n", "<|im_start|>answer", "</think>\n\n", "Final Answer:")
THINK_MARKERS = ("<|im_start|>think\n", "<|im_start|>think", "<think>\n", "<|im_start|>assistant\n")


class CharTokenizer:
    concat_decode = True  # decode(a + b) == decode(a) + decode(b)

    def __init__(self) -> None:
        self.vocab = list(SPECIALS) + [c for c in CHARS if c not in SPECIALS]
        self.ids = {t: i for i, t in enumerate(self.vocab)}
        # a special token where one starts (first listed first), else one character
        self._split = re.compile("|".join(map(re.escape, SPECIALS)) + "|.", re.DOTALL)

    def encode(self, text: str) -> list[int]:
        pieces = self._split.findall(text)
        try:
            return list(map(self.ids.__getitem__, pieces))
        except KeyError as e:
            raise ValueError(f"scripted tokenizer: character {e.args[0]!r} is not in its vocabulary") from None

    def decode(self, ids: list[int]) -> str:
        return "".join(map(self.vocab.__getitem__, ids))

    def token_id(self, text: str) -> int | None:
        return self.ids.get(text)

    def chat_prompt(self, user: str) -> str:
        return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def eos_ids(self) -> tuple[int, ...]:
        return (self.ids["<|im_end|>"],)


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


@dataclass
class ScriptedEngine:
    """``golds`` maps a problem's prompt text to its gold answer; ``difficulty`` maps it to the number
    of thinking tokens needed to be right (default: a hash-derived value in [0, max_difficulty)).

    A test double: its answers are scripted (right once the thinking is long enough), not a model's.
    Results directories record it (``manifest.json``: ``models.<id>.engine``, ``test_double``) and every
    output that reads them says so."""

    kind: ClassVar[str] = "scripted"
    test_double: ClassVar[bool] = True
    golds: dict[str, str] = field(default_factory=dict)
    p_end: float = 0.02
    max_difficulty: int = 400
    oov_rate: float = 0.0
    max_model_len: int = 1 << 20
    name: str = "scripted"
    difficulty: Callable[[str], int] | None = None
    fail_on: Callable[[list[GenRequest]], bool] | None = None  # fault injection
    delay_s: float = 0.0  # sleep per generate call (kill/resume tests need a sweep that takes time)
    order: str = "rounds"  # "rounds": generate() per round; "random": one request at a time, in seeded random order
    calls: list[int] = field(default_factory=list)  # requests per generate call
    generated_tokens: int = 0

    def __post_init__(self) -> None:
        self.tokenizer = CharTokenizer()

    def _difficulty(self, prompt: str) -> int:
        if self.difficulty is not None:
            return self.difficulty(prompt)
        return _h("difficulty", prompt) % self.max_difficulty

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        if not requests:
            raise ValueError("please provide at least one prompt")  # what vLLM does
        if self.fail_on is not None and self.fail_on(requests):
            raise RuntimeError("scripted engine failure (fault injection)")
        if self.delay_s:
            time.sleep(self.delay_s)
        self.calls.append(len(requests))
        out = [self._one(r) for r in requests]
        self.generated_tokens += sum(len(o.token_ids) + (o.stop_token is not None) for o in out)
        return out

    def stream(self, initial: list[GenRequest], on_done: OnDone) -> None:
        """Follow-ups as in :func:`evalkit.generate.engine.stream`. ``order="random"`` finishes the
        pending requests one by one in a seeded random order (as a continuous-batching engine may),
        so tests can check that results do not depend on completion order."""
        if self.order == "rounds":
            stream_rounds(self, initial, on_done)
            return
        if self.order != "random":
            raise ValueError(f"scripted engine: order must be 'rounds' or 'random', not {self.order!r}")
        rng = random.Random(_h("order", len(initial)))
        pending = list(initial)
        while pending:
            r = pending.pop(rng.randrange(len(pending)))
            pending.extend(on_done(r, self.generate([r])[0]))

    def _one(self, r: GenRequest) -> GenResult:
        # every token is at least one character: the last 32 decide whether the prompt ends with a marker
        if self.tokenizer.decode(list(r.prompt_ids[-32:])).endswith(ANSWER_MARKERS):
            return self._answer(r, self.tokenizer.decode(list(r.prompt_ids)))
        return self._think(r)

    def _think(self, r: GenRequest) -> GenResult:
        key = r.seed if r.temperature > 0 else _h("greedy", r.prompt_ids)
        rng = random.Random(key)
        letters = self.tokenizer.encode("abcdefgh ")
        ids: list[int] = []
        suppressed: list[int] = []
        for step in range(r.max_tokens):
            u, v, w = rng.random(), rng.random(), rng.random()
            if r.stop_token_ids and u < self.p_end:
                if step >= r.min_tokens:
                    return GenResult(token_ids=ids, stop_token=r.stop_token_ids[0], suppressed=suppressed)
                suppressed.append(step)  # min_tokens masks the stop token: the engine samples on
            if w < self.oov_rate:
                ids.append(self.tokenizer.vocab_size + 3)
            else:
                ids.append(letters[int(v * len(letters))])
        return GenResult(token_ids=ids, stop_token=None, suppressed=suppressed)

    def _answer(self, r: GenRequest, text: str) -> GenResult:
        problem = next((p for p in self.golds if p in text), None)
        start = max(text.rfind(m) + len(m) for m in THINK_MARKERS if m in text) if any(
            m in text for m in THINK_MARKERS) else 0
        end = max(text.rfind(m) for m in ANSWER_MARKERS)
        thinking_len = len(self.tokenizer.encode(text[start:end]))
        if problem is None:
            ans = "\\boxed{?}"
        elif thinking_len >= self._difficulty(problem):
            ans = f" The answer is \\boxed{{{self.golds[problem]}}}."
        else:
            ans = f" The answer is \\boxed{{{_h('wrong', problem, r.seed) % 1000 + 1000}}}."
        ids = self.tokenizer.encode(ans)
        if len(ids) > r.max_tokens:
            return GenResult(token_ids=ids[: r.max_tokens], stop_token=None)
        return GenResult(token_ids=ids, stop_token=self.tokenizer.eos_ids[0])


def scripted_arg_names() -> frozenset[str]:
    """The settings a spec's ``engine:`` may give the scripted engine (``golds`` comes from the plan)."""
    return frozenset(f.name for f in fields(ScriptedEngine)) - {"golds", "calls", "generated_tokens"}
