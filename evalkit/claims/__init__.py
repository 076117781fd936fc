"""Claims stage: claims about a paper decided from reported numbers and sweep results.

The reported-results file (:mod:`evalkit.claims.reported`), the claims file (:mod:`evalkit.claims.schema`),
the claim kinds (one registry, :data:`KINDS`; the shipped kinds in :mod:`evalkit.claims.kinds`) and the
verdicts (:class:`Verdict`: a typed verdict, intervals and numbers, worded only when the report renders it).
``decide`` returns the verdicts; ``to_json`` writes them as data.
"""

from evalkit.claims import kinds
from evalkit.claims.data import ClaimData
from evalkit.claims.decide import DEFAULT_CLAIMS, decide, decide_claim, read_claims
from evalkit.claims.jsonio import Verdicts, read_json, to_json
from evalkit.claims.params import Params
from evalkit.claims.registry import KINDS, ClaimKind, claim_kind
from evalkit.claims.reported import Reported, ReportedError, load_reported
from evalkit.claims.schema import Claim, ClaimsError, ClaimsFile, load_claims, parse_claims
from evalkit.claims.verdict import VERDICTS, ModelBasis, Verdict, VerdictValue, needs
from evalkit.claims.words import Words

__all__ = ["DEFAULT_CLAIMS", "KINDS", "VERDICTS", "Claim", "ClaimData", "ClaimKind", "ClaimsError", "ClaimsFile",
           "ModelBasis", "Params", "Reported", "ReportedError", "Verdict", "VerdictValue", "Verdicts", "Words",
           "claim_kind", "decide", "decide_claim", "kinds", "load_claims", "load_reported", "needs", "parse_claims",
           "read_claims", "read_json", "to_json"]
