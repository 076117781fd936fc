"""What every ``evalkit`` command shares: the typer app, the consoles, and one way to fail."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console

from evalkit.errors import EvalkitError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="evalkit: a statistically rigorous evaluation harness for test-time scaling.")
console = Console(width=None if sys.stdout.isatty() else 220)  # tables stay readable when piped
err = Console(stderr=True, soft_wrap=True)  # messages are never re-wrapped: paths and keys stay greppable


def say(msg: str) -> None:
    err.print(msg, highlight=False)


def show(renderable: object) -> None:
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
