"""Exclude lists: benchmark problems to leave out of every metric (e.g. flagged as contaminated).

Plain text, one ``task/problem_id`` per line; the task is everything before the first ``/`` (MATH500
ids contain slashes themselves). ``#`` starts a comment, on its own line or after whitespace; blank
lines are ignored. ``evalkit contamination`` writes them; ``evalkit report --exclude`` reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.spec.tasks import TaskError, load_questions, registry

_COMMENT = re.compile(r"(^|\s)#.*$")


class ExcludeError(EvalkitError, ValueError):
    """An exclude list is malformed or names an unknown problem; the message gives file:line."""


@dataclass(frozen=True)
class ExcludeEntry:
    task: str
    problem_id: str
    line: int

    @property
    def key(self) -> str:
        return f"{self.task}/{self.problem_id}"


def parse_exclude(text: str, source: str = "<exclude list>") -> list[ExcludeEntry]:
    """Syntax only: every non-comment line must be ``task/problem_id``. Duplicates are kept once."""
    out: list[ExcludeEntry] = []
    seen: set[tuple[str, str]] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        task, sep, pid = line.partition("/")
        if not sep or not task or not pid or any(c.isspace() for c in line):
            raise ExcludeError(f"{source}:{n}: expected 'task/problem_id', got {raw.strip()!r}")
        if (task, pid) not in seen:
            seen.add((task, pid))
            out.append(ExcludeEntry(task, pid, n))
    return out


def _task_ids(task: str) -> set[str] | None:
    """Problem ids of a task, or None when its data cannot be loaded here (gated GPQA without a CSV)."""
    try:
        return {q.problem_id for q in load_questions(task)}
    except TaskError:
        return None


def read_exclude(path: Path, *, extra_ids: Mapping[str, Iterable[str]] | None = None,
                 warn: Callable[[str], None] | None = None) -> list[ExcludeEntry]:
    """Parse and validate an exclude list. A line naming an unknown task, or a problem id that the
    task's data (or ``extra_ids``, e.g. the ids present in a results directory) does not hold, is an
    error naming file:line. Lines of a task whose data is unavailable here and that ``extra_ids``
    does not cover are kept with a warning: they cannot be checked, nor can they match anything."""
    path = Path(path)
    if not path.exists():
        raise ExcludeError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ExcludeError(f"{path}: not UTF-8 text ({e.reason})") from None
    entries = parse_exclude(text, str(path))
    known_tasks = set(registry())
    extra = {t: set(ids) for t, ids in (extra_ids or {}).items()}
    ids: dict[str, set[str] | None] = {}
    unchecked: dict[str, int] = {}
    for e in entries:
        if e.task not in known_tasks and e.task not in extra:
            raise ExcludeError(f"{path}:{e.line}: unknown task {e.task!r} (known: {', '.join(sorted(known_tasks))})")
        if e.task not in ids:
            base = _task_ids(e.task) if e.task in known_tasks else set()
            ids[e.task] = None if base is None and e.task not in extra else (base or set()) | extra.get(e.task, set())
        known = ids[e.task]
        if known is None:
            unchecked[e.task] = unchecked.get(e.task, 0) + 1
        elif e.problem_id not in known:
            raise ExcludeError(f"{path}:{e.line}: unknown problem id {e.problem_id!r} of task {e.task}")
    if warn:
        for task, n in unchecked.items():
            warn(f"{path}: {n} lines of task {task} not checked (its data is not available here)")
    return entries


def format_exclude(keys: Iterable[tuple[str, str, str]], header: Iterable[str] = ()) -> str:
    """Exclude-list text from (task, problem_id, comment) triples; header lines become comments."""
    lines = [f"# {h}" for h in header]
    for task, pid, comment in keys:
        lines.append(f"{task}/{pid}" + (f"  # {comment}" if comment else ""))
    return "\n".join(lines) + "\n"
