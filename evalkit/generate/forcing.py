"""Budget forcing (s1's sequential test-time scaling), token-exact and batched, on trajectory trees.

For one (problem, seed, sampling, think format, min-tokens, control strings) the harness grows ONE
thinking trajectory up to the largest cap with the most ignores. Every smaller cap or fewer ignores
is a branch of it: its thinking is a prefix of the trajectory, derived exactly (see
:func:`branch_of`), so the only new work per cell is its answer phase.

What "token-exact" means. Every generation call's seed is a function of (seed, task, problem, round
index) only, never of the cap or the ignore count, and vLLM's per-request seeded sampling has the
prefix property (a ``max_tokens=64`` request yields the first 64 tokens of the ``max_tokens=128``
one). A branch therefore sends the engine exactly the requests an independent run with cap ``c`` and
``k`` ignores sends (same prompt ids, same seeds), only truncated; evalkit guarantees that, on every
engine (tested on the scripted engine exhaustively). Whether the engine then returns the same tokens
depends on whether its kernels are batch-invariant, because a branch and an independent run share
engine steps with different requests. Where they part, it is at a near tie that the recorded
log-probabilities explain (same context, same seeded noise; :mod:`evalkit.generate.exactness`), and
everything after it is a different draw from the same distribution. So, on every engine: each cell's
marginal distribution is that of an independent run, and cells of one tree share their random numbers
up to any such near tie, which makes paired comparisons between them sharper (common random numbers).
Which engines, dtypes and executors are batch-invariant, as measured by
``python benchmarks/engine_exactness.py``: ``docs/budget-forcing.md`` and ``docs/design/engine.md``; the
machine is in every results manifest (``hardware``).

Scheduling: the strategy is event-driven. Each finished request immediately yields its follow-ups
(the trajectory's next segment after a control string; the answer of every branch the trajectory has
just determined, while the trajectory itself grows on), and an engine with continuous batching
(:meth:`VLLMEngine.stream`) starts them at its next step; other engines run in rounds. Identical
requests run once. Results do not depend on the order requests finish in (tested).

Budget arithmetic (all in tokens of the model's tokenizer): the thinking count includes injected
control strings; a control is injected only if it and at least one more generated token fit under
the cap, otherwise the model's end-of-thinking attempt is honoured. The remaining budget never goes
negative. On reaching the cap, the harness appends the format's delimiter and the answer prefix.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from evalkit.errors import EvalkitError
from evalkit.generate.engine import Engine, GenRequest, GenResult, stream_ticking
from evalkit.generate.formats import ThinkFormat, get_format
from evalkit.records import Cell, Generation, Problem, ThinkingEnd


class BudgetError(EvalkitError, ValueError):
    """A request cannot fit the model's context; raised before any generation."""


def derive_seed(seed: int, task: str, problem_id: str, phase: str, sample: int = 0) -> int:
    """Per-request seed: a function of (seed, task, problem, sample, phase), never of cap or ignores.
    Sample 0 of a parallel family is the sequential trajectory of the same seed."""
    tag = f"{seed}|{task}|{problem_id}|{phase}" + (f"|sample{sample}" if sample else "")
    h = hashlib.sha256(tag.encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class TreeStatus:
    """Where a run of :class:`TreeScheduler` stands (for progress displays)."""

    trajectories_done: int
    trajectories: int
    answers_done: int
    answers: int  # one per job
    tokens: int  # generated so far (finished requests, plus an estimate of those in flight)
    budget: int  # upper bound on the run's generated tokens: every tree's cap plus every answer budget
    elapsed_s: float


@dataclass(frozen=True)
class Job:
    cell: Cell
    problem: Problem
    seed: int
    sample: int = 0  # index within a parallel family (0 for sequential cells)


@dataclass
class Attempt:
    """The model tried to end thinking when the trajectory held ``at`` thinking tokens."""

    at: int
    control_len: int | None  # tokens of the control injected here; None if the attempt was honoured
    eos: bool = False  # the attempt was an end-of-sequence token, not the format's end-of-thinking token


@dataclass
class Trajectory:
    """One tree: a thinking trajectory grown to the tree's largest cap and ignore count, with the
    settings it is grown with (shared by every job of the tree) and the jobs still waiting on it."""

    prompt_ids: tuple[int, ...]
    seed: int
    task: str
    problem_id: str
    cap: int  # effective cap of the whole tree
    max_ignores: int
    min_tokens: int
    controls: tuple[str, ...]
    think_format: str  # name of the think format (the same for every job of the tree)
    temperature: float
    top_p: float
    sample: int = 0
    waiting: list[int] = field(default_factory=list)  # jobs whose branch the trajectory has not determined yet
    rejected: list[int] = field(default_factory=list)  # rejection jobs whose attempt here did not fit
    thinking: list[int] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    done: bool = False
    end: ThinkingEnd | Literal[""] = ""  # how the trajectory ended ("" while it grows)
    oov_ids: int = 0
    rounds: int = 0
    wall_s: float = 0.0
    round_walls: list[float] = field(default_factory=list)
    suppressed_at: list[int] | None = field(default_factory=list)  # positions of suppressed end attempts

    @property
    def ignores(self) -> int:
        return sum(1 for a in self.attempts if a.control_len is not None)


@dataclass(frozen=True)
class Branch:
    length: int  # thinking tokens (controls included)
    forced: bool  # ended by the cap (or an engine limit), not by the model
    n_ignored: int
    control_tokens: int
    eos: bool = False  # ended by the model's end-of-sequence token: the answer must be elicited


def _branch_if_ready(t: Trajectory, cap: int, k: int) -> Branch | None:
    """:func:`branch_of` on a trajectory that may still be growing: the branch once the trajectory
    determines it (an end attempt before ``cap`` that the branch honours, or ``cap`` tokens reached,
    or the trajectory done), else None. Attempts are recorded when a segment ends, before anything
    asks, so a recorded prefix of ``cap`` tokens can no longer change."""
    ignored = ctl_tokens = 0
    for a in t.attempts:
        if a.at >= cap:
            break
        if ignored < k and a.control_len is not None and a.at + a.control_len + 1 <= cap:
            ignored += 1
            ctl_tokens += a.control_len
            continue
        return Branch(length=a.at, forced=False, n_ignored=ignored, control_tokens=ctl_tokens, eos=a.eos)
    if len(t.thinking) >= cap or t.done:
        return Branch(length=min(cap, len(t.thinking)), forced=True, n_ignored=ignored, control_tokens=ctl_tokens)
    return None


def branch_of(t: Trajectory, cap: int, k: int) -> Branch:
    """The thinking an independent run with cap ``cap`` (<= t.cap) and ``k`` (<= t.max_ignores)
    ignores would have produced, derived from the finished trajectory ``t``."""
    assert cap <= t.cap and k <= t.max_ignores and t.done
    b = _branch_if_ready(t, cap, k)
    assert b is not None
    return b


@dataclass
class _Prepared:
    fmt: ThinkFormat
    stop_ids: tuple[int, ...]
    eos_ids: tuple[int, ...]
    delim_ids: list[int]
    prefix_ids: list[int]
    vocab: int  # the tokenizer's vocabulary size (ids at or past it are out of the vocabulary)


def _prepare(engine: Engine, fmt: ThinkFormat) -> _Prepared:
    tok = engine.tokenizer
    stop = []
    for s in fmt.end_tokens:
        i = tok.token_id(s)
        if i is None:
            raise BudgetError(
                f"think format {fmt.name!r}: end-of-thinking string {s!r} is not a single token for "
                f"this tokenizer, so it cannot be stopped on exactly; use a model that has it as a "
                f"special token, or the 'plain' format"
            )
        stop.append(i)
    if fmt.eos_ends_thinking:
        stop.extend(tok.eos_ids)
    if not stop:
        raise BudgetError(f"think format {fmt.name!r}: no end-of-thinking token (and no EOS) known")
    return _Prepared(
        fmt=fmt,
        stop_ids=tuple(dict.fromkeys(stop)),
        eos_ids=tuple(tok.eos_ids),
        delim_ids=tok.encode(fmt.delimiter),
        prefix_ids=tok.encode(fmt.answer_prefix) if fmt.answer_prefix else [],
        vocab=tok.vocab_size,
    )


class _Texts:
    """Decoded texts of a run's trajectories: each trajectory's thinking is decoded once, prefix by
    prefix, instead of once per cell (a tree serves every cap and ignore count). Appending the decoded
    tail to a decoded head is exact only for tokenizers whose decoding is a concatenation of the
    tokens' bytes read as UTF-8 (``concat_decode``: byte-level BPE, the scripted characters), and
    only where the head's bytes end on a whole character; anywhere else the whole is decoded."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        self.concat = bool(getattr(tok, "concat_decode", False))
        self.cache: dict[int, dict[int, str]] = {}  # id(trajectory) -> {thinking length: its text}

    def prefix(self, t: Trajectory, n: int) -> str:
        """The text of the first ``n`` thinking tokens of ``t``."""
        known = self.cache.setdefault(id(t), {0: ""})
        if n not in known:
            k = max(x for x in known if x <= n) if self.concat else 0
            head = known[k]
            if self.concat and not head.endswith("\ufffd"):
                known[n] = head + self.tok.decode(t.thinking[k:n])
            else:
                known[n] = self.tok.decode(t.thinking[:n])
        return known[n]

    def join(self, head_text: str, head_ids: list[int], tail_ids: list[int]) -> str:
        """``decode(head_ids + tail_ids)`` given ``head_text == decode(head_ids)``."""
        if self.concat and not head_text.endswith("\ufffd"):
            return head_text + self.tok.decode(tail_ids)
        return self.tok.decode(head_ids + tail_ids)


class _Dispatch:
    """Requests of a run: identical requests run once, and a finished request's result goes to every
    callback that asked for it (also to those that ask later). ``finish`` returns the requests asked
    for in the meantime, which the engine starts at once. ``left[id(request)]``: the thinking budget its
    tree had left when it was first asked for (what a filled run orders requests by)."""

    def __init__(self) -> None:
        self.waiting: dict[GenRequest, list[Callable[[GenResult], None]]] = {}
        self.results: dict[GenRequest, GenResult] = {}
        self.outbox: list[GenRequest] = []
        self.left: dict[int, int] = {}

    def ask(self, req: GenRequest, cb: Callable[[GenResult], None], left: int = 0) -> None:
        if req in self.results:
            cb(self.results[req])
        elif req in self.waiting:
            self.waiting[req].append(cb)
        else:
            self.waiting[req] = [cb]
            self.outbox.append(req)
            self.left[id(req)] = left

    def take(self) -> list[GenRequest]:
        out, self.outbox = self.outbox, []
        return out

    def finish(self, req: GenRequest, res: GenResult) -> list[GenRequest]:
        self.results[req] = res
        for cb in self.waiting.pop(req):
            cb(res)
        return self.take()


def _think_request(t: Trajectory, prep: _Prepared) -> GenRequest | None:
    """The trajectory's next thinking segment (None, and the trajectory done, when the cap is reached)."""
    remaining = t.cap - len(t.thinking)
    if remaining <= 0:
        t.done, t.end = True, "cap"
        return None
    return GenRequest(
        prompt_ids=t.prompt_ids + tuple(t.thinking),
        max_tokens=remaining,
        min_tokens=min(max(0, t.min_tokens - len(t.thinking)), remaining),
        seed=derive_seed(t.seed, t.task, t.problem_id, f"think{t.rounds}", t.sample),
        temperature=t.temperature,
        top_p=t.top_p,
        stop_token_ids=prep.stop_ids,
    )


def _absorb(t: Trajectory, out: GenResult, prep: _Prepared, engine: Engine, control_ids: dict[str, list[int]]) -> None:
    """Append a finished segment to the trajectory: its tokens, then the end attempt (ignored with a
    control string if the tree still ignores and the control plus one token fit, else honoured)."""
    t.rounds += 1
    ids = list(out.token_ids)
    if out.suppressed is None:
        t.suppressed_at = None
    elif t.suppressed_at is not None:
        t.suppressed_at.extend(len(t.thinking) + step for step in out.suppressed)
    vocab = prep.vocab
    bad = next((i for i, x in enumerate(ids) if not 0 <= x < vocab), None) if ids and (
        min(ids) < 0 or max(ids) >= vocab) else None
    if bad is not None:  # never re-feed an id outside the vocabulary: end thinking there
        t.oov_ids += 1
        t.thinking.extend(ids[:bad])
        t.done, t.end = True, "oov"
        return
    t.thinking.extend(ids)
    if out.stop_token is None:  # budget exhausted
        t.done, t.end = True, "cap"
        return
    at = len(t.thinking)
    eos = out.stop_token in prep.eos_ids
    if t.ignores < t.max_ignores:
        ctl = t.controls[t.ignores % len(t.controls)]
        if ctl not in control_ids:
            control_ids[ctl] = engine.tokenizer.encode(ctl)
        cids = control_ids[ctl]
        if at + len(cids) + 1 <= t.cap:
            t.attempts.append(Attempt(at=at, control_len=len(cids), eos=eos))
            t.thinking.extend(cids)
            return
    t.attempts.append(Attempt(at=at, control_len=None, eos=eos))
    t.done, t.end = True, "eos" if eos else "delimiter"


class TreeScheduler:
    """One event-driven run of budget-forced and rejection-sampling jobs on trajectory trees.

    The steps, in order: :meth:`check_budgets` (effective caps and the context check, before any
    generation), :meth:`plant` (group jobs into trees), then :meth:`grow` on every tree and the
    engine's stream, whose finished requests call :meth:`on_segment` (a thinking segment ended: absorb
    it and grow on) and :meth:`on_answer`; finally :meth:`to_generation` per job. State per tree lives
    on its :class:`Trajectory`; state per job in dicts keyed by the job's index.

    ``attempts_max[i] > 0`` makes job ``i`` a rejection-sampling job with that many attempts.
    """

    def __init__(
        self,
        engine: Engine,
        jobs: Sequence[Job],
        attempts_max: Sequence[int],
        *,
        reuse: bool = True,
        progress: Callable[[str], None] | None = None,
        status: Callable[[TreeStatus], None] | None = None,
    ) -> None:
        self.engine, self.tok, self.jobs = engine, engine.tokenizer, jobs
        self.attempts_max = list(attempts_max)
        self.reuse, self.progress, self.status = reuse, progress, status
        self.last_status = 0.0
        self.tokens_before = 0
        self.prep: dict[str, _Prepared] = {}  # think format name -> its token ids
        self.prompt_cache: dict[tuple[str, str], tuple[int, ...]] = {}
        self.eff_cap: list[int] = []  # per job: the cap its tree must reach
        self.trajs: list[Trajectory] = []
        self.traj_of: dict[int, Trajectory] = {}
        self.attempt: dict[int, int] = {}  # rejection jobs: attempts used (the accepted or the last one)
        self.exhausted: set[int] = set()  # rejection jobs forced at the cap on their last attempt
        self.disp = _Dispatch()
        self.control_ids: dict[str, list[int]] = {}
        self.branches: dict[int, Branch] = {}
        self.prefixes: dict[int, list[int]] = {}
        self.answer_reqs: dict[int, GenRequest] = {}
        self.answers: dict[int, GenResult] = {}
        self.answer_walls: dict[int, float] = {}
        self.started = self.last_report = 0.0

    def run(self) -> list[Generation]:
        """All the steps; one :class:`Generation` per job, in order."""
        initial = self.start()
        # a status at least every engine step (throttled), also before any request finishes
        stream_ticking(self.engine, initial, self._finish, self.tick if self.status is not None else None)
        return self.results()

    def start(self) -> list[GenRequest]:
        """Check budgets, plant the trees and grow them: the run's first requests. Each finished
        request goes to :meth:`on_done`, which returns its follow-ups; :attr:`complete` once every
        job has its answer, then :meth:`results`. Several schedulers can share one engine stream
        (:mod:`evalkit.generate.fill`)."""
        self.check_budgets()
        first = self.plant(range(len(self.jobs)), lambda i: 0 if self.attempts_max[i] else self.jobs[i].sample)
        # Event-driven: a trajectory's next segment starts as soon as its last one ends, and a branch's
        # answer as soon as the trajectory determines the branch (while the trajectory grows on), so the
        # engine's batch never waits for the slowest request of a "round".
        self.started = self.last_report = time.perf_counter()
        self.tokens_before = getattr(self.engine, "generated_tokens", 0)
        for t in first:
            self.grow(t)
        return self.disp.take()

    def on_done(self, req: GenRequest, res: GenResult) -> list[GenRequest]:
        """A request of this scheduler finished: its follow-ups."""
        return self.disp.finish(req, res)

    def budget_left(self, req: GenRequest) -> int:
        """The thinking budget the tree of ``req`` (a request :meth:`start` or :meth:`on_done` just
        returned) had left when it asked for it: the most that may still follow in its chain. Once per
        request."""
        return self.disp.left.pop(id(req), 0)

    @property
    def complete(self) -> bool:
        return len(self.answers) == len(self.jobs)

    def results(self) -> list[Generation]:
        """One :class:`Generation` per job, in order (once every request has finished)."""
        missing = [i for i in range(len(self.jobs)) if i not in self.answers]
        if missing:  # a bug, not a model behaviour: every branch is determined once its trajectory is done
            raise RuntimeError(f"budget forcing: {len(missing)} jobs got no answer (first: job {missing[0]})")
        total_wall = time.perf_counter() - self.started
        if self.progress:
            self.progress(f"{len(self.trajs)} trajectories and {len(set(self.answer_reqs.values()))} distinct "
                          f"answers in {total_wall:.1f}s")
        texts = _Texts(self.tok)
        return [self.to_generation(i, texts) for i in range(len(self.jobs))]

    def _finish(self, req: GenRequest, res: GenResult) -> list[GenRequest]:
        out = self.disp.finish(req, res)
        self.tick()
        return out

    def tick(self, force: bool = False) -> None:
        """Report a :class:`TreeStatus` (at most every 0.5 s unless ``force``)."""
        if self.status is None:
            return
        now = time.perf_counter()
        if not force and now - self.last_status < 0.5:
            return
        self.last_status = now
        eng = self.engine
        tokens = getattr(eng, "generated_tokens", 0) - self.tokens_before + getattr(eng, "inflight_tokens", 0)
        budget = sum(t.cap for t in self.trajs) + sum(j.cell.sampling.answer_max_tokens for j in self.jobs)
        self.status(TreeStatus(sum(t.done for t in self.trajs), len(self.trajs), len(self.answers), len(self.jobs),
                               tokens, budget, now - self.started))

    def prompt_ids(self, j: Job) -> tuple[int, ...]:
        """The job's prompt (chat template and the format's start), encoded once per (format, prompt)."""
        key = (j.cell.think_format, j.problem.prompt)
        if key not in self.prompt_cache:
            text = self.tok.chat_prompt(j.problem.prompt) + self.prep[j.cell.think_format].fmt.start
            self.prompt_cache[key] = tuple(self.tok.encode(text))
        return self.prompt_cache[key]

    def check_budgets(self) -> None:
        """Prepare the think formats and fix every job's effective cap, raising :class:`BudgetError`
        (before any generation) for a rejection job without a cap or with ignores, a format without an
        exact end-of-thinking token, or a job whose prompt, cap, forced tokens and answer exceed the
        model's context. A job without a cap thinks up to the context; a rejection probe may think
        one token past its cap (that is how an attempt that does not fit is told apart)."""
        for j, m in zip(self.jobs, self.attempts_max, strict=True):
            if m and (j.cell.forcing.cap is None or j.cell.forcing.n_ignore):
                raise BudgetError(
                    f"{j.problem.task}/{j.problem.problem_id}: rejection sampling needs a cap and no ignores"
                )
        for j in self.jobs:
            name = j.cell.think_format
            if name not in self.prep:
                self.prep[name] = _prepare(self.engine, get_format(name))
        max_len = self.engine.max_model_len
        for i, j in enumerate(self.jobs):
            p = self.prep[j.cell.think_format]
            forced = len(p.delim_ids) + len(p.prefix_ids)
            answer = j.cell.sampling.answer_max_tokens
            room = max_len - len(self.prompt_ids(j)) - forced - answer
            cap = j.cell.forcing.cap
            if cap is None:
                cap = room
            elif self.attempts_max[i]:  # a rejection probe may think one token past the cap
                cap += 1
            if cap > room or room < 1:
                raise BudgetError(
                    f"{j.problem.task}/{j.problem.problem_id}: prompt ({len(self.prompt_ids(j))} tokens) + thinking "
                    f"cap ({cap}) + forced delimiter/prefix ({forced}) + answer ({answer}) "
                    f"exceeds max_model_len {max_len}"
                )
            self.eff_cap.append(cap)

    def _base_key(self, i: int, sample: int) -> tuple:
        f, s, j = self.jobs[i].cell.forcing, self.jobs[i].cell.sampling, self.jobs[i]
        key = (j.problem.task, j.problem.problem_id, j.problem.prompt, j.seed, sample, j.cell.model,
               j.cell.think_format, s.temperature, s.top_p, f.min_tokens)
        return key if self.reuse else key + (i,)

    def plant(self, indices: Sequence[int], sample_of: Callable[[int], int]) -> list[Trajectory]:
        """Group jobs into new trees and return them: same problem, seed, sampling, format and
        min_tokens; one tree per control sequence. A cell without ignores stops at the first
        end-of-thinking attempt, before any control, so it is a branch of any tree of its base group.
        ``sample_of(i)`` is job ``i``'s own sample index, or the attempt of a rejection job. Without
        ``reuse`` every job is a tree of its own."""
        jobs = self.jobs
        base_groups: dict[tuple, dict[tuple[str, ...], list[int]]] = {}
        for i in indices:  # cells with ignores first: they define the trees
            sub = base_groups.setdefault(self._base_key(i, sample_of(i)), {})
            if jobs[i].cell.forcing.n_ignore:
                sub.setdefault(jobs[i].cell.forcing.controls, []).append(i)
        for i in indices:
            if not jobs[i].cell.forcing.n_ignore:
                sub = base_groups[self._base_key(i, sample_of(i))]
                sub.setdefault(next(iter(sub), ()), []).append(i)
        new = [self._tree(members, sample_of(members[0])) for sub in base_groups.values() for members in sub.values()]
        self.trajs.extend(new)
        return new

    def _tree(self, members: list[int], sample: int) -> Trajectory:
        """The trajectory of one group of jobs: the largest cap and ignore count among them."""
        jobs = self.jobs
        j0 = jobs[members[0]]
        controls = next((jobs[i].cell.forcing.controls for i in members if jobs[i].cell.forcing.n_ignore), ())
        t = Trajectory(
            prompt_ids=self.prompt_ids(j0),
            seed=j0.seed,
            task=j0.problem.task,
            problem_id=j0.problem.problem_id,
            cap=max(self.eff_cap[i] for i in members),
            max_ignores=max(jobs[i].cell.forcing.n_ignore for i in members),
            min_tokens=j0.cell.forcing.min_tokens,
            controls=controls or ("Wait",),
            sample=sample,
            think_format=j0.cell.think_format,
            temperature=j0.cell.sampling.temperature,
            top_p=j0.cell.sampling.top_p,
            waiting=list(members),
        )
        for i in members:
            self.traj_of[i] = t
        return t

    def grow(self, t: Trajectory) -> None:
        """Ask for the trajectory's next segment (unless it is done), answer every branch it now
        determines, and, once it is done, plant the next attempt of its rejection jobs that did not
        fit (as one tree) and grow those."""
        if not t.done:
            req = _think_request(t, self.prep[t.think_format])
            if req is not None:
                self.disp.ask(req, partial(self.on_segment, t, time.perf_counter()), t.cap - len(t.thinking))
        self.answer_when_ready(t)
        if t.done and t.rejected:
            members, t.rejected = t.rejected, []
            for nt in self.plant(members, self.attempt.__getitem__):
                self.grow(nt)

    def on_segment(self, t: Trajectory, asked: float, res: GenResult) -> None:
        """A thinking segment finished: absorb it into the trajectory and grow on."""
        wall = time.perf_counter() - asked
        t.wall_s += wall
        t.round_walls.append(round(wall, 4))
        _absorb(t, res, self.prep[t.think_format], self.engine, self.control_ids)
        self.grow(t)
        now = time.perf_counter()
        if self.progress and self.status is None and (t.done and now - self.last_report > 15
                                                      or all(x.done for x in self.trajs)):
            self.last_report = now
            self.progress(f"{sum(x.done for x in self.trajs)}/{len(self.trajs)} trajectories done, "
                          f"{len(self.answers)}/{len(self.jobs)} answers, {now - self.started:.1f}s")

    def answer_when_ready(self, t: Trajectory) -> None:
        """Ask for the answer of every waiting job whose branch the trajectory now determines (a
        rejection job's only if its attempt fits); the others keep waiting."""
        waiting = []
        for i in t.waiting:
            b = _branch_if_ready(t, self.eff_cap[i], self.jobs[i].cell.forcing.n_ignore)
            if b is None:
                waiting.append(i)
                continue
            if self.attempts_max[i]:
                b = self._accept(t, i, b)
                if b is None:
                    continue
            self._ask_answer(t, i, b)
        t.waiting = waiting

    def _accept(self, t: Trajectory, i: int, b: Branch) -> Branch | None:
        """Rejection: keep the first attempt whose unforced thinking fits the cap. An attempt that
        does not fit is None (job ``i`` is resampled once the trajectory is done), unless it is the
        last: then the end is forced at the cap on this sample."""
        self.attempt[i] = t.sample + 1
        cap = self.jobs[i].cell.forcing.cap
        assert cap is not None
        if b.forced or b.length > cap:
            if self.attempt[i] < self.attempts_max[i]:
                t.rejected.append(i)
                return None
            self.exhausted.add(i)
            b = _branch_if_ready(t, cap, 0)
            assert b is not None and b.forced
        return b

    def _ask_answer(self, t: Trajectory, i: int, b: Branch) -> None:
        """Ask for the answer of job ``i`` after branch ``b`` of ``t``, the delimiter and, where it
        applies, the answer prefix."""
        j = self.jobs[i]
        p = self.prep[j.cell.think_format]
        # the answer prefix elicits an answer when the harness ended the thinking, or when the model
        # ended its whole turn (EOS) instead of closing the thinking with the format's delimiter
        # (unless the format reserves the prefix for the cap, as s1's lm-eval fork does)
        use_prefix = b.forced or (b.eos and p.fmt.prefix_on_eos) or p.fmt.prefix_on_natural_end
        prefix = p.prefix_ids if use_prefix else []
        self.branches[i], self.prefixes[i] = b, prefix
        self.answer_reqs[i] = req = GenRequest(
            prompt_ids=t.prompt_ids + tuple(t.thinking[: b.length]) + tuple(p.delim_ids) + tuple(prefix),
            max_tokens=j.cell.sampling.answer_max_tokens,
            seed=derive_seed(j.seed, j.problem.task, j.problem.problem_id, "answer", t.sample),
            temperature=j.cell.sampling.temperature,
            top_p=j.cell.sampling.top_p,
            stop_token_ids=p.eos_ids,
        )
        self.disp.ask(req, partial(self.on_answer, i, time.perf_counter()), t.cap - len(t.thinking))

    def on_answer(self, i: int, asked: float, res: GenResult) -> None:
        """Job ``i``'s answer finished."""
        self.answers[i] = res
        self.answer_walls[i] = time.perf_counter() - asked

    def to_generation(self, i: int, texts: _Texts | None = None) -> Generation:
        """Job ``i``'s row: its branch of the trajectory, the forced tokens and its answer, with the
        tree it comes from in ``provenance``. ``texts``: the run's decoded trajectories (shared by jobs)."""
        j, t, b, prefix = self.jobs[i], self.traj_of[i], self.branches[i], self.prefixes[i]
        tok = self.tok
        texts = texts or _Texts(tok)
        p = self.prep[j.cell.think_format]
        a = self.answers[i]
        vocab = p.vocab
        ans_ids = [x for x in a.token_ids if 0 <= x < vocab]
        think_ids = t.thinking[: b.length]
        thinking_text = texts.prefix(t, b.length)
        return Generation(
            problem_id=j.problem.problem_id,
            seed=j.seed,
            sample=j.sample,
            prompt_tokens=len(t.prompt_ids),
            thinking_ids=think_ids,
            forced_ids=p.delim_ids + prefix,
            answer_ids=ans_ids,
            thinking_text=thinking_text,
            answer_text=tok.decode(prefix + ans_ids),
            response=texts.join(thinking_text, think_ids, p.delim_ids + prefix + ans_ids),
            thinking_tokens=b.length,
            control_tokens=b.control_tokens,
            answer_tokens=len(ans_ids),
            forced_tokens=len(p.delim_ids) + len(prefix),
            n_ignored=b.n_ignored,
            n_suppressed=None if t.suppressed_at is None else sum(1 for x in t.suppressed_at if x < b.length),
            forced_end=b.forced,
            thinking_end=("oov" if t.end == "oov" and b.length == len(t.thinking) else "cap") if b.forced
            else ("eos" if b.eos else "delimiter"),
            thinking_closed=True,
            answer_finish="length" if a.stop_token is None else "stop",
            oov_ids=t.oov_ids + (len(a.token_ids) - len(ans_ids)),
            rounds=b.n_ignored + 2,  # thinking rounds of an independent run, plus its answer
            wall_s=t.wall_s + self.answer_walls[i],
            provenance={
                "tree_cap": t.cap,
                "tree_ignores": t.max_ignores,
                # stored rows keep the vocabulary they were written with: a tree the model ended
                # (delimiter or EOS) is "natural" there, so rows stay byte-identical
                "tree_end": "natural" if t.end in ("delimiter", "eos") else t.end,
                "tree_thinking_tokens": len(t.thinking),
                "tree_controls": list(t.controls) if t.max_ignores else [],
                "round_walls_s": t.round_walls,
                "branch": not (b.length == len(t.thinking) and self.eff_cap[i] == t.cap
                               and j.cell.forcing.n_ignore == t.max_ignores),
                **({"attempts": self.attempt[i], "accepted_sample": self.attempt[i] - 1}
                   if self.attempts_max[i] else {}),
                **({"rejection_exhausted": True} if i in self.exhausted else {}),
                **({"controls": spans} if (spans := self.control_spans(i, texts)) else {}),
            },
        )

    def control_spans(self, i: int, texts: _Texts | None = None) -> list[list[int]]:
        """Where job ``i``'s branch injected its control strings: ``[token start, token end, char
        start, char end]`` in its thinking (what a viewer marks)."""
        t, b = self.traj_of[i], self.branches[i]
        if not b.n_ignored:
            return []
        texts = texts or _Texts(self.tok)
        out = []
        for a in t.attempts:
            if len(out) == b.n_ignored or a.control_len is None or a.at >= b.length:
                break
            s, e = a.at, a.at + a.control_len
            out.append([s, e, len(texts.prefix(t, s)), len(texts.prefix(t, min(e, b.length)))])
        return out


def run_sequential(
    engine: Engine,
    jobs: Sequence[Job],
    *,
    reuse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Generation]:
    """Budget-forced generation for every job (rejection cells included: they are forced at their
    cap like any other); returns one :class:`Generation` per job, in order."""
    return run_trees(engine, jobs, max_attempts=[0] * len(jobs), reuse=reuse, progress=progress)


def run_trees(
    engine: Engine,
    jobs: Sequence[Job],
    *,
    max_attempts: Sequence[int] | None = None,
    reuse: bool = True,
    progress: Callable[[str], None] | None = None,
    status: Callable[[TreeStatus], None] | None = None,
) -> list[Generation]:
    """Budget forcing and rejection sampling in one event-driven run; one :class:`Generation` per job.

    A job of a rejection cell (``cell.method == "rejection"``) is a rejection-sampling job with
    ``cell.max_attempts`` attempts (see :func:`run_rejection`); any other job is budget-forced
    (:func:`run_sequential`). ``max_attempts``, when given, overrides that per job: ``max_attempts[i]
    > 0`` makes job ``i`` a rejection job with that many attempts, 0 a budget-forced one. All jobs
    share trajectory trees where their seeds agree: attempt ``a`` of a rejection job is the unforced
    trajectory of sample ``a``. The run itself is a :class:`TreeScheduler`.
    """
    if max_attempts is None:
        attempts_max = [j.cell.max_attempts if j.cell.method == "rejection" else 0 for j in jobs]
    else:
        attempts_max = list(max_attempts)
    if len(attempts_max) != len(jobs):
        raise ValueError(f"max_attempts has {len(attempts_max)} entries for {len(jobs)} jobs")
    return TreeScheduler(engine, jobs, attempts_max, reuse=reuse, progress=progress, status=status).run()


def run_rejection(
    engine: Engine,
    jobs: Sequence[Job],
    *,
    max_attempts: int = 16,
    reuse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Generation]:
    """s1's rejection sampling: resample until the thinking fits the budget.

    Attempt ``a`` of a job is an unforced sample (sample index ``a``, its own seeds) whose thinking may
    run one token past the cap; it fits when the model ends its thinking within the cap. The first
    fitting attempt is kept, with its attempt count. Jobs with no fitting attempt after
    ``max_attempts`` fall back to budget forcing at the cap on their last attempt and are flagged
    ``rejection_exhausted``. Caps of one (problem, seed) share attempts through the trajectory tree,
    so the attempt counts of all caps come from the same samples. ``max_attempts`` applies to every
    job, whatever its cell's method.

    Attempts are event-driven: the next attempt of a (problem, seed) starts the moment its previous
    trajectory is done (not after a whole wave of attempts), and no answer is generated for an
    attempt that does not fit.
    """
    if max_attempts < 1:
        raise ValueError(f"rejection sampling: max_attempts must be at least 1, got {max_attempts}")
    return run_trees(engine, jobs, max_attempts=[max_attempts] * len(jobs), reuse=reuse, progress=progress)
