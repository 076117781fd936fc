"""The engine's own output into a log file.

vLLM, torch and transformers write to file descriptors 1 and 2 from Python logging, warnings, C++
and their own worker processes. While a sweep generates, both descriptors can point at
``results/<sweep>/logs/engine.log`` (subprocesses inherit them), so all of that lands in the log;
:func:`capture_engine_output` yields a duplicate of the original stderr for evalkit's own lines
(the :class:`~evalkit.pipeline.observer.Observer` writes there while the capture lasts).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


def _real_stderr() -> bool:
    try:
        return sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def capture_engine_output(log_path: Path) -> Iterator[TextIO]:
    """Route descriptors 1 and 2 to ``log_path`` (appending) for the block; yields the terminal
    (a duplicate of the original stderr, or ``sys.stderr`` when that is not descriptor 2)."""
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
    try:
        yield term
    finally:
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
