"""What every ``evalkit`` command shares: the typer app, the consoles, and one way to fail."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperGroup, TyperOption

from evalkit.cli.progress import RichProgress
from evalkit.errors import EvalkitError
from evalkit.pipeline.observer import Observer, ProgressSink


class CliObserver(Observer):
    """The command line's observer: messages through the ``err`` console, live bars on a terminal."""

    def say(self, msg: str) -> None:
        err.print(msg, highlight=False, markup=False)

    def progress(self) -> ProgressSink:
        return RichProgress(err) if err.is_terminal else super().progress()


class TerminalFile:
    """A file-like object for consoles: writes to the observer's terminal at each call (the terminal
    also while a sweep sends the engine's output to its log)."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    def write(self, s: str) -> int:
        return self.observer.terminal.write(s)

    def flush(self) -> None:
        self.observer.terminal.flush()

    def isatty(self) -> bool:
        return self.observer.terminal.isatty()

    def fileno(self) -> int:
        return self.observer.terminal.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.observer.terminal, "encoding", "utf-8")


def _flags_as_flags(params: list) -> list:
    """typer's help shows every option's type, a flag's too (``--dry-run <bool>``, as if it took a value): a
    flag shows none."""
    for p in params:
        if isinstance(p, TyperOption) and p.is_flag and p.metavar is None:
            p.metavar = ""
    return params


class Command(TyperCommand):
    def get_params(self, ctx: typer.Context) -> list:
        return _flags_as_flags(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx: typer.Context) -> list:
        return _flags_as_flags(super().get_params(ctx))


class App(typer.Typer):
    """The evalkit command line's typer app (and sub-apps): help shows flags as flags."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cls=Group, **kwargs)  # type: ignore[arg-type]  # typer declares its own Group/Command classes; ours subclass them

    def command(self, *args: object, cls: type[TyperCommand] | None = None, **kwargs: object):  # noqa: ANN201
        return super().command(*args, cls=cls or Command, **kwargs)  # type: ignore[arg-type]  # typer declares its own Group/Command classes; ours subclass them


app = App(add_completion=False, no_args_is_help=True,
          help="evalkit: a statistically rigorous evaluation harness for test-time scaling.")
console = Console(width=None if sys.stdout.isatty() else 220)  # tables stay readable when piped
observer = CliObserver()
# messages are never re-wrapped (paths and keys stay greppable), and reach the terminal also while a
# sweep sends the engine's output to its log (the observer's terminal)
err = Console(file=TerminalFile(observer), soft_wrap=True)


def say(msg: str) -> None:
    err.print(msg, highlight=False, markup=False)


def table_markdown(table: Table) -> str:
    """A rich table as a Markdown table (title above, caption below): what survives logs and pipes."""
    def text(x: object) -> str:
        return (x.plain if isinstance(x, Text) else str(x)).replace("|", "\\|").replace("\n", " ")

    cols = table.columns
    lines = [f"{text(table.title)}", ""] if table.title else []
    lines.append("| " + " | ".join(text(c.header) for c in cols) + " |")
    lines.append("|" + "|".join("---:" if c.justify == "right" else "---" for c in cols) + "|")
    for r in range(table.row_count):
        lines.append("| " + " | ".join(text(c._cells[r]) for c in cols) + " |")  # noqa: SLF001
    if table.caption:
        lines += ["", text(table.caption)]
    return "\n".join(lines) + "\n"


def show(renderable: object) -> None:
    """A renderable on stdout: rich tables fit the terminal, and print as Markdown when stdout is not one."""
    if isinstance(renderable, Table) and not console.is_terminal:
        console.print(table_markdown(renderable), highlight=False, markup=False, soft_wrap=True)
    else:
        console.print(renderable, highlight=False)


def fail(msg: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def failing() -> Iterator[None]:
    """Turn any :class:`EvalkitError` into ``error: <message>`` and its exit code."""
    try:
        yield
    except EvalkitError as e:
        fail(str(e), e.exit_code)
