"""``needs_generations``: a claim that no data evalkit reads decides yet; its ``needs`` says what would."""

from __future__ import annotations

from evalkit.claims.data import ClaimData
from evalkit.claims.params import NoParams
from evalkit.claims.registry import claim_kind
from evalkit.claims.verdict import Verdict, needs
from evalkit.claims.words import Words


class NeedsGenerations(NoParams):
    """A claim no data evalkit reads decides yet; the claim's ``needs`` says what would."""


def _words(v: Verdict, p: NeedsGenerations) -> Words:
    return Words()  # never decided


@claim_kind("needs_generations", NeedsGenerations, words=_words, requires_needs=True)
def needs_generations(data: ClaimData, p: NeedsGenerations) -> Verdict:
    """Always the claim's ``needs``."""
    return needs()
