"""The engine's output to a log file, evalkit's own lines to the terminal.

vLLM, torch and transformers write to file descriptors 1 and 2 from Python logging, warnings, C++
and their own worker processes. While a sweep generates, both descriptors point at
``results/<sweep>/logs/engine.log`` (subprocesses inherit them), so all of that lands in the log;
evalkit's messages and progress go to a duplicate of the original stderr (:func:`terminal`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

_TERMINAL: list[TextIO] = []  # the innermost active redirect's terminal stream


def terminal() -> TextIO:
    """Where evalkit's own lines go now: the terminal while the engine's output is redirected, else
    ``sys.stderr``."""
    return _TERMINAL[-1] if _TERMINAL else sys.stderr


class TerminalFile:
    """A file-like object for consoles: writes to :func:`terminal` at each call."""

    def write(self, s: str) -> int:
        return terminal().write(s)

    def flush(self) -> None:
        terminal().flush()

    def isatty(self) -> bool:
        return terminal().isatty()

    def fileno(self) -> int:
        return terminal().fileno()

    @property
    def encoding(self) -> str:
        return getattr(terminal(), "encoding", "utf-8")


def _real_stderr() -> bool:
    try:
        return sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def engine_output(log_path: Path | None) -> Iterator[Path | None]:
    """Route descriptors 1 and 2 to ``log_path`` (appending) for the block; None: leave them alone
    (``--verbose``)."""
    if log_path is None:
        yield None
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for s in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            s.flush()
    term = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace") if _real_stderr() else sys.stderr
    saved = os.dup(1), os.dup(2)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    _TERMINAL.append(term)
    try:
        yield log_path
    finally:
        _TERMINAL.pop()
        for s in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                s.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        if term is not sys.stderr:
            term.close()


def tail(path: Path | None, lines: int = 15) -> str:
    """The last lines of a log (empty if there is none)."""
    if path is None or not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64_000))
        text = f.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])
