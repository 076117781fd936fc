"""lm-evaluation-harness per-sample logs (``samples_<task>_<date>.jsonl``): reading and writing.

One JSON object per line, as lm-eval's ``--log_samples`` writes them (and as s1's released results
are laid out: ``<run>/<model>/samples_<task>_<date>.jsonl`` beside ``results_<date>.json``):
``doc_id``, ``doc``, ``target``, ``arguments`` (``{"gen_args_0": {"arg_0": context, "arg_1":
gen_kwargs}}``, or the older list of ``[context, gen_kwargs]``), ``resps`` (per request, the list of
its ``repeats`` responses), ``filtered_resps``, ``filter``, ``metrics`` (names of the metric keys that
follow at top level, e.g. ``exact_match``), ``doc_hash``, ``prompt_hash``, ``target_hash``. lm-eval
writes one line per (doc, filter); the lines of one doc share their responses.

evalkit's export adds an ``evalkit`` object per line (cell, seed, problem id and each sample's exact
token counts), which lm-eval ignores and evalkit's import reads back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError

EVALKIT_KEY = "evalkit"
EXPORT_VERSION = 1


class SamplesError(EvalkitError, ValueError):
    """A sample log evalkit cannot read; the message names file, line and field."""


@dataclass
class LmEvalSample:
    path: Path
    line: int
    doc_id: int | str
    doc: dict[str, Any]
    target: str | None
    context: str | None
    gen_kwargs: dict[str, Any] | None
    responses: list[str]  # every response to the doc's first request (its repeats), in order
    from_filtered: bool  # responses came from filtered_resps (no resps in the line)
    filter: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    evalkit: dict[str, Any] | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def hash_string(s: str) -> str:
    """lm-eval's ``hash_string``: sha256 hex digest of the UTF-8 text."""
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _err(path: Path, line: int, msg: str) -> SamplesError:
    return SamplesError(f"{path}:{line}: {msg}")


def _arguments(raw: Any, path: Path, n: int) -> tuple[str | None, dict[str, Any] | None]:
    """(context, gen_kwargs) of the first request, from either layout of ``arguments``."""
    if raw is None:
        return None, None
    first: Any
    if isinstance(raw, dict):
        if not raw:
            return None, None
        key = "gen_args_0" if "gen_args_0" in raw else sorted(raw)[0]
        first = raw[key]
        if not isinstance(first, dict):
            raise _err(path, n, f"field 'arguments.{key}' must be an object of arg_0, arg_1")
        first = [first.get("arg_0"), first.get("arg_1")]
    elif isinstance(raw, list):
        if not raw:
            return None, None
        first = raw[0]
        if not isinstance(first, list):
            raise _err(path, n, "field 'arguments' must be a list of [context, gen_kwargs] lists")
    else:
        raise _err(path, n, "field 'arguments' must be an object or a list")
    ctx = first[0] if first else None
    kw = first[1] if len(first) > 1 else None
    if ctx is not None and not isinstance(ctx, str):
        raise _err(path, n, "field 'arguments' context (arg_0) must be a string")
    if kw is not None and not isinstance(kw, dict):
        raise _err(path, n, "field 'arguments' gen_kwargs (arg_1) must be an object")
    return ctx, kw


def _responses(rec: dict[str, Any], path: Path, n: int) -> tuple[list[str], bool]:
    if "resps" in rec and rec["resps"] is not None:
        r = rec["resps"]
        if not isinstance(r, list) or not r:
            raise _err(path, n, "field 'resps' must be a non-empty list (one list of responses per request)")
        first = r[0]
        if isinstance(first, str):  # a flat list: one response per request
            out = [first]
        elif isinstance(first, list) and first and all(isinstance(x, str) for x in first):
            out = list(first)
        else:
            raise _err(path, n, "field 'resps' must hold lists of response strings")
        return out, False
    if "filtered_resps" in rec and rec["filtered_resps"] is not None:
        r = rec["filtered_resps"]
        if not isinstance(r, list) or not r:
            raise _err(path, n, "field 'filtered_resps' must be a non-empty list")
        first = r[0]
        if isinstance(first, list):
            if not first or not all(isinstance(x, str) for x in first):
                raise _err(path, n, "field 'filtered_resps' must hold response strings")
            return list(first), True
        if not isinstance(first, str):
            raise _err(path, n, "field 'filtered_resps' must hold response strings")
        return [first], True
    raise _err(path, n, "missing field 'resps' (and no 'filtered_resps'): the sample holds no response")


def read_samples(path: str | Path) -> list[LmEvalSample]:
    """The samples of one file, one per doc (lines of further filters for a doc are checked to carry
    the same responses and skipped). Raises :class:`SamplesError` naming file, line and field."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SamplesError(f"{path}: cannot read ({e.strerror})") from None
    out: list[LmEvalSample] = []
    by_doc: dict[Any, LmEvalSample] = {}
    # split on line feeds only: generations may hold \x0b, \x1c or \u2028, which str.splitlines splits on
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise _err(path, n, f"not UTF-8 ({e.reason})") from None
        except json.JSONDecodeError as e:
            raise _err(path, n, f"not JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(rec, dict):
            raise _err(path, n, "a sample must be a JSON object")
        if "doc_id" not in rec:
            raise _err(path, n, "missing field 'doc_id'")
        doc_id = rec["doc_id"]
        if isinstance(doc_id, bool) or not isinstance(doc_id, int | str):
            raise _err(path, n, "field 'doc_id' must be an integer or a string")
        doc = rec.get("doc", {})
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise _err(path, n, "field 'doc' must be an object")
        target = rec.get("target")
        if isinstance(target, list):
            if len(target) != 1:
                raise _err(path, n, "field 'target' holds several references; evalkit grades against one")
            target = target[0]
        if target is not None and not isinstance(target, str | int | float):
            raise _err(path, n, "field 'target' must be a string or a number")
        responses, filtered = _responses(rec, path, n)
        ctx, kw = _arguments(rec.get("arguments"), path, n)
        names = rec.get("metrics") or []
        if not isinstance(names, list):
            raise _err(path, n, "field 'metrics' must be a list of metric names")
        metrics = {m: rec[m] for m in names if isinstance(m, str) and m in rec}
        ek = rec.get(EVALKIT_KEY)
        if ek is not None and not isinstance(ek, dict):
            raise _err(path, n, f"field '{EVALKIT_KEY}' must be an object")
        filt = rec.get("filter")
        key = (doc_id, ctx)
        if key in by_doc:
            prev = by_doc[key]
            if prev.responses != responses and not (filtered or prev.from_filtered):
                raise _err(path, n, f"doc_id {doc_id!r} appears again (line {prev.line}) with other responses")
            if filt == prev.filter:
                raise _err(path, n, f"doc_id {doc_id!r} appears twice (line {prev.line}) for filter {filt!r}")
            prev.metrics.update({f"{k},{filt}": v for k, v in metrics.items()})
            continue
        s = LmEvalSample(path=path, line=n, doc_id=doc_id, doc=doc,
                         target=None if target is None else str(target), context=ctx, gen_kwargs=kw,
                         responses=responses, from_filtered=filtered, filter=filt if isinstance(filt, str) else None,
                         metrics=metrics, evalkit=ek)
        by_doc[key] = s
        out.append(s)
    if not out:
        raise SamplesError(f"{path}: no samples")
    return out


def sample_record(
    *,
    doc_id: int | str,
    doc: dict[str, Any],
    target: str,
    context: str,
    gen_kwargs: dict[str, Any],
    responses: list[str],
    metrics: dict[str, Any],
    evalkit: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One line in lm-eval's layout (filter ``none``: the first response is the filtered one)."""
    rec: dict[str, Any] = {
        "doc_id": doc_id,
        "doc": doc,
        "target": str(target),
        "arguments": {"gen_args_0": {"arg_0": context, "arg_1": gen_kwargs}},
        "resps": [list(responses)],
        "filtered_resps": [responses[0]],
        "filter": "none",
        "metrics": list(metrics),
        "doc_hash": hash_string(json.dumps(doc, indent=2, ensure_ascii=False)),
        "prompt_hash": hash_string(context),
        "target_hash": hash_string(str(target)),
        **metrics,
    }
    if evalkit is not None:
        rec[EVALKIT_KEY] = evalkit
    return rec


def dumps_samples(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
