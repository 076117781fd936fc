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

from evalkit.errors import EvalkitError
from evalkit.runner.quiet import TerminalFile

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="evalkit: a statistically rigorous evaluation harness for test-time scaling.")
console = Console(width=None if sys.stdout.isatty() else 220)  # tables stay readable when piped
# messages are never re-wrapped (paths and keys stay greppable), and reach the terminal also while a
# sweep sends the engine's output to its log (evalkit.runner.quiet)
err = Console(file=TerminalFile(), soft_wrap=True)


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
