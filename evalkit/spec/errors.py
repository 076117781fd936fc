"""Spec errors that name the offending key and its line in the YAML file."""

from __future__ import annotations

import difflib
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

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
MESSAGES = {"extra_forbidden": "unknown key", "missing": "required key is missing"}


def _member(part: Any) -> bool:
    """A union member (or tag) pydantic names in a loc, not a key."""
    return isinstance(part, str) and (part.endswith("]") or part in UNION_NAMES)


def key_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic ``loc`` without the union members it names: the key path in the file."""
    return tuple(p for p in loc if not _member(p))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in get_args(annotation) for m in _models_in(a)]


def keys_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a mapping at pydantic ``loc`` may hold (``model`` at the root; union members in the loc
    pick their model)."""
    models = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        named = [m for m in models if m.__name__ == part]
        if named or _member(part):
            models = named or models
            continue
        models = [m for c in models if part in c.model_fields for m in _models_in(c.model_fields[part].annotation)]
    return list(dict.fromkeys(k for m in models for k in m.model_fields))


def message(err: Any, model: type[BaseModel]) -> str:
    """What a validation error says: an unknown key with the nearest valid key (or the valid keys)."""
    if err["type"] == "extra_forbidden":
        keys = keys_at(model, tuple(err["loc"][:-1]))
        near = difflib.get_close_matches(str(err["loc"][-1]), keys, n=1, cutoff=0.6)
        return "unknown key" + (f"; did you mean {near[0]}?" if near else f"; keys: {', '.join(keys)}" if keys else "")
    return MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))


def _useful(errors: list[Any]) -> list[Any]:
    """Without the errors of union members the input is not even of the type of (``tasks[0]: Input should
    be a valid string`` for a task given as a mapping), when another member of that union says more."""
    def split(err: Any) -> tuple[tuple[Any, ...], Any, bool] | None:
        loc = tuple(err["loc"])
        i = next((k for k, p in enumerate(loc) if _member(p)), None)
        return None if i is None else (loc[:i], loc[i], len(loc) == i + 1 and err["type"].endswith("_type"))

    parts = [split(e) for e in errors]
    deeper = {(p[0], p[1]) for p in parts if p is not None and not p[2]}
    return [e for e, p in zip(errors, parts, strict=True)
            if p is None or not p[2] or not any(u == p[0] and m != p[1] for u, m in deeper)]


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
        for err in _useful(e.errors()):
            loc = key_path(tuple(err["loc"]))
            problems.append(f"{source}:{index.line(loc) or '?'}: {format_loc(loc)}: {message(err, model)}")
        raise error(list(dict.fromkeys(problems))) from None
