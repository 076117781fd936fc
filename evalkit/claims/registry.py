"""The claim kinds: one registry that the claims file's validation, the deciding and the command line's
help read. A kind is one module under :mod:`evalkit.claims.kinds` with one decorated function::

    class MyParams(Params):
        \"\"\"What the kind decides (the first line is the kind's summary in ``evalkit claims --help``).\"\"\"
        benchmark: str

    def _words(v: Verdict, p: MyParams) -> Words:   # the verdict in words, called when it is rendered
        return Words(statistic=f"{100 * v.numbers['accuracy']:.1f}%")

    @claim_kind("my_kind", MyParams, words=_words)
    def my_kind(data: ClaimData, p: MyParams) -> Verdict:  # the verdict from the data, as numbers
        ...

and its registration: the module's import in ``evalkit/claims/kinds/__init__.py``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from evalkit.claims.data import ClaimData
from evalkit.claims.params import Params
from evalkit.claims.verdict import Verdict
from evalkit.claims.words import Words

Decide = Callable[[ClaimData, Any], Verdict]  # (data, the kind's parameters) -> verdict
Wording = Callable[[Verdict, Any], Words]  # (verdict, the kind's parameters) -> its words


@dataclass(frozen=True)
class ClaimKind:
    """A registered claim kind: its parameters' model, the function deciding it, the function wording its
    verdicts, whether it reads sweep rows (then scoped by ``applies_to``, test doubles and settings), and
    whether a claim of it must say what data would decide it (``needs``)."""

    name: str
    params: type[Params]
    decide: Decide
    words: Wording
    reads_sweeps: bool = False
    requires_needs: bool = False

    @property
    def summary(self) -> str:
        """The first line of the parameters' docstring."""
        return (self.params.__doc__ or "").strip().split("\n")[0]


KINDS: dict[str, ClaimKind] = {}  # name -> kind, in the order registered

F = TypeVar("F", bound=Decide)


def claim_kind(name: str, params: type[Params], *, words: Wording, reads_sweeps: bool = False,
               requires_needs: bool = False) -> Callable[[F], F]:
    """Register the decorated function as the kind ``name`` deciding claims with ``params``."""

    def register(decide: F) -> F:
        if name in KINDS:
            raise ValueError(f"claim kind {name!r} is registered twice")
        KINDS[name] = ClaimKind(name, params, decide, words, reads_sweeps, requires_needs)
        return decide

    return register
