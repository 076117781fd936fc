"""Spec errors that name the offending key and its line in the YAML file."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from evalkit.errors import EvalkitError


class SpecError(EvalkitError, ValueError):
    """A sweep spec is invalid. ``str(err)`` names the file, line and key of every problem."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


class LineIndex:
    """Maps a key path (as in pydantic's ``loc``) to the 1-based line where it stands in the YAML."""

    def __init__(self, text: str) -> None:
        self.root = yaml.compose(text)

    def line(self, loc: tuple[Any, ...]) -> int | None:
        node = self.root
        best = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if k.value == part:
                        best = k.start_mark.line + 1
                        nxt = v
                        break
                if nxt is None:
                    return best
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return best
                node = node.value[part]
                best = node.start_mark.line + 1
            else:
                return best
        return best

    def duplicate_keys(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []

        def walk(node: Any, path: str) -> None:
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for k, v in node.value:
                    if k.value in seen:
                        out.append((f"{path}.{k.value}" if path else str(k.value), k.start_mark.line + 1))
                    seen.add(k.value)
                    walk(v, f"{path}.{k.value}" if path else str(k.value))
            elif isinstance(node, yaml.SequenceNode):
                for i, v in enumerate(node.value):
                    walk(v, f"{path}[{i}]")

        walk(self.root, "")
        return out


# pydantic's union members (and tags) in a loc
UNION_NAMES = ("str", "int", "TaskEntry", "ModelEntry", "list[str]", "SeedSchedule")


def validate_yaml(text: str, source: str, model: Any, error: type[Exception], what: str) -> tuple[Any, LineIndex]:
    """Parse YAML text and validate it as the pydantic ``model``; every problem (YAML syntax, not a
    mapping, duplicate keys, each validation error) becomes ``source:line: key: message`` in one
    ``error([...])``. Returns the instance and the line index (for later checks that name lines)."""
    try:
        data = yaml.safe_load(text)
        index = LineIndex(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise error([f"{source}{line}: not valid YAML: {getattr(e, 'problem', e)}"]) from None
    if not isinstance(data, dict):
        raise error([f"{source}:1: {what} must be a YAML mapping"])
    dups = index.duplicate_keys()
    if dups:
        raise error([f"{source}:{line}: {key}: duplicate key" for key, line in dups])
    try:
        return model.model_validate(data), index
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p.endswith("]") or p in UNION_NAMES)))
            msg = {"extra_forbidden": "unknown key", "missing": "required key is missing"}.get(
                err["type"], err["msg"].removeprefix("Value error, "))
            problems.append(f"{source}:{index.line(loc) or '?'}: {format_loc(loc)}: {msg}")
        raise error(list(dict.fromkeys(problems))) from None
