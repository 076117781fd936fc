"""Reading user JSONL files: one JSON object per line, errors naming file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def json_objects(path: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line; ``error(message)`` for a file that is not
    UTF-8, a line that is not JSON or not an object."""
    try:
        # line feeds only: text may hold \x0b, \x1c or \u2028, which str.splitlines splits on
        lines = Path(path).read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 ({e.reason})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{path}:{n}: not JSON ({e.msg})") from None
        if not isinstance(rec, dict):
            raise error(f"{path}:{n}: a record must be a JSON object")
        yield n, rec
