"""Spec errors that name the offending key and its line in the YAML file."""

from __future__ import annotations

from typing import Any

import yaml

from evalkit.errors import EvalkitError


class SpecError(EvalkitError, ValueError):
    """A sweep spec is invalid. ``str(err)`` names the file, line and key of every problem."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


class LineIndex:
    """Maps a key path (as in pydantic's ``loc``) to the 1-based line where it stands in the YAML."""

    def __init__(self, text: str):
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
