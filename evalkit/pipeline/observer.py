"""What a running sweep tells whoever runs it, as one typed object: evalkit's messages, progress,
and where the engine's own output goes.

The library's default :class:`Observer` prints messages as lines on stderr, reports progress as a
line every 30 seconds, and captures the engine's output into the results' ``logs/engine.log``. The
``evalkit`` command hands in its own (a rich console, live bars, ``--verbose``); a caller that wants
the messages subclasses it (``say``) or reads the run log under ``logs/``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TextIO

from evalkit.generate.forcing import TreeStatus
from evalkit.pipeline.engine_log import capture_engine_output


class ProgressSink(Protocol):
    """Progress of a sweep: batches, and within a batch the trees' generated tokens and answers."""

    def start(self, n_batches: int) -> None: ...
    def batch(self, k: int, batch_id: str, samples: int) -> None: ...
    def update(self, st: TreeStatus) -> None: ...
    def batch_done(self, samples_written: int, failed: bool) -> None: ...
    def close(self) -> None: ...


def eta(st: TreeStatus) -> str:
    """Time left at the batch's rate so far, an upper bound (the budget is the most it can generate)."""
    rate = st.tokens / st.elapsed_s if st.elapsed_s > 0 else 0.0
    if rate <= 0:
        return "?"
    left = max(st.budget - st.tokens, 0) / rate
    return f"<= {int(left // 60)}m{int(left % 60):02d}s"


def status_line(st: TreeStatus) -> str:
    rate = st.tokens / st.elapsed_s if st.elapsed_s > 0 else 0.0
    return (f"{st.tokens:,}/{st.budget:,} tokens ({rate:.1f} tok/s, ETA {eta(st)}), "
            f"trajectories {st.trajectories_done}/{st.trajectories}, answers {st.answers_done}/{st.answers}, "
            f"{st.elapsed_s:.0f}s")


class LineProgress:
    """Plain lines (logs, CI, pipes): one at the start of generation, then every ``every`` seconds."""

    def __init__(self, say: Callable[[str], None], every: float = 30.0) -> None:
        self.say, self.every = say, every
        self.n = 0
        self.k = 0
        self.last = -1e9
        self.label = ""

    def start(self, n_batches: int) -> None:
        self.n = n_batches

    def batch(self, k: int, batch_id: str, samples: int) -> None:
        self.k, self.label, self.last = k, batch_id, -1e9

    def update(self, st: TreeStatus) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.say(f"[batch {self.k + 1}/{self.n}] {status_line(st)}")

    def batch_done(self, samples_written: int, failed: bool) -> None:
        pass

    def close(self) -> None:
        pass


class Observer:
    """Messages, progress and the engine's output of a sweep (see the module's docstring).

    ``capture_engine_output``: the engine's own output (vLLM, torch, transformers, their worker
    processes) goes to the results' log while it runs (False: it stays on the terminal)."""

    def __init__(self, *, capture_engine_output: bool = True, progress_every: float = 30.0) -> None:
        self.capture_engine_output = capture_engine_output
        self.progress_every = progress_every
        self._terminals: list[TextIO] = []

    @property
    def terminal(self) -> TextIO:
        """Where evalkit's own lines go now: the terminal also while the engine's output is captured."""
        return self._terminals[-1] if self._terminals else sys.stderr

    def say(self, msg: str) -> None:
        print(msg, file=self.terminal, flush=True)

    def progress(self) -> ProgressSink:
        return LineProgress(self.say, self.progress_every)

    @contextmanager
    def engine_output(self, log_path: Path) -> Iterator[Path | None]:
        """For the block, the engine's output goes to ``log_path`` (yielded), or nowhere new (None)."""
        if not self.capture_engine_output:
            yield None
            return
        with capture_engine_output(log_path) as term:
            self._terminals.append(term)
            try:
                yield log_path
            finally:
                self._terminals.pop()


class RunLog(Observer):
    """An observer whose messages also go, time-stamped, to a run's log file."""

    def __init__(self, inner: Observer, path: Path, clock: Callable[[], str]) -> None:
        super().__init__(capture_engine_output=inner.capture_engine_output, progress_every=inner.progress_every)
        self.inner, self.clock = inner, clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file: TextIO = open(path, "a")  # noqa: SIM115 - closed by close()

    @property
    def terminal(self) -> TextIO:
        return self.inner.terminal

    def say(self, msg: str) -> None:
        self.inner.say(msg)
        self.file.write(f"{self.clock()} {msg}\n")
        self.file.flush()

    def progress(self) -> ProgressSink:
        return self.inner.progress()

    def engine_output(self, log_path: Path):  # noqa: ANN201 - the inner observer's context manager
        return self.inner.engine_output(log_path)

    def close(self) -> None:
        self.file.close()


class Collect(Observer):
    """An observer that keeps evalkit's messages in ``messages`` instead of printing them (tests,
    notebooks); the engine's output is captured as by the default."""

    def __init__(self, *, capture_engine_output: bool = True) -> None:
        super().__init__(capture_engine_output=capture_engine_output)
        self.messages: list[str] = []

    def say(self, msg: str) -> None:
        self.messages.append(msg)
