"""Verdicts as JSON (``evalkit claims --json``) and back. The shape (docs/claims.md)::

    {"title": str, "alpha": float, "sources": [str],
     "verdicts": [{"claim", "statement", "kind", "verdict", "parameters", "intervals", "numbers",
                   "needs", "basis", "settings"}]}

``intervals``: name -> {estimate, low, high, confidence, method, n, details}; ``numbers``: the kind's
figures and names (plain JSON); ``basis``: [{model, engine, test_double, tasks, problems, seeds, cells}];
``settings``: [{"setting": str, ...a verdict}]. A number that is not finite is written as null."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from evalkit.analyze import Interval
from evalkit.claims.registry import KINDS
from evalkit.claims.verdict import ModelBasis, Verdict, plain


@dataclass(frozen=True)
class Verdicts:
    """A claims file's verdicts with what they were decided at: its title, alpha, and the data's sources."""

    title: str
    alpha: float
    sources: tuple[str, ...]
    verdicts: tuple[Verdict, ...]


def to_json(verdicts: list[Verdict], *, title: str, alpha: float, sources: list[str]) -> str:
    """The verdicts as one JSON document (the module's shape), indented."""
    doc = {"title": title, "alpha": alpha, "sources": list(sources), "verdicts": [v.to_dict() for v in verdicts]}
    return json.dumps(plain(doc), indent=2, allow_nan=False) + "\n"


def _interval(d: dict[str, Any]) -> Interval:
    nan = float("nan")
    est, low, high = (nan if d[k] is None else float(d[k]) for k in ("estimate", "low", "high"))
    return Interval(est, low, high, d["confidence"], d["method"], d["n"], d.get("details") or {})


def verdict_from_dict(d: dict[str, Any]) -> Verdict:
    """A verdict from :meth:`Verdict.to_dict`'s data (its parameters validated by its kind's model)."""
    kind = KINDS.get(d["kind"])
    return Verdict(
        d["verdict"], intervals={k: _interval(x) for k, x in d["intervals"].items()}, numbers=d["numbers"],
        needs=d["needs"], settings=tuple((s["setting"], verdict_from_dict(s)) for s in d["settings"]),
        basis=tuple(ModelBasis(**{**b, "tasks": tuple(b["tasks"])}) for b in d["basis"]),
        claim=d["claim"], statement=d["statement"], kind=d["kind"],
        params=kind.params.model_validate(d["parameters"]) if kind is not None else None,
    )


def read_json(text: str) -> Verdicts:
    """Verdicts written by :func:`to_json`."""
    doc = json.loads(text)
    return Verdicts(doc["title"], doc["alpha"], tuple(doc["sources"]),
                    tuple(verdict_from_dict(v) for v in doc["verdicts"]))
