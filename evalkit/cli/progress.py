"""Live progress bars of a sweep on a terminal (the pipeline's plain lines elsewhere)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evalkit.generate.forcing import TreeStatus
from evalkit.pipeline.observer import eta


class RichProgress:
    """Live bars on a terminal: batches overall, and the running batch's tokens against its budget."""

    def __init__(self, console: Console) -> None:
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
                        info=f"{rate:.1f} tok/s, ETA {eta(st)}, trajectories {st.trajectories_done}/"
                             f"{st.trajectories}, answers {st.answers_done}/{st.answers}")

    def batch_done(self, samples_written: int, failed: bool) -> None:
        self.bar.advance(self.overall)
        if failed:
            self.bar.console.print("[red]batch failed[/]")

    def close(self) -> None:
        if self.current is not None:
            self.bar.remove_task(self.current)
        self.bar.stop()
