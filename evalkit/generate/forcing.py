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
engine steps with different requests:

- float32 on this project's CPU (AMD EPYC, AVX-512 BF16, no AMX): 0 divergences in 20 requests alone,
  in pairs, in fives, greedy, and 60 tree-vs-independent jobs; log-probabilities differ by <= 1.5e-4.
- bfloat16 on the same CPU: a request alone in an engine step parts from the batched run in 12 of 20
  48-token sequences (greedy: 10 of 20); trees match independent runs in 60 of 60 jobs with the
  default executor and 54 of 60 with ``uni``; log-probabilities differ by up to one bf16 logit ULP
  (0.5). On AMX CPUs (bf16 AMX attention and GEMM kernels) trees and independent runs part more
  often (the issue that found it: token 40 of 48). GPUs: vLLM's ``VLLM_BATCH_INVARIANT=1`` (NVIDIA
  cc >= 8, AMD Instinct, Intel XPU; not CPUs) makes them identical at a throughput cost.

Where they part, it is at a near tie that the recorded log-probabilities explain (same context, same
seeded noise; :mod:`evalkit.generate.exactness`), and everything after it is a different draw from
the same distribution. So, on every engine: each cell's marginal distribution is that of an
independent run, and cells of one tree share their random numbers up to any such near tie, which
makes paired comparisons between them sharper (common random numbers). Figures per setting:
``python benchmarks/engine_exactness.py``; the machine is in every results manifest (``hardware``).

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

from evalkit.errors import EvalkitError
from evalkit.generate.engine import Engine, GenRequest, GenResult, stream
from evalkit.generate.formats import ThinkFormat, get_format
from evalkit.records import Cell, Generation, Problem


class BudgetError(EvalkitError, ValueError):
    """A request cannot fit the model's context; raised before any generation."""


def derive_seed(seed: int, task: str, problem_id: str, phase: str, sample: int = 0) -> int:
    """Per-request seed: a function of (seed, task, problem, sample, phase), never of cap or ignores.
    Sample 0 of a parallel family is the sequential trajectory of the same seed."""
    tag = f"{seed}|{task}|{problem_id}|{phase}" + (f"|sample{sample}" if sample else "")
    h = hashlib.sha256(tag.encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


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
    prompt_ids: tuple[int, ...]
    seed: int
    task: str
    problem_id: str
    cap: int  # effective cap of the whole tree
    max_ignores: int
    min_tokens: int
    controls: tuple[str, ...]
    sample: int = 0
    thinking: list[int] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    done: bool = False
    end: str = ""  # "natural" | "cap" | "oov"
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
    )


class _Dispatch:
    """Requests of a run: identical requests run once, and a finished request's result goes to every
    callback that asked for it (also to those that ask later). ``finish`` returns the requests asked
    for in the meantime, which the engine starts at once."""

    def __init__(self) -> None:
        self.waiting: dict[GenRequest, list[Callable[[GenResult], None]]] = {}
        self.results: dict[GenRequest, GenResult] = {}
        self.outbox: list[GenRequest] = []

    def ask(self, req: GenRequest, cb: Callable[[GenResult], None]) -> None:
        if req in self.results:
            cb(self.results[req])
        elif req in self.waiting:
            self.waiting[req].append(cb)
        else:
            self.waiting[req] = [cb]
            self.outbox.append(req)

    def take(self) -> list[GenRequest]:
        out, self.outbox = self.outbox, []
        return out

    def finish(self, req: GenRequest, res: GenResult) -> list[GenRequest]:
        self.results[req] = res
        for cb in self.waiting.pop(req):
            cb(res)
        return self.take()


def _think_request(t: Trajectory, prep: _Prepared, temperature: float, top_p: float) -> GenRequest | None:
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
        temperature=temperature,
        top_p=top_p,
        stop_token_ids=prep.stop_ids,
    )


def _absorb(t: Trajectory, out: GenResult, prep: _Prepared, engine: Engine, control_ids: dict[str, list[int]]) -> None:
    """Append a finished segment to the trajectory: its tokens, then the end attempt (ignored with a
    control string if the tree still ignores and the control plus one token fit, else honoured)."""
    tok = engine.tokenizer
    t.rounds += 1
    ids = list(out.token_ids)
    if out.suppressed is None:
        t.suppressed_at = None
    elif t.suppressed_at is not None:
        t.suppressed_at.extend(len(t.thinking) + step for step in out.suppressed)
    bad = next((i for i, x in enumerate(ids) if not 0 <= x < tok.vocab_size), None)
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
            control_ids[ctl] = tok.encode(ctl)
        cids = control_ids[ctl]
        if at + len(cids) + 1 <= t.cap:
            t.attempts.append(Attempt(at=at, control_len=len(cids), eos=eos))
            t.thinking.extend(cids)
            return
    t.attempts.append(Attempt(at=at, control_len=None, eos=eos))
    t.done, t.end = True, "natural"


def run_sequential(
    engine: Engine,
    jobs: Sequence[Job],
    *,
    reuse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Generation]:
    """Budget-forced generation for every job; returns one :class:`Generation` per job, in order."""
    return run_trees(engine, jobs, reuse=reuse, progress=progress)


def run_trees(
    engine: Engine,
    jobs: Sequence[Job],
    *,
    max_attempts: Sequence[int] | None = None,
    reuse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Generation]:
    """Budget forcing and rejection sampling in one event-driven run; one :class:`Generation` per job.

    ``max_attempts[i] > 0`` makes job ``i`` a rejection-sampling job (see :func:`run_rejection`);
    otherwise it is budget-forced (:func:`run_sequential`). All jobs share trajectory trees where their
    seeds agree: attempt ``a`` of a rejection job is the unforced trajectory of sample ``a``.
    """
    tok = engine.tokenizer
    attempts_max = list(max_attempts) if max_attempts is not None else [0] * len(jobs)
    if len(attempts_max) != len(jobs):
        raise ValueError(f"max_attempts has {len(attempts_max)} entries for {len(jobs)} jobs")
    for j, m in zip(jobs, attempts_max, strict=True):
        if m and (j.cell.forcing.cap is None or j.cell.forcing.n_ignore):
            raise BudgetError(f"{j.problem.task}/{j.problem.problem_id}: rejection sampling needs a cap and no ignores")
    prep: dict[str, _Prepared] = {}
    prompt_cache: dict[tuple[str, str], tuple[int, ...]] = {}
    for j in jobs:
        name = j.cell.think_format
        if name not in prep:
            prep[name] = _prepare(engine, get_format(name))

    def prompt_ids(j: Job) -> tuple[int, ...]:
        key = (j.cell.think_format, j.problem.prompt)
        if key not in prompt_cache:
            text = tok.chat_prompt(j.problem.prompt) + prep[j.cell.think_format].fmt.start
            prompt_cache[key] = tuple(tok.encode(text))
        return prompt_cache[key]

    # effective caps and the context check, before any generation
    eff_cap: list[int] = []
    for j in jobs:
        p = prep[j.cell.think_format]
        forced = len(p.delim_ids) + len(p.prefix_ids)
        room = engine.max_model_len - len(prompt_ids(j)) - forced - j.cell.sampling.answer_max_tokens
        cap = j.cell.forcing.cap
        if cap is None:
            cap = room
        elif attempts_max[len(eff_cap)]:  # a rejection probe may think one token past the cap
            cap += 1
        if cap > room or room < 1:
            raise BudgetError(
                f"{j.problem.task}/{j.problem.problem_id}: prompt ({len(prompt_ids(j))} tokens) + thinking "
                f"cap ({cap}) + forced delimiter/prefix ({forced}) + answer ({j.cell.sampling.answer_max_tokens}) "
                f"exceeds max_model_len {engine.max_model_len}"
            )
        eff_cap.append(cap)

    # group jobs into trees: same problem, seed, sampling, format and min_tokens; one tree per control
    # sequence. A cell without ignores stops at the first end-of-thinking attempt, before any control,
    # so it is a branch of any tree of its base group. ``sample`` is the job's own sample index, or
    # the attempt of a rejection job.
    def base_key(i: int, j: Job, sample: int) -> tuple:
        f, s = j.cell.forcing, j.cell.sampling
        key = (j.problem.task, j.problem.problem_id, j.problem.prompt, j.seed, sample, j.cell.model,
               j.cell.think_format, s.temperature, s.top_p, f.min_tokens)
        return key if reuse else key + (i,)

    trajs: list[Trajectory] = []
    traj_of: dict[int, Trajectory] = {}
    fmt_of: dict[int, str] = {}
    temps: dict[int, tuple[float, float]] = {}
    jobs_of: dict[int, list[int]] = {}

    def plant(indices: Sequence[int], sample_of: Callable[[int], int]) -> list[Trajectory]:
        base_groups: dict[tuple, dict[tuple[str, ...], list[int]]] = {}
        for i in indices:  # cells with ignores first: they define the trees
            j = jobs[i]
            sub = base_groups.setdefault(base_key(i, j, sample_of(i)), {})
            if j.cell.forcing.n_ignore:
                sub.setdefault(j.cell.forcing.controls, []).append(i)
        for i in indices:
            j = jobs[i]
            if not j.cell.forcing.n_ignore:
                sub = base_groups[base_key(i, j, sample_of(i))]
                sub.setdefault(next(iter(sub), ()), []).append(i)
        new: list[Trajectory] = []
        for sub in base_groups.values():
            for members in sub.values():
                j0 = jobs[members[0]]
                controls = next((jobs[i].cell.forcing.controls for i in members if jobs[i].cell.forcing.n_ignore), ())
                t = Trajectory(
                    prompt_ids=prompt_ids(j0),
                    seed=j0.seed,
                    task=j0.problem.task,
                    problem_id=j0.problem.problem_id,
                    cap=max(eff_cap[i] for i in members),
                    max_ignores=max(jobs[i].cell.forcing.n_ignore for i in members),
                    min_tokens=j0.cell.forcing.min_tokens,
                    controls=controls or ("Wait",),
                    sample=sample_of(members[0]),
                )
                new.append(t)
                fmt_of[id(t)] = j0.cell.think_format
                temps[id(t)] = (j0.cell.sampling.temperature, j0.cell.sampling.top_p)
                jobs_of[id(t)] = list(members)
                for i in members:
                    traj_of[i] = t
        trajs.extend(new)
        return new

    attempt: dict[int, int] = {}  # rejection jobs: attempts used (the accepted or the last one)
    exhausted: set[int] = set()
    rejected: dict[int, list[int]] = {}  # trajectory -> its rejection jobs whose attempt did not fit
    first = plant(range(len(jobs)), lambda i: 0 if attempts_max[i] else jobs[i].sample)

    # Event-driven: a trajectory's next segment starts as soon as its last one ends, and a branch's
    # answer as soon as the trajectory determines the branch (while the trajectory grows on), so the
    # engine's batch never waits for the slowest request of a "round".
    disp = _Dispatch()
    control_ids: dict[str, list[int]] = {}
    branches: dict[int, Branch] = {}
    prefixes: dict[int, list[int]] = {}
    answer_reqs: dict[int, GenRequest] = {}
    answers: dict[int, GenResult] = {}
    answer_walls: dict[int, float] = {}
    started = time.perf_counter()
    last_report = [started]

    def answer_when_ready(t: Trajectory) -> None:
        waiting = []
        for i in jobs_of[id(t)]:
            j = jobs[i]
            b = _branch_if_ready(t, eff_cap[i], j.cell.forcing.n_ignore)
            if b is None:
                waiting.append(i)
                continue
            if attempts_max[i]:  # rejection: keep the first attempt whose unforced thinking fits the cap
                attempt[i] = t.sample + 1
                cap = j.cell.forcing.cap
                assert cap is not None
                if b.forced or b.length > cap:
                    if attempt[i] < attempts_max[i]:
                        rejected.setdefault(id(t), []).append(i)  # resampled once the trajectory is done
                        continue
                    exhausted.add(i)  # last attempt: force the end at the cap on this sample
                    b = _branch_if_ready(t, cap, 0)
                    assert b is not None and b.forced
            p = prep[j.cell.think_format]
            # the answer prefix elicits an answer when the harness ended the thinking, or when the model
            # ended its whole turn (EOS) instead of closing the thinking with the format's delimiter
            # (unless the format reserves the prefix for the cap, as s1's lm-eval fork does)
            use_prefix = b.forced or (b.eos and p.fmt.prefix_on_eos) or p.fmt.prefix_on_natural_end
            prefix = p.prefix_ids if use_prefix else []
            branches[i], prefixes[i] = b, prefix
            answer_reqs[i] = req = GenRequest(
                prompt_ids=t.prompt_ids + tuple(t.thinking[: b.length]) + tuple(p.delim_ids) + tuple(prefix),
                max_tokens=j.cell.sampling.answer_max_tokens,
                seed=derive_seed(j.seed, j.problem.task, j.problem.problem_id, "answer", t.sample),
                temperature=j.cell.sampling.temperature,
                top_p=j.cell.sampling.top_p,
                stop_token_ids=p.eos_ids,
            )
            asked = time.perf_counter()

            def got(res: GenResult, i: int = i, asked: float = asked) -> None:
                answers[i] = res
                answer_walls[i] = time.perf_counter() - asked

            disp.ask(req, got)
        jobs_of[id(t)] = waiting

    def grow(t: Trajectory) -> None:
        if not t.done:
            temp, top_p = temps[id(t)]
            req = _think_request(t, prep[fmt_of[id(t)]], temp, top_p)
            if req is not None:
                asked = time.perf_counter()
                disp.ask(req, lambda res, t=t, asked=asked: segment_done(t, res, asked))
        answer_when_ready(t)
        if t.done and id(t) in rejected:  # the next attempt of every job this one did not fit, as one tree
            for nt in plant(rejected.pop(id(t)), lambda i: attempt[i]):
                grow(nt)

    def segment_done(t: Trajectory, res: GenResult, asked: float) -> None:
        wall = time.perf_counter() - asked
        t.wall_s += wall
        t.round_walls.append(round(wall, 4))
        _absorb(t, res, prep[fmt_of[id(t)]], engine, control_ids)
        grow(t)
        now = time.perf_counter()
        if progress and (t.done and now - last_report[0] > 15 or all(x.done for x in trajs)):
            last_report[0] = now
            progress(f"{sum(x.done for x in trajs)}/{len(trajs)} trajectories done, "
                     f"{len(answers)}/{len(jobs)} answers, {now - started:.1f}s")

    for t in first:
        grow(t)
    stream(engine, disp.take(), disp.finish)
    missing = [i for i in range(len(jobs)) if i not in answers]
    if missing:  # a bug, not a model behaviour: every branch is determined once its trajectory is done
        raise RuntimeError(f"budget forcing: {len(missing)} jobs got no answer (first: job {missing[0]})")
    total_wall = time.perf_counter() - started
    if progress:
        progress(f"{len(trajs)} trajectories and {len(set(answer_reqs.values()))} distinct answers in {total_wall:.1f}s")

    out: list[Generation] = []
    vocab = tok.vocab_size
    for i, j in enumerate(jobs):
        t, b, prefix = traj_of[i], branches[i], prefixes[i]
        p = prep[j.cell.think_format]
        a = answers[i]
        ans_ids = [x for x in a.token_ids if 0 <= x < vocab]
        oov = t.oov_ids + (len(a.token_ids) - len(ans_ids))
        think_ids = t.thinking[: b.length]
        out.append(
            Generation(
                problem_id=j.problem.problem_id,
                seed=j.seed,
                sample=j.sample,
                prompt_tokens=len(t.prompt_ids),
                thinking_ids=think_ids,
                forced_ids=p.delim_ids + prefix,
                answer_ids=ans_ids,
                thinking_text=tok.decode(think_ids),
                answer_text=tok.decode(prefix + ans_ids),
                response=tok.decode(think_ids + p.delim_ids + prefix + ans_ids),
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
                oov_ids=oov,
                rounds=b.n_ignored + 2,  # thinking rounds of an independent run, plus its answer
                wall_s=t.wall_s + answer_walls[i],
                provenance={
                    "tree_cap": t.cap,
                    "tree_ignores": t.max_ignores,
                    "tree_end": t.end,
                    "tree_thinking_tokens": len(t.thinking),
                    "tree_controls": list(t.controls) if t.max_ignores else [],
                    "round_walls_s": t.round_walls,
                    "branch": not (b.length == len(t.thinking) and eff_cap[i] == t.cap
                                   and j.cell.forcing.n_ignore == t.max_ignores),
                    **({"attempts": attempt[i], "accepted_sample": attempt[i] - 1} if attempts_max[i] else {}),
                    **({"rejection_exhausted": True} if i in exhausted else {}),
                },
            )
        )
    return out


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
    so the attempt counts of all caps come from the same samples.

    Attempts are event-driven: the next attempt of a (problem, seed) starts the moment its previous
    trajectory is done (not after a whole wave of attempts), and no answer is generated for an
    attempt that does not fit.
    """
    if max_attempts < 1:
        raise ValueError(f"rejection sampling: max_attempts must be at least 1, got {max_attempts}")
    return run_trees(engine, jobs, max_attempts=[max_attempts] * len(jobs), reuse=reuse, progress=progress)
