"""Task definitions (``tasks/*.yaml``) and the datasets behind them.

A task YAML names its data file (vendored under ``tasks/data`` with its sha256, verified on every
load), the prompt template, the answer type and grader settings. GPQA-Diamond is gated: it is never
vendored and is read only from a user-supplied CSV (``data_path`` in the spec or ``EVALKIT_GPQA_CSV``):
evalkit never downloads it. Task files are found in ``EVALKIT_TASKS_DIR``, the working directory's
``tasks/`` and the shipped ``tasks/``, in that order (:mod:`evalkit.spec.shipped`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import yaml

from evalkit.errors import EvalkitError
from evalkit.records import ANSWER_TYPES, AnswerType, Problem, stable_hash
from evalkit.spec.shipped import TASKS_ENV, task_dirs

GPQA_ENV = "EVALKIT_GPQA_CSV"
GPQA_REQUIRED_COLUMNS = (
    "Question",
    "Correct Answer",
    "Incorrect Answer 1",
    "Incorrect Answer 2",
    "Incorrect Answer 3",
    "Record ID",
)
LETTERS = "ABCDE"


class TaskError(EvalkitError, ValueError):
    """A task definition or its data is unusable; the message says what and where."""


@dataclass(frozen=True)
class TaskDef:
    name: str
    description: str
    answer_type: AnswerType
    prompt_template: str
    source: str  # "jsonl" or "gpqa_csv"
    path: Path | None
    sha256: str | None
    id_field: str = "id"
    problem_field: str = "problem"
    answer_field: str = "answer"
    expected_count: int | None = None
    grader: dict[str, Any] = field(default_factory=dict, hash=False)
    filter_fields: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other names ``evalkit grade`` accepts in a record's ``task``

    @property
    def vendored(self) -> bool:
        """Its data ships with evalkit (a JSONL file, sha256-checked); gated data (GPQA) is the user's own."""
        return self.source == "jsonl"


def _answer_type(path: Path, raw: dict[str, Any]) -> AnswerType:
    value = raw["answer_type"]
    if value not in ANSWER_TYPES:
        raise TaskError(f"{path}: answer_type {value!r} is not one of {', '.join(ANSWER_TYPES)}")
    return cast(AnswerType, value)


def _read_task_yaml(path: Path) -> TaskDef:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise TaskError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(raw, dict):
        raise TaskError(f"{path}: a task file must be a mapping")
    try:
        data = raw["data"]
        src = data.get("source", "jsonl")
        return TaskDef(
            name=raw["name"],
            description=raw.get("description", ""),
            answer_type=_answer_type(path, raw),
            prompt_template=raw["prompt_template"],
            source=src,
            path=(path.parent / data["file"]) if data.get("file") else None,
            sha256=data.get("sha256"),
            id_field=data.get("id_field", "id"),
            problem_field=data.get("problem_field", "problem"),
            answer_field=data.get("answer_field", "answer"),
            expected_count=data.get("count"),
            grader=raw.get("grader", {}) or {},
            filter_fields=tuple(raw.get("filter_fields", ())),
            aliases=tuple(raw.get("aliases", ())),
        )
    except KeyError as e:
        raise TaskError(f"{path}: missing key {e.args[0]!r}") from None


@lru_cache(maxsize=8)
def _registry(roots: tuple[Path, ...]) -> dict[str, TaskDef]:
    out: dict[str, TaskDef] = {}
    for root in reversed(roots):  # a folder earlier in the order wins a name
        for p in sorted(root.glob("*.yaml")):
            t = _read_task_yaml(p)
            out[t.name] = t
    return out


def registry() -> dict[str, TaskDef]:
    """The tasks by name, from :func:`evalkit.spec.shipped.task_dirs`: ``EVALKIT_TASKS_DIR``, then the working
    directory's ``tasks/`` (a user's own tasks, which win a name), then the shipped ones."""
    env = os.environ.get(TASKS_ENV)
    if env and not Path(env).is_dir():
        raise TaskError(f"{TASKS_ENV}={env}: no such folder")
    return _registry(tuple(task_dirs()))


def get_task(name: str) -> TaskDef:
    reg = registry()
    if name not in reg:
        raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(sorted(reg))}")
    return reg[name]


def answer_types() -> dict[str, AnswerType]:
    """What a record's ``task`` may name in a file to grade (``evalkit grade``), and the answer type each
    grades as: every task (from its YAML), each task's aliases, and the answer types themselves."""
    out: dict[str, AnswerType] = {}
    for td in registry().values():
        out[td.name] = td.answer_type
        out.update(dict.fromkeys(td.aliases, td.answer_type))
    out.update({t: t for t in ANSWER_TYPES})
    return out


def benchmark_names(vendored_only: bool = False) -> list[str]:
    """The tasks, those with vendored data first (by name), then the gated ones; ``vendored_only``: only the
    former (what runs without a user-supplied file)."""
    tasks = sorted(registry().values(), key=lambda td: (not td.vendored, td.name))
    return [td.name for td in tasks if td.vendored or not vendored_only]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(task: TaskDef) -> Path:
    assert task.path is not None
    if not task.path.exists():
        raise TaskError(f"task {task.name}: data file {task.path.name} is missing")
    if task.sha256:
        got = sha256_file(task.path)
        if got != task.sha256:
            raise TaskError(
                f"task {task.name}: sha256 of {task.path.name} is {got}, expected {task.sha256} "
                "(the vendored data was modified; see tasks/data/PROVENANCE.md)"
            )
    return task.path


def _render(task: TaskDef, problem_text: str, extra: dict[str, Any] | None = None) -> str:
    return task.prompt_template.format(problem=problem_text.strip(), **(extra or {}))


def _jsonl_rows(task: TaskDef) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line index, row) of a vendored task's JSONL file, after its sha256 check."""
    with open(_verify(task)) as f:
        for i, line in enumerate(f):
            if line.strip():
                yield i, json.loads(line)


def _load_jsonl(task: TaskDef) -> list[Problem]:
    out = []
    for i, row in _jsonl_rows(task):
        pid = str(row.get(task.id_field, i))
        meta = {k: row[k] for k in task.filter_fields if k in row}
        out.append(
            Problem(
                task=task.name,
                problem_id=pid,
                prompt=_render(task, row[task.problem_field]),
                gold=str(row[task.answer_field]),
                answer_type=task.answer_type,
                meta=meta,
            )
        )
    if task.expected_count is not None and len(out) != task.expected_count:
        raise TaskError(f"task {task.name}: expected {task.expected_count} rows, found {len(out)}")
    return out


def gpqa_permutation(record_id: str, run_seed: int, n: int = 4) -> list[int]:
    """Order of the choices for one question: seeded by (Record ID, run seed) only.

    Index 0 of the base list is the correct answer. Independent of row order and of any global RNG.
    """
    rng = random.Random(int(stable_hash({"record_id": record_id, "seed": run_seed}, 16), 16))
    perm = list(range(n))
    rng.shuffle(perm)
    return perm


def _gpqa_csv_path(data_path: str | None) -> Path:
    p = data_path or os.environ.get(GPQA_ENV)
    if p:
        path = Path(p).expanduser()
        if not path.exists():
            raise TaskError(f"gpqa_diamond: CSV {path} does not exist")
        return path
    raise TaskError(
        "gpqa_diamond: no data. GPQA is gated and never stored (nor downloaded) by evalkit; pass the "
        f"official gpqa_diamond.csv as `data_path:` under the task in the spec, or set {GPQA_ENV}=/path/to/"
        "gpqa_diamond.csv (format: the dataset's CSV with Question, Correct Answer, Incorrect Answer 1-3, Record ID)"
    )


def load_gpqa_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in GPQA_REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise TaskError(f"gpqa_diamond: {path.name} lacks columns {missing}")
        return list(reader)


def _load_gpqa(task: TaskDef, data_path: str | None, run_seed: int) -> list[Problem]:
    rows = load_gpqa_rows(_gpqa_csv_path(data_path))
    out = []
    for row in rows:
        rid = row["Record ID"].strip()
        base = [row["Correct Answer"]] + [row[f"Incorrect Answer {i}"] for i in (1, 2, 3)]
        base = [b.strip() for b in base]
        perm = gpqa_permutation(rid, run_seed)
        choices = [base[j] for j in perm]
        gold = LETTERS[perm.index(0)]
        # Only these fields enter the prompt: the canary column never does.
        options = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices))
        out.append(
            Problem(
                task=task.name,
                problem_id=rid,
                prompt=_render(task, row["Question"], {"options": options}),
                gold=gold,
                answer_type="mc",
                meta={"permutation": perm, "domain": row.get("High-level domain", "")},
            )
        )
    return out


def load_problems(
    name: str,
    *,
    data_path: str | None = None,
    run_seed: int = 0,
    where: dict[str, list[Any]] | None = None,
    limit: int | None = None,
) -> list[Problem]:
    """Problems of a task, filtered by ``where`` (field -> allowed values) and cut to ``limit``."""
    task = get_task(name)
    probs = _load_gpqa(task, data_path, run_seed) if task.source == "gpqa_csv" else _load_jsonl(task)
    if where:
        for key in where:
            if key not in task.filter_fields:
                raise TaskError(
                    f"task {name}: cannot filter on {key!r}; filterable fields: {list(task.filter_fields)}"
                )
        probs = [p for p in probs if all(p.meta.get(k) in v for k, v in where.items())]
    if limit is not None:
        probs = probs[:limit]
    return probs


def data_status(task: TaskDef) -> tuple[str, int | None]:
    """(status, count) for ``evalkit tasks``: ok / sha256 mismatch / missing / user-supplied."""
    if task.source == "gpqa_csv":
        p = os.environ.get(GPQA_ENV)
        if p and Path(p).exists():
            try:
                return f"user CSV ({GPQA_ENV})", len(load_gpqa_rows(Path(p)))
            except TaskError as e:
                return f"bad CSV: {e}", None
        return f"gated: set {GPQA_ENV} or data_path", None
    try:
        return "ok (sha256 verified)", len(_load_jsonl(task))
    except TaskError as e:
        return f"error: {e}", None


@dataclass(frozen=True)
class QuestionText:
    """A benchmark problem's statement as it appears in the data: no prompt template, no choices.

    ``answer`` is the final answer as text (GPQA: the correct choice's text, not a shuffled letter).
    Used by the contamination audit, which compares statements rather than prompts."""

    task: str
    problem_id: str
    text: str
    answer: str
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def load_questions(name: str, *, data_path: str | None = None) -> list[QuestionText]:
    """Statements and answers of every problem of a task (vendored data sha256-verified; GPQA from
    the user's CSV only: ``data_path`` or ``EVALKIT_GPQA_CSV``, never the hub, never stored)."""
    task = get_task(name)
    if task.source == "gpqa_csv":
        if not (data_path or os.environ.get(GPQA_ENV)):
            raise TaskError(f"{name}: no data. GPQA is gated and never stored in this repository; give the "
                            f"official gpqa_diamond.csv as a path or set {GPQA_ENV}")
        rows = load_gpqa_rows(_gpqa_csv_path(data_path))
        return [QuestionText(task.name, r["Record ID"].strip(), r["Question"].strip(), r["Correct Answer"].strip(),
                             {"domain": r.get("High-level domain", "")}) for r in rows]
    out = []
    for i, row in _jsonl_rows(task):
        out.append(QuestionText(task.name, str(row.get(task.id_field, i)), str(row[task.problem_field]).strip(),
                                str(row[task.answer_field]),
                                {k: row[k] for k in ("subject", "level", *task.filter_fields) if k in row}))
    return out
