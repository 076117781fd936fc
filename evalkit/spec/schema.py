"""The sweep spec grammar (pydantic models; unknown keys are errors)."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from evalkit.records import UnclosedThinking
from evalkit.spec.errors import format_loc
from evalkit.spec.tasks import registry

Cap = Annotated[int, Field(ge=1)]  # a thinking-token cap

# A sweep's name is a directory under the results root: a slug, never a path.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_CELLS = 10_000  # more cells (or seeds) than this is a typo, not a sweep


def check_name(v: str) -> str:
    if not SAFE_NAME.match(v) or ".." in v:
        raise ValueError(f"{v!r} is not a safe name: letters, digits, '.', '_' and '-' only (at most 100, "
                         "no '..'), so results stay inside the results root")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """A model: a pack name (``evalkit models list``), a local directory, or a hub id."""

    id: str
    engine: dict[str, Any] = Field(default_factory=dict)  # extra vllm.LLM arguments (override defaults)
    flops_config: str | None = None  # FLOPs model: shipped config name or config.json (default: the model's)


class TaskEntry(_Strict):
    name: str
    where: dict[str, list[Any]] = Field(default_factory=dict)  # field -> allowed values
    limit: int | None = Field(default=None, ge=1)
    data_path: str | None = None  # for gated data (gpqa_diamond)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        reg = registry()
        if v not in reg:
            raise ValueError(f"unknown task {v!r}; known tasks: {', '.join(sorted(reg))}")
        return v

    @model_validator(mode="after")
    def _filterable(self) -> TaskEntry:
        allowed = registry()[self.name].filter_fields
        for k in self.where:
            if k not in allowed:
                raise ValueError(f"task {self.name} cannot filter on {k!r}; filterable: {list(allowed)}")
        return self


class Sampling(_Strict):
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    answer_max_tokens: int = Field(default=512, ge=1)


class Sequential(_Strict):
    """Budget forcing grid. ``caps``: thinking caps (null = no cap). ``ignores``: how many times the
    end-of-thinking delimiter is replaced by a control. ``controls``: each entry is one control
    string, or a list of strings cycled within one sample. ``min_tokens``: delimiter suppressed until
    this many thinking tokens."""

    caps: list[Cap | None] = Field(default_factory=lambda: [None], min_length=1)
    ignores: list[int] = Field(default_factory=lambda: [0], min_length=1)
    controls: list[str | list[str]] = Field(default_factory=lambda: ["Wait"], min_length=1)
    min_tokens: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("ignores", "min_tokens")
    @classmethod
    def _nonneg(cls, v: list[int]) -> list[int]:
        for c in v:
            if c < 0:
                raise ValueError(f"must be >= 0, got {c}")
        return v

    @field_validator("controls")
    @classmethod
    def _controls(cls, v: list[str | list[str]]) -> list[str | list[str]]:
        for c in v:
            items = [c] if isinstance(c, str) else c
            if not items or any(not s for s in items):
                raise ValueError("a control string must be non-empty")
        return v


class Parallel(_Strict):
    """Parallel sampling: ``n`` samples per (problem, seed) at ``temperature``, each thinking up to a
    cap (null: none) in the sweep's think format; scored by majority vote over equivalence classes
    of answers (maj@k for every k <= n, computed exactly) and pass@k."""

    n: int = Field(ge=1)
    caps: list[Cap | None] = Field(default_factory=lambda: [None], min_length=1)
    temperature: float | None = Field(default=None, gt=0.0)  # default: sampling.temperature
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    verifier: str | None = None  # "module:function" scoring samples for best-of-n (evalkit.grade.verifiers)

    @field_validator("verifier")
    @classmethod
    def _verifier(cls, v: str | None) -> str | None:
        if v is not None:
            mod, _, fn = v.partition(":")
            if not fn:
                raise ValueError(f"verifier {v!r}: expected 'module:function'")
            try:
                found = importlib.util.find_spec(mod) is not None
            except ModuleNotFoundError:
                found = False
            if not found:
                raise ValueError(f"verifier {v!r}: module {mod!r} not found")
        return v


class Rejection(_Strict):
    """s1's rejection sampling: for each cap, resample until the thinking ends within the cap."""

    caps: list[Cap] = Field(min_length=1)
    max_attempts: int = Field(default=16, ge=1)


class CustomThinkFormat(_Strict):
    """A think format of one's own (see evalkit.generate.formats.ThinkFormat)."""

    name: str = "custom"
    start: str
    end_tokens: list[str] = Field(default_factory=list)  # each must be one token of the model's tokenizer
    delimiter: str
    answer_prefix: str = "Final Answer:"
    eos_ends_thinking: bool = True
    prefix_on_natural_end: bool = False

    @model_validator(mode="after")
    def _some_end(self) -> CustomThinkFormat:
        if not self.end_tokens and not self.eos_ends_thinking:
            raise ValueError("a think format needs end_tokens or eos_ends_thinking: true")
        return self

    def as_cell_value(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True)


class Executor(_Strict):
    """Where batches run. A batch is (model, seed, task, chunk of ``chunk_size`` problems) x every cell
    missing samples there; it is the unit of resumption, retry and Slurm array tasks."""

    kind: Literal["local", "slurm"] = "local"
    chunk_size: int = Field(default=64, ge=1)
    retries: int = Field(default=1, ge=0)  # extra tries of a failing batch
    # slurm (submitit): one job array over batches, each task loading the engine once
    partition: str | None = None
    gpus_per_node: int = Field(default=1, ge=0)
    cpus_per_task: int = Field(default=8, ge=1)
    mem_gb: int = Field(default=64, ge=1)
    timeout_min: int = Field(default=240, ge=1)
    array_parallelism: int = Field(default=16, ge=1)
    batches_per_task: int = Field(default=1, ge=1)
    qos: str | None = Field(default=None, min_length=1)
    account: str | None = Field(default=None, min_length=1)
    constraint: str | None = Field(default=None, min_length=1)
    sbatch_lines: list[str] = Field(default_factory=list)  # extra "#SBATCH ..." directives, verbatim
    requeue: bool = True  # a task that hits its time limit or is preempted is requeued and resumes from its parts
    max_requeues: int = Field(default=3, ge=0)

    @field_validator("sbatch_lines")
    @classmethod
    def _sbatch(cls, v: list[str]) -> list[str]:
        for line in v:
            if not line.startswith("#SBATCH --") or "\n" in line or len(line.split()) > 3:
                raise ValueError(f"{line!r}: each entry must be one '#SBATCH --option=value' (or '--flag') line")
        return v


class Grader(_Strict):
    unclosed_thinking: UnclosedThinking = "no_answer"
    # a letter glued to a number is a unit (5m = 5 metres), for tasks whose answers carry units; by default
    # it is a variable (5m is 5 times m), as in MATH-style answers
    unit_letters: bool = False
    timeout_s: float = Field(default=5.0, gt=0)


class SweepSpec(_Strict):
    name: str | None = None
    description: str = ""
    model: str | ModelEntry | None = None
    models: list[str | ModelEntry] = Field(default_factory=list)
    tasks: list[str | TaskEntry] = Field(min_length=1)
    think_format: Literal["s1", "think_tags", "plain"] | CustomThinkFormat = "s1"
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    sampling: Sampling = Field(default_factory=Sampling)
    sequential: Sequential | None = None  # default: one unforced cell, unless only `parallel` is given
    parallel: Parallel | None = None
    rejection: Rejection | None = None
    grader: Grader = Field(default_factory=Grader)
    executor: Executor = Field(default_factory=Executor)
    reuse: bool = True
    _locate: Callable[[tuple], str] | None = PrivateAttr(default=None)  # key path -> "file:line: key"

    def where(self, *loc: Any) -> str:  # noqa: ANN401
        """``file:line: key`` of a key path in the YAML this spec came from (just the key otherwise)."""
        return self._locate(loc) if self._locate is not None else format_loc(loc)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str | None) -> str | None:
        return None if v is None else check_name(v)

    @field_validator("seeds")
    @classmethod
    def _not_too_many_seeds(cls, v: list[int]) -> list[int]:
        if len(v) > MAX_CELLS:
            raise ValueError(f"{len(v):,} seeds: more than {MAX_CELLS:,} is not meant (a range written out?)")
        return v

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_strings(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"name": t} if isinstance(t, str) else t for t in v]
        return v

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        return v

    @model_validator(mode="after")
    def _one_model_form(self) -> SweepSpec:
        if (self.model is None) == (not self.models):
            raise ValueError("give exactly one of `model:` (one model) or `models:` (a list)")
        if self.parallel is not None and self.parallel.n > 1:
            t = self.parallel.temperature if self.parallel.temperature is not None else self.sampling.temperature
            if t <= 0:
                raise ValueError("parallel sampling with n > 1 needs a temperature > 0 (greedy samples are identical)")
        return self

    def sequential_family(self) -> Sequential | None:
        if self.sequential is not None:
            return self.sequential
        return Sequential() if self.parallel is None and self.rejection is None else None

    def think_format_value(self) -> str:
        tf = self.think_format
        return tf if isinstance(tf, str) else tf.as_cell_value()

    def model_entries(self) -> list[ModelEntry]:
        raw = [self.model] if self.model is not None else list(self.models)
        return [ModelEntry(id=m) if isinstance(m, str) else m for m in raw]

    def task_entries(self) -> list[TaskEntry]:
        return [t if isinstance(t, TaskEntry) else TaskEntry(name=t) for t in self.tasks]
