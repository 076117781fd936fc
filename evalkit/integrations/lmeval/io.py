"""lm-eval sample logs <-> evalkit results directories.

Import: every response of every sample becomes a row of evalkit's results layout (so ``report``,
``figures`` and ``claims`` work on it), regraded with evalkit's grader. The cell comes from the
request's gen_kwargs (s1's keywords, see :mod:`evalkit.integrations.lmeval.gen_kwargs`); files of the same cell are
seeds (``seed`` in gen_kwargs, else their order on the command line). Each response is split into
thinking and answer at the think format's delimiter; a forced end is recognised by the answer prefix
right after it (s1 writes ``thinking_end + "\\nFinal Answer:"`` on the cap, and only then). Token
counts come from the samples when they carry them (evalkit's export does), else are recounted from
the text with a tokenizer the user names (re-tokenised text can differ by a few tokens from the ids a
model generated), else stay null; what no text shows (ignored end attempts, control tokens, answer
finish reason, rounds, wall time, FLOPs) stays null. Everything is written to a temporary directory
that is renamed at the end, so a failed import leaves nothing behind.

Export: one ``samples_<task>_<cell>_seed<s>.jsonl`` per (cell, seed) in lm-eval's layout, each line
with an ``evalkit`` object that makes the round trip exact.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.generate.engine import HFTokenizer
from evalkit.generate.formats import ThinkFormat, get_format
from evalkit.generate.packs import PACKS, installed, pack_dir
from evalkit.generate.scripted import CharTokenizer
from evalkit.grade import GRADER_VERSION, GraderConfig, Item, grade_cached
from evalkit.integrations.lmeval.gen_kwargs import GenKwargsError, LmEvalGen, format_key, parse_gen_kwargs
from evalkit.integrations.lmeval.samples import (
    EXPORT_VERSION,
    LmEvalSample,
    SamplesError,
    dumps_samples,
    read_samples,
    sample_record,
)
from evalkit.pipeline.context import assign_classes
from evalkit.pipeline.provenance import git_commit, now, versions
from evalkit.records import Cell, ForcingConfig, Problem, SamplingConfig
from evalkit.spec import TaskError, get_task, load_problems
from evalkit.spec.tasks import sha256_file
from evalkit.store import ResultStore, SampleRow, atomic_write_bytes, atomic_write_json

# A response without a thinking phase: the whole text is the answer.
NO_THINKING = ThinkFormat(name="none", start="", end_tokens=(), delimiter="", answer_prefix="")

# Row fields an export carries per sample so that an import restores them exactly.
EXACT_FIELDS = ("prompt_tokens", "thinking_tokens", "control_tokens", "forced_tokens", "answer_tokens", "n_ignored",
                "n_suppressed", "forced_end", "thinking_end", "answer_finish", "oov_ids", "rounds", "attempts",
                "wall_s", "flops_naive", "flops_prefix_cached", "flops_kv_read", "flops_prompt", "verifier_score")


class LmEvalIOError(EvalkitError, ValueError):
    """An import or export that cannot proceed; nothing was written."""


@dataclass
class ImportResult:
    out_dir: Path
    rows: int
    cells: dict[str, str]  # cell id -> label
    matched: int  # docs matched to a problem of the evalkit task
    unmatched: int
    agree: int  # rows whose evalkit verdict equals the file's exact_match (first response of a doc)
    compared: int
    token_counts: str  # exact | recounted | unknown | mixed
    messages: list[str] = field(default_factory=list)


cell_from_key = Cell.from_key


# -- tokenizers for recounting ----------------------------------------------------------------------

def load_tokenizer(ref: str) -> Any:
    """``scripted`` (the test double's characters), an installed model pack, or a local tokenizer
    directory; never downloads."""
    if ref == "scripted":
        return CharTokenizer()

    if ref in PACKS:
        if not installed(ref):
            raise LmEvalIOError(f"--tokenizer {ref}: the pack is not installed (evalkit models install {ref})")
        path = pack_dir(ref)
    else:
        path = Path(ref).expanduser()
        if not path.is_dir():
            raise LmEvalIOError(f"--tokenizer {ref}: not a pack name, 'scripted', or a local tokenizer directory")
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise LmEvalIOError("--tokenizer needs transformers (the cpu or gpu extra)") from None

    return HFTokenizer(AutoTokenizer.from_pretrained(str(path), local_files_only=True))


# -- splitting a response ---------------------------------------------------------------------------

@dataclass
class Split:
    response: str  # without the think start (evalkit's response: thinking + forced + answer)
    thinking_text: str
    answer_text: str  # answer prefix (when forced) + generated answer; what is graded
    generated_answer: str  # the answer without the forced prefix
    forced_text: str
    forced_end: bool
    thinking_end: str | None  # cap | delimiter | None (no delimiter: unclosed, or no thinking phase)
    started: bool  # the response began with the think start


def split_response(text: str, fmt: ThinkFormat) -> Split:
    if fmt is NO_THINKING or not fmt.delimiter:
        return Split(text, "", text, text, "", False, None, True)
    started = text.startswith(fmt.start)
    body = text[len(fmt.start):] if started else text
    pos = body.find(fmt.delimiter)
    if pos < 0:  # the thinking was never closed: no answer to grade
        return Split(body, body, "", "", "", False, None, started)
    thinking = body[:pos]
    rest = body[pos + len(fmt.delimiter):]
    if fmt.answer_prefix and rest.startswith(fmt.answer_prefix):
        gen = rest[len(fmt.answer_prefix):]
        return Split(body, thinking, rest, gen, fmt.delimiter + fmt.answer_prefix, True, "cap", started)
    return Split(body, thinking, rest, rest, fmt.delimiter, False, "delimiter", started)


# -- import -----------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return " ".join(text.split())


class _Matcher:
    """Finds the evalkit problem a doc is: by the task's id field, else by its rendered problem text."""

    def __init__(self, task: str) -> None:
        self.td = get_task(task)
        try:
            self.problems = load_problems(task)
        except TaskError as e:
            self.problems = []
            self.why = str(e)
        else:
            self.why = ""
        self.by_id = {p.problem_id: p for p in self.problems}
        self.by_text = {_norm(p.prompt): p for p in self.problems}

    def match(self, doc: dict[str, Any]) -> Problem | None:
        if not self.problems:
            return None
        for k in dict.fromkeys((self.td.id_field, "id", "unique_id", "Record ID")):
            if k in doc and str(doc[k]) in self.by_id:
                return self.by_id[str(doc[k])]
        if self.td.source != "jsonl":
            return None
        for k in dict.fromkeys((self.td.problem_field, "problem", "question", "Question")):
            v = doc.get(k)
            if isinstance(v, str) and v.strip():
                p = self.by_text.get(_norm(self.td.prompt_template.format(problem=v.strip())))
                if p is not None:
                    return p
        return None

    def gold(self, doc: dict[str, Any]) -> str | None:
        v = doc.get(self.td.answer_field, doc.get("answer"))
        return None if v is None else str(v)


def _model_from_results(path: Path) -> str | None:
    """The model of a samples file, from lm-eval's ``results_<date>.json`` beside it."""
    m = re.match(r"samples_.+_([^_]+)\.jsonl$", path.name)
    if not m:
        return None
    res = path.with_name(f"results_{m.group(1)}.json")
    if not res.exists():
        return None
    try:
        data = json.loads(res.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if isinstance(data.get("model_name"), str) and data["model_name"]:
        return data["model_name"]
    args = (data.get("config") or {}).get("model_args")
    if isinstance(args, dict):
        return str(args.get("pretrained")) if args.get("pretrained") else None
    if isinstance(args, str):
        for part in args.split(","):
            k, _, v = part.partition("=")
            if k.strip() == "pretrained" and v:
                return v.strip()
    return None


def _exact_match(metrics: dict[str, Any]) -> bool | None:
    v = metrics.get("exact_match")
    if isinstance(v, list):
        v = v[0] if v else None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and not (isinstance(v, float) and math.isnan(v)):
        return v >= 0.5
    return None


@dataclass
class _FilePlan:
    path: Path
    samples: list[LmEvalSample]
    cell: Cell
    fmt: ThinkFormat
    spec: LmEvalGen | None  # None for an evalkit export (its block is exact)
    seed: int
    lm_eval_task: str | None


def _plan_file(path: Path, samples: list[LmEvalSample], task: str,
               model: str | None) -> tuple[Cell, ThinkFormat, LmEvalGen | None, int | None]:
    blocks = [s.evalkit for s in samples]
    if all(b is not None for b in blocks):
        b0 = blocks[0]
        for s in samples:
            b = s.evalkit
            for k in ("cell_id", "cell", "seed", "problem_id", "samples"):
                if k not in b:
                    raise SamplesError(f"{s.where}: field 'evalkit.{k}' missing")
            if b["cell_id"] != b0["cell_id"] or b["seed"] != b0["seed"]:
                raise SamplesError(f"{s.where}: field 'evalkit': one file must hold one cell and seed "
                                   f"(line {samples[0].line} has {b0['cell_id']} seed {b0['seed']})")
            if len(b["samples"]) != len(s.responses):
                raise SamplesError(f"{s.where}: field 'evalkit.samples' has {len(b['samples'])} entries for "
                                   f"{len(s.responses)} responses")
        try:
            cell = cell_from_key(b0["cell"])
        except (KeyError, TypeError) as e:
            raise SamplesError(f"{samples[0].where}: field 'evalkit.cell' is not a cell key ({e})") from None
        if cell.cell_id != b0["cell_id"]:
            raise SamplesError(f"{samples[0].where}: field 'evalkit.cell' does not reproduce cell id {b0['cell_id']}")
        if cell.task != task:
            raise SamplesError(f"{samples[0].where}: exported from task {cell.task!r}, imported as --task {task}")
        if model and model != cell.model:
            cell = replace(cell, model=model)
        return cell, get_format(cell.think_format), None, int(b0["seed"])
    if any(b is not None for b in blocks):
        s = next(s for s in samples if s.evalkit is None)
        raise SamplesError(f"{s.where}: field 'evalkit' missing while other lines of the file have it")
    kw0 = samples[0].gen_kwargs
    for s in samples[1:]:
        if s.gen_kwargs != kw0:
            raise SamplesError(f"{s.where}: field 'arguments' gen_kwargs differ from line {samples[0].line}; "
                               "one file must be one setting")

    try:
        spec = parse_gen_kwargs(kw0 or {}, default_max_gen_toks=256)
    except GenKwargsError as e:
        raise SamplesError(f"{samples[0].where}: field 'arguments' (gen_kwargs): {e}") from None
    k = {len(s.responses) for s in samples}
    if len(k) != 1:
        raise SamplesError(f"{path}: docs have different numbers of responses ({sorted(k)}); expected one "
                           "number of repeats per file")
    n = k.pop()
    fmt = spec.fmt if spec.thinking else NO_THINKING
    method = "parallel" if n > 1 else spec.method
    cell = Cell(task=task, model=model or "unknown", think_format=format_key(fmt),
                forcing=ForcingConfig(cap=spec.cap, n_ignore=spec.n_ignore, controls=spec.controls,
                                      min_tokens=spec.min_tokens),
                sampling=SamplingConfig(temperature=spec.temperature, top_p=spec.top_p,
                                        answer_max_tokens=spec.answer_max_tokens or spec.max_gen_toks),
                method=method, n_samples=n if method == "parallel" else 1,
                max_attempts=spec.max_attempts if method == "rejection" else 0)
    return cell, fmt, spec, spec.seed


@dataclass
class _Collected:
    """The rows of every file, before grading, and what matching the docs found."""

    rows: list[SampleRow] = field(default_factory=list)
    first_of_doc: list[tuple[int, bool | None]] = field(default_factory=list)  # (row, the file's exact_match)
    matched: int = 0
    unmatched: int = 0
    counts_kind: set[str] = field(default_factory=set)


def _plan_files(paths: list[Path], task: str, model: str | None, log: Callable[[str], None]) -> list[_FilePlan]:
    """Each file's cell and seed; files of one cell without a seed are numbered in order."""
    plans: list[_FilePlan] = []
    seeds_used: dict[str, set[int]] = {}
    for p in map(Path, paths):
        samples = read_samples(p)
        cell, fmt, spec, seed = _plan_file(p, samples, task, model or _model_from_results(p))
        used = seeds_used.setdefault(cell.cell_id, set())
        if seed is None:
            seed = 0
            while seed in used:
                seed += 1
        elif seed in used:
            raise LmEvalIOError(f"{p}: seed {seed} of cell {cell.label} is already imported from another file")
        used.add(seed)
        m = re.match(r"samples_(.+)_[^_]+\.jsonl$", p.name)
        plans.append(_FilePlan(p, samples, cell, fmt, spec, seed, m.group(1) if m else None))
        log(f"{p}: {len(samples)} docs -> {cell.label}, seed {seed}")
    return plans


def _doc_problem(fp: _FilePlan, s: LmEvalSample, matcher: _Matcher, got: _Collected) -> tuple[str, str]:
    """(problem id, gold) of a doc; counts whether it matched an evalkit problem."""
    if fp.spec is None:  # an evalkit export names its problem
        b = s.evalkit
        pid = str(b["problem_id"])
        gold = s.target if s.target is not None else b.get("gold")
        hit = pid in matcher.by_id
    else:
        prob = matcher.match(s.doc)
        hit = prob is not None
        pid = prob.problem_id if prob is not None else f"doc{s.doc_id}"
        gold = s.target if s.target is not None else matcher.gold(s.doc)
    got.matched += hit
    got.unmatched += not hit
    if gold is None or gold == "":
        raise SamplesError(f"{s.where}: missing field 'target' (and no answer in 'doc')")
    return pid, gold


def _collect(plans: list[_FilePlan], matcher: _Matcher, tok: Any, sweep: str) -> _Collected:
    got = _Collected()
    seen: dict[tuple, str] = {}
    for fp in plans:
        for s in fp.samples:
            pid, gold = _doc_problem(fp, s, matcher, got)
            for k, text in enumerate(s.responses):
                key = (fp.cell.cell_id, fp.seed, pid, k)
                if key in seen:
                    raise SamplesError(f"{s.where}: problem {pid} (seed {fp.seed}, response {k}) of cell "
                                       f"{fp.cell.label} is already imported from {seen[key]}")
                seen[key] = s.where
                if k == 0:
                    got.first_of_doc.append((len(got.rows), _exact_match(s.metrics)))
                got.rows.append(_row(fp, s, k, text, pid, gold, matcher.td.answer_type, tok, got.counts_kind, sweep))
    return got


def _replace_dir(tmp: Path, out: Path) -> None:
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / "x")
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _write_import(out: Path, rows: list[SampleRow], cells: dict[str, Cell], imported: dict[str, Any]) -> None:
    """Write the results directory in a temporary directory renamed at the end (nothing half-way)."""
    groups: dict[tuple[str, int], list[SampleRow]] = {}
    for r in rows:
        groups.setdefault((r.cell_id, r.seed), []).append(r)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.import-"))
    try:
        store = ResultStore(tmp)
        for (cid, seed), g in sorted(groups.items()):
            store.write_part(cid, seed, "lmeval", assign_classes(g), writer="lm-eval-import")
        store.write_cells({cid: {"label": c.label, **c.key} for cid, c in cells.items()})
        started = now()
        store.write_manifest({"sweep": out.name, "imported": imported, "grader_version": GRADER_VERSION,
                              "versions": versions(), "git_commit": git_commit(), "created": started,
                              "updated": started, "runs": []})
        _replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def import_samples(paths: list[Path], task: str, out: Path, *, model: str | None = None, tokenizer: str | None = None,
                   force: bool = False, workers: int = 1, log: Callable[[str], None] = print) -> ImportResult:
    """Read, regrade and store lm-eval samples as ``out`` (an evalkit results directory)."""
    out = Path(out)
    if out.exists() and not force:
        raise LmEvalIOError(f"{out} exists; choose another --out or pass --force to replace it")
    if not paths:
        raise LmEvalIOError("give at least one samples file")
    try:
        matcher = _Matcher(task)
    except TaskError as e:
        raise LmEvalIOError(str(e)) from None
    tok = load_tokenizer(tokenizer) if tokenizer else None
    msgs = [f"task {task}: problems unavailable ({matcher.why}); docs keep lm-eval ids"] if matcher.why else []
    plans = _plan_files(paths, task, model, log)
    got = _collect(plans, matcher, tok, out.name)
    items = [Item(r.answer_text, r.gold, r.answer_type) for r in got.rows]
    unique = list(dict.fromkeys(items))
    verdicts, hits = grade_cached(unique, GraderConfig(), workers=workers)
    verdict = dict(zip(unique, verdicts, strict=True))
    rows = [r.with_grade(verdict[it]) for r, it in zip(got.rows, items, strict=True)]
    compared = [(rows[i].correct, em) for i, em in got.first_of_doc if em is not None]
    agree = sum(a == b for a, b in compared)
    cells = {fp.cell.cell_id: fp.cell for fp in plans}
    kind = next(iter(got.counts_kind)) if len(got.counts_kind) == 1 else "mixed"
    _write_import(out, rows, cells, {
        "format": "lm-eval samples", "task": task, "tokenizer": tokenizer, "token_counts": kind,
        "files": [{"path": str(fp.path), "sha256": sha256_file(fp.path), "docs": len(fp.samples),
                   "lm_eval_task": fp.lm_eval_task, "cell_id": fp.cell.cell_id, "seed": fp.seed,
                   "gen_kwargs": fp.samples[0].gen_kwargs} for fp in plans],
        "matched_docs": got.matched, "unmatched_docs": got.unmatched,
        "exact_match_agreement": {"agree": agree, "compared": len(compared)},
    })
    if got.unmatched:
        msgs.append(f"{got.unmatched} docs matched no {task} problem by id or text; their problem ids are doc<doc_id>")
    return ImportResult(out, len(rows), {cid: c.label for cid, c in cells.items()}, got.matched, got.unmatched,
                        agree, len(compared), kind, msgs + [f"graded {len(unique)} distinct answers ({hits} cached)"])


def _exact_row(fp: _FilePlan, s: LmEvalSample, k: int, text: str) -> dict[str, Any]:
    """The fields an evalkit export carries for response ``k``: restored exactly."""
    st = s.evalkit["samples"][k]
    fmt = fp.fmt
    if not text.startswith(fmt.start):
        raise SamplesError(f"{s.where}: response {k} does not begin with the think start {fmt.start!r}")
    body = text[len(fmt.start):]
    thinking = st["thinking_text"] if st.get("thinking_text") is not None else body[:st["thinking_chars"]]
    answer = st["answer_text"] if st.get("answer_text") is not None else body[len(body) - st["answer_chars"]:]
    return {**{fld: st.get(fld) for fld in EXACT_FIELDS}, "response": body, "thinking_text": thinking,
            "answer_text": answer}


def _recounted_row(fp: _FilePlan, s: LmEvalSample, text: str, tok: Any, prov: dict[str, Any]) -> dict[str, Any]:
    """The fields of a plain lm-eval response: split at the delimiter, tokens recounted if a
    tokenizer is given, the rest unknown."""
    sp = split_response(text, fp.fmt)
    spec = fp.spec
    assert spec is not None
    prov["lm_eval_import"].update(gen_kwargs=s.gen_kwargs, metrics=s.metrics, think_start_present=sp.started,
                                  cap="auto" if spec.thinking and spec.cap is None else fp.cell.forcing.cap)
    counts: dict[str, Any] = dict.fromkeys(("prompt_tokens", "thinking_tokens", "forced_tokens", "answer_tokens"))
    if tok is not None:
        enc = tok.encode
        if s.context is not None:
            counts["prompt_tokens"] = len(enc(s.context + (fp.fmt.start if spec.thinking else "")))
        counts["thinking_tokens"] = len(enc(sp.thinking_text))
        counts["forced_tokens"] = (len(enc(fp.fmt.delimiter)) + (len(enc(fp.fmt.answer_prefix)) if sp.forced_end else 0)
                                   if sp.thinking_end else 0)
        counts["answer_tokens"] = len(enc(sp.generated_answer))
        prov["lm_eval_import"]["token_counts"] = "recounted from text"
    elif not spec.thinking:
        counts["thinking_tokens"] = counts["forced_tokens"] = 0
    return {**counts, "control_tokens": None if spec.n_ignore else 0, "n_ignored": None if spec.n_ignore else 0,
            "forced_end": sp.forced_end, "thinking_end": sp.thinking_end,
            "attempts": None if fp.cell.method == "rejection" else 1, "response": sp.response,
            "thinking_text": sp.thinking_text, "answer_text": sp.answer_text}


def _row(fp: _FilePlan, s: LmEvalSample, k: int, text: str, pid: str, gold: str, answer_type: str,
         tok: Any, counts_kind: set[str], sweep: str) -> SampleRow:
    prov: dict[str, Any] = {"lm_eval_import": {"file": str(fp.path), "line": s.line, "doc_id": s.doc_id,
                                               "filter": s.filter, "from_filtered_resps": s.from_filtered}}
    base = {"sweep": sweep, **SampleRow.cell_fields(fp.cell), "problem_id": pid, "seed": fp.seed, "sample": k,
            "gold": gold, "answer_type": answer_type}
    if fp.spec is None:  # evalkit export: exact
        counts_kind.add("exact")
        orig = s.evalkit["samples"][k].get("provenance") or {}
        return SampleRow(**base, **_exact_row(fp, s, k, text), provenance=json.dumps({**orig, **prov}, sort_keys=True))
    counts_kind.add("recounted" if tok is not None else "unknown")
    fields = _recounted_row(fp, s, text, tok, prov)
    return SampleRow(**base, **fields, provenance=json.dumps(prov, sort_keys=True, default=str))


# -- export -----------------------------------------------------------------------------------------

def _problem_index(task: str, seed: int) -> dict[str, tuple[int, Problem]]:
    """Problem id -> (doc id, problem) of a task's problems for a seed (empty if its data is unavailable)."""
    try:
        probs = load_problems(task, run_seed=seed)
    except TaskError:
        probs = []
    return {p.problem_id: (i, p) for i, p in enumerate(probs)}


def _sample_stats(r: SampleRow) -> dict[str, Any]:
    """What the export's ``evalkit`` block keeps of one sample (texts as offsets where they can be)."""
    st: dict[str, Any] = {fld: getattr(r, fld) for fld in EXACT_FIELDS}
    st["sample"] = r.sample
    if r.response.startswith(r.thinking_text):
        st["thinking_chars"] = len(r.thinking_text)
    else:
        st["thinking_text"] = r.thinking_text
    if r.response.endswith(r.answer_text):
        st["answer_chars"] = len(r.answer_text)
    else:
        st["answer_text"] = r.answer_text
    st["provenance"] = json.loads(r.provenance) if r.provenance else {}
    return st


def _export_unit(cid: str, key: dict[str, Any], seed: int, rows: list[SampleRow],
                 known: dict[str, tuple[int, Problem]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The lm-eval records of one (cell, seed), one per problem, and its gen_kwargs."""
    cell = Cell.from_key(key)
    fmt = get_format(cell.think_format)
    gen_kwargs = LmEvalGen.from_cell(cell, seed=seed).gen_kwargs()
    by_problem: dict[str, list[SampleRow]] = {}
    for r in rows:
        by_problem.setdefault(r.problem_id, []).append(r)
    order = sorted(by_problem, key=lambda p: (known[p][0] if p in known else len(known), p))
    records = []
    for n, pid in enumerate(order):
        group = sorted(by_problem[pid], key=lambda r: r.sample)
        prob = known.get(pid, (None, None))[1]
        gold = group[0].gold
        block = {"version": EXPORT_VERSION, "cell_id": cid, "cell": key, "seed": seed, "problem_id": pid,
                 "gold": gold, "answer_type": group[0].answer_type, "samples": [_sample_stats(r) for r in group]}
        records.append(sample_record(
            doc_id=known[pid][0] if pid in known else n,
            doc={"problem_id": pid, "problem": prob.prompt if prob else None, "answer": gold}, target=gold,
            context=prob.prompt if prob else "", gen_kwargs=gen_kwargs,
            responses=[fmt.start + r.response for r in group],
            metrics={"exact_match": float(bool(group[0].correct))}, evalkit=block))
    return records, gen_kwargs


def export_samples(results_dir: Path, out: Path | None = None) -> list[Path]:
    """One lm-eval samples file per (cell, seed) of a results directory; returns the files written."""
    store = ResultStore(results_dir)
    if not store.exists():
        raise LmEvalIOError(f"{results_dir}: " + ("not a results directory (no manifest.json)"
                                                  if Path(results_dir).exists() else "does not exist"))
    cells = store.read_cells()
    out = Path(out) if out is not None else Path(results_dir) / "lm_eval"
    by_unit: dict[tuple[str, int], list[SampleRow]] = {}
    for r in store.read_records():
        by_unit.setdefault((r.cell_id, int(r.seed)), []).append(r)
    if not by_unit:
        raise LmEvalIOError(f"{results_dir}: no samples to export")
    written: list[Path] = []
    index: dict[str, Any] = {}
    problems: dict[tuple[str, int], dict[str, tuple[int, Problem]]] = {}
    for (cid, seed), rows in sorted(by_unit.items()):
        if cid not in cells:
            raise LmEvalIOError(f"{results_dir}: cell {cid} has samples but no entry in cells.json")
        key = {k: v for k, v in cells[cid].items() if k != "label"}
        task = key["task"]
        if (task, seed) not in problems:
            problems[(task, seed)] = _problem_index(task, seed)
        records, gen_kwargs = _export_unit(cid, key, seed, rows, problems[(task, seed)])
        path = out / f"samples_{task}_{cid}-seed{seed}.jsonl"
        atomic_write_bytes(path, dumps_samples(records))
        written.append(path)
        index[path.name] = {"cell_id": cid, "label": cells[cid].get("label"), "seed": seed, "docs": len(records),
                            "gen_kwargs": gen_kwargs}
    atomic_write_json(out / "index.json", index)
    return written
