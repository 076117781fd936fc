"""A worked example of a new engine (scratch): the scripted engine under another kind."""

from __future__ import annotations

from typing import ClassVar

from evalkit.generate.scripted import ScriptedEngine


class EchoEngine(ScriptedEngine):
    kind: ClassVar[str] = "echo"
