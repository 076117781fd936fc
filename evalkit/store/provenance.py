"""What a results directory's rows stand on, read from its manifest and rows: which engine generated
each model's rows (and whether that engine is a test double), and the settings that tell its cells
apart when cells of more than one experiment share a directory.

Facts only; the wording of banners and labels is the report's (:mod:`evalkit.report.provenance`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.store.frame import Col

TEST_DOUBLES = frozenset({"scripted"})  # engine kinds whose output is scripted, not a model's
SETTING = "setting"  # a derived column (never stored): the cell's settings that differ between the cells read
# the parts of a cell's key that the tables show as columns or that define the compared grid
GRID = frozenset({"task", "model", "method", "n_samples", "max_attempts", "forcing.cap", "forcing.n_ignore",
                  "forcing.controls", "forcing.min_tokens"})


@dataclass(frozen=True)
class ModelSource:
    """The engine behind one model's rows: ``vllm`` (in process), ``server``, ``scripted`` (the test
    double), ``lm-eval import`` or ``unknown``."""

    model: str
    engine: str
    test_double: bool

    @property
    def described(self) -> str:
        names = {"vllm": "vLLM in process", "server": "vLLM server", "scripted": "scripted test engine"}
        return names.get(self.engine, self.engine)


def _engine_of(info: Mapping[str, Any]) -> str:
    if info.get("engine"):
        return str(info["engine"])
    if info.get("kind") in TEST_DOUBLES:  # manifests written before the engine kind was recorded
        return str(info["kind"])
    return "server" if info.get("server") else "vllm"


def model_sources(manifest: Mapping[str, Any], models: Iterable[str] = ()) -> dict[str, ModelSource]:
    """model id -> its source, for every model of the manifest and every id in ``models`` (the rows'):
    a model the manifest does not name is ``unknown``, or an ``lm-eval import`` in an imported directory
    (a test double when lm-eval ran evalkit's scripted engine: ``pretrained=scripted``)."""
    out: dict[str, ModelSource] = {}
    for mid, info in (manifest.get("models") or {}).items():
        if isinstance(info, Mapping):
            engine = _engine_of(info)
            out[str(mid)] = ModelSource(str(mid), engine, bool(info.get("test_double")) or engine in TEST_DOUBLES)
    for mid in models:
        if mid not in out:
            if manifest.get("imported"):
                out[mid] = ModelSource(mid, "lm-eval import", mid in TEST_DOUBLES)
            else:
                out[mid] = ModelSource(mid, "unknown", False)
    return out


def _flat(key: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in key.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping) and k != "where":
            out.update(_flat(v, name + "."))
        else:
            out[name] = json.dumps(v, sort_keys=True) if isinstance(v, Mapping | list | tuple) else str(v)
    return out


def flat_key(key: Mapping[str, Any]) -> dict[str, str]:
    """A cell's key (as ``cells.json`` stores it) flattened: ``{"sampling.temperature": "0.7", ...}``
    (a task selection's ``where`` stays one value; the ``label`` is left out)."""
    return _flat({k: v for k, v in key.items() if k != "label"})


def setting_name(key: str) -> str:
    """How a setting is named in tables and errors: ``sampling.temperature`` -> ``temperature``,
    ``selection.limit`` -> ``limit``, ``think_format`` as is."""
    return key.rsplit(".", 1)[-1]


def differing_settings(cells: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The keys (flattened, e.g. ``sampling.temperature``) whose value differs between cells of the same
    method and task, besides the grid and the task and model: what tells cells of different experiments apart.
    ``cells``: cell id -> key (as ``cells.json`` stores it, with or without ``label``)."""
    by_method: dict[tuple[str, str], dict[str, set[str]]] = {}
    for key in cells.values():
        flat = {k: v for k, v in flat_key(key).items() if k not in GRID and k != "selection.name"}
        seen = by_method.setdefault((str(key.get("method", "sequential")), str(key.get("task"))), {})
        for k, v in flat.items():
            seen.setdefault(k, set()).add(v)
        for k in set(seen) - set(flat):  # a key some cells lack counts as a difference
            seen[k].add("")
    return sorted({k for seen in by_method.values() for k, vals in seen.items() if len(vals) > 1})


def cell_settings(cells: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """cell id -> {setting name: value} of the :func:`differing_settings` (empty dicts when the cells
    are of one experiment)."""
    keys = differing_settings(cells)
    out = {}
    for cid, key in cells.items():
        flat = flat_key(key)
        out[cid] = {setting_name(k): flat.get(k, "-") for k in keys}
    return out


def setting_label(values: Mapping[str, str]) -> str:
    """``temperature=1.0; limit=40`` ("" when nothing differs)."""
    return "; ".join(f"{k}={v}" for k, v in values.items())


def with_settings(df: pd.DataFrame, cells: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """``df`` with the derived :data:`SETTING` column (each row's cell's :func:`setting_label`), when its
    cells differ in a setting; ``df`` unchanged otherwise."""
    present = set(df[Col.CELL_ID].unique()) if len(df) else set()
    settings = cell_settings({cid: k for cid, k in cells.items() if cid in present})
    labels = {cid: setting_label(v) for cid, v in settings.items()}
    if not any(labels.values()):
        return df
    return df.assign(**{SETTING: df[Col.CELL_ID].map(labels).fillna("").astype(str)})
