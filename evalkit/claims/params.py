"""The base of every claim kind's parameters (a claims file's ``parameters`` of one claim)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """A kind's parameters: strict (an unknown key is an error) and frozen. ``references`` maps a
    parameter to what it names in the reported file (``benchmark`` or ``system``), checked when one is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    references: ClassVar[dict[str, str]] = {}

    @property
    def name(self) -> str:
        """The benchmark as printed: ``label``, else its key in capitals (aime24 -> AIME24)."""
        return getattr(self, "label", None) or getattr(self, "benchmark", "").upper()


class NoParams(Params):
    """A kind that takes no parameters."""
