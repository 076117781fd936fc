"""Progress of a sweep: batches, and within a batch generated tokens against the batch's budget,
trajectories and answers done, tokens/s and an ETA; live bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from evalkit.generate.forcing import TreeStatus


class ProgressSink(Protocol):
    def start(self, n_batches: int) -> None: ...
    def batch(self, k: int, batch_id: str, samples: int) -> None: ...
    def update(self, st: TreeStatus) -> None: ...
    def batch_done(self, samples_written: int, failed: bool) -> None: ...
    def close(self) -> None: ...


def _eta(st: TreeStatus) -> str:
    rate = st.tokens / st.elapsed_s if st.elapsed_s > 0 else 0.0
    if rate <= 0:
        return "?"
    left = max(st.budget - st.tokens, 0) / rate
    return f"<= {int(left // 60)}m{int(left % 60):02d}s"


def status_line(st: TreeStatus) -> str:
    rate = st.tokens / st.elapsed_s if st.elapsed_s > 0 else 0.0
    return (f"{st.tokens:,}/{st.budget:,} tokens ({rate:.1f} tok/s, ETA {_eta(st)}), "
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


class RichProgress:
    """Live bars on a terminal: batches overall, and the running batch's tokens against its budget."""

    def __init__(self, console: Any) -> None:  # noqa: ANN401 - a rich Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console,
                            refresh_per_second=2, transient=False)
        self.overall = self.current = None

    def start(self, n_batches: int) -> None:
        self.bar.start()
        self.overall = self.bar.add_task("batches", total=n_batches, info="")

    def batch(self, k: int, batch_id: str, samples: int) -> None:
        if self.current is not None:
            self.bar.remove_task(self.current)
        self.current = self.bar.add_task(f"{batch_id} tokens", total=None, info=f"{samples} samples")

    def update(self, st: TreeStatus) -> None:
        rate = st.tokens / st.elapsed_s if st.elapsed_s > 0 else 0.0
        self.bar.update(self.current, completed=min(st.tokens, st.budget), total=st.budget,
                        info=f"{rate:.1f} tok/s, ETA {_eta(st)}, trajectories {st.trajectories_done}/"
                             f"{st.trajectories}, answers {st.answers_done}/{st.answers}")

    def batch_done(self, samples_written: int, failed: bool) -> None:
        self.bar.advance(self.overall)
        if failed:
            self.bar.console.print("[red]batch failed[/]")

    def close(self) -> None:
        if self.current is not None:
            self.bar.remove_task(self.current)
        self.bar.stop()
