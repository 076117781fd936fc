"""Keeping the engine full: the trees of several units of work (a sweep's batches: one seed x one
chunk of problems each) in one engine stream, up to a target number of requests in flight.

A unit is one :class:`~evalkit.generate.forcing.TreeScheduler` (its jobs, its trees, its identical
requests run once). :class:`FillRun` sends the engine at most ``max_in_flight`` requests at a time and
holds the others back, so that it, not the engine's queue, decides what runs next. It admits units
while the requests they have asked for and not finished (sent or held) are fewer than twice the
target, so the engine sees the trees of as many batches as it takes to fill it, and a held request is
there to replace each one that finishes. A unit is handed to ``on_complete`` with its generations as
soon as its last answer arrives, while the others run on.

Which held request goes next (issue #37): a wall time near max(tokens / capacity, longest chain) needs
the longest chains of requests to start early and the last ones to end together. The runtime of a
tree's chain is unknown in advance, but the thinking budget its tree has left bounds what may still
follow a request. While units remain to be admitted, requests of earlier units go first (units
complete, are written and leave memory in order), each unit's trees with the most budget left first.
Once the last unit is admitted, the requests of the trees with the most budget left go first, whatever
their unit: the trees admitted last catch up with the others and the chains end together instead of
leaving the last trees' chains to run alone at the end. A unit alone is never held back (a target of
1 is one batch at a time, every request of it sent at once, as before).

Requests are exactly those each unit would send alone, so on a batch-invariant engine the results
are identical (tested on the scripted engine); only which requests share an engine step changes.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.generate.engine import Engine, GenRequest, GenResult, stream_ticking
from evalkit.generate.forcing import Job, TreeScheduler, TreeStatus
from evalkit.records import Generation


@dataclass
class Unit:
    """Jobs run as one tree scheduler (``attempts[i] > 0``: a rejection job), with the caller's tag."""

    tag: Any
    jobs: Sequence[Job]
    attempts: Sequence[int]
    scheduler: TreeScheduler | None = field(default=None, repr=False)


@dataclass
class FillStats:
    """What a run saw: units admitted and completed, the most requests sent to the engine and not
    finished (the engine's own queue may hold some of them) and, when a list, every change of it:
    (time, sent and not finished, asked for and not finished)."""

    admitted: int = 0
    completed: int = 0
    max_in_flight: int = 0
    in_flight_log: list[tuple[float, int, int]] | None = None


class FillRun:
    """One engine stream over the units ``units`` yields (see the module's docstring).

    ``on_complete(unit, generations)`` runs in the calling thread as each unit finishes (keep it
    short: hand slow work to another thread); ``on_error(unit, exc)`` when a unit cannot start (a
    budget error) or its generations cannot be built. An engine error propagates; :attr:`active` then
    holds the units admitted and not finished, and ``units`` the ones never admitted."""

    def __init__(self, engine: Engine, units: Iterator[Unit], *, max_in_flight: int, reuse: bool = True,
                 on_complete: Callable[[Unit, list[Generation]], None],
                 on_error: Callable[[Unit, BaseException], None],
                 progress: Callable[[str], None] | None = None,
                 status: Callable[[TreeStatus], None] | None = None) -> None:
        self.engine, self.units, self.limit, self.reuse = engine, units, max(1, max_in_flight), reuse
        self.on_complete, self.on_error, self.progress, self.status = on_complete, on_error, progress, status
        self.in_flight = 0  # requests sent to the engine and not finished
        self.ready = 0  # requests the units asked for and not finished: sent, or held back
        # units are admitted while fewer than this are ready (a target of 1: only when none is)
        self.admit_below = 2 * self.limit - 1
        self.held: list[tuple] = []  # heap: (key, key, sequence, budget left, unit's order, request)
        self.sequence = itertools.count()
        self.owner: dict[int, Unit] = {}  # id(request) -> its unit (the engine hands back the same object)
        self.order: dict[int, int] = {}  # id(unit) -> its rank of admission
        self.active: list[Unit] = []
        self.totals = [0, 0, 0, 0, 0]  # of finished units: trajectories done, trajectories, answers, jobs, budget
        self.stats = FillStats()
        self.exhausted = False
        self.started = self.last_status = 0.0
        self.tokens_before = 0

    def run(self) -> None:
        self.started = time.perf_counter()
        self.tokens_before = getattr(self.engine, "generated_tokens", 0)
        self._admit()
        initial = self._send()
        if not initial:
            return
        stream_ticking(self.engine, initial, self._on_done, self.tick if self.status is not None else None)

    def _key(self, left: int, order: int) -> tuple[int, int]:
        """Held requests go smallest key first (see the module's docstring)."""
        return (-left, order) if self.exhausted else (order, -left)

    def _hold(self, unit: Unit, reqs: list[GenRequest]) -> None:
        sched, order = unit.scheduler, self.order[id(unit)]
        assert sched is not None
        for r in reqs:
            self.owner[id(r)] = unit
            left = sched.budget_left(r)
            heapq.heappush(self.held, (*self._key(left, order), next(self.sequence), left, order, r))
        self.ready += len(reqs)

    def _send(self) -> list[GenRequest]:
        """Held requests, most urgent first, while fewer than the target are in flight (all of them
        when one unit is active)."""
        out: list[GenRequest] = []
        while self.held and (self.in_flight < self.limit or len(self.active) == 1):
            out.append(heapq.heappop(self.held)[-1])
            self.in_flight += 1
        if out:
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.in_flight)
            if self.stats.in_flight_log is not None:
                self.stats.in_flight_log.append((time.perf_counter(), self.in_flight, self.ready))
        return out

    def _admit(self) -> None:
        """Admit units while fewer than :attr:`admit_below` requests are ready; their first requests
        are held until :meth:`_send`."""
        while not self.exhausted and self.ready < self.admit_below:
            unit = next(self.units, None)
            if unit is None:
                self.exhausted = True  # from now on the most budget left goes first, whatever the unit
                self.held = [(*self._key(e[3], e[4]), *e[2:]) for e in self.held]
                heapq.heapify(self.held)
                break
            sched = TreeScheduler(self.engine, unit.jobs, unit.attempts, reuse=self.reuse, progress=self.progress)
            try:
                reqs = sched.start()
            except Exception as e:  # noqa: BLE001 - this unit cannot start (a budget error): the others go on
                self.on_error(unit, e)
                continue
            unit.scheduler = sched
            self.order[id(unit)] = self.stats.admitted
            self.active.append(unit)
            self.stats.admitted += 1
            self._hold(unit, reqs)
            if sched.complete:  # nothing to ask (cannot happen with jobs, but never leave a unit hanging)
                self._complete(unit)

    def _on_done(self, req: GenRequest, res: GenResult) -> list[GenRequest]:
        unit = self.owner.pop(id(req))
        self.in_flight -= 1
        self.ready -= 1
        sched = unit.scheduler
        assert sched is not None
        self._hold(unit, sched.on_done(req, res))
        if sched.complete and unit in self.active:
            self._complete(unit)
        self._admit()
        self.tick()
        return self._send()

    def _complete(self, unit: Unit) -> None:
        sched = unit.scheduler
        assert sched is not None
        self.active.remove(unit)
        self.order.pop(id(unit), None)
        self.stats.completed += 1
        for k, v in enumerate(self._counts(sched)):
            self.totals[k] += v
        try:
            gens = sched.results()
        except Exception as e:  # noqa: BLE001 - this unit's rows cannot be built: the others go on
            self.on_error(unit, e)
        else:
            self.on_complete(unit, gens)
        unit.scheduler = None  # its trees, requests and results are no longer needed

    @staticmethod
    def _counts(s: TreeScheduler) -> tuple[int, int, int, int, int]:
        budget = sum(t.cap for t in s.trajs) + sum(j.cell.sampling.answer_max_tokens for j in s.jobs)
        return sum(t.done for t in s.trajs), len(s.trajs), len(s.answers), len(s.jobs), budget

    def tick(self, force: bool = False) -> None:
        """A :class:`TreeStatus` over every unit of the run (at most every 0.5 s unless ``force``)."""
        if self.status is None:
            return
        now = time.perf_counter()
        if not force and now - self.last_status < 0.5:
            return
        self.last_status = now
        counts = list(self.totals)
        for u in self.active:
            if u.scheduler is not None:
                for k, v in enumerate(self._counts(u.scheduler)):
                    counts[k] += v
        eng = self.engine
        tokens = getattr(eng, "generated_tokens", 0) - self.tokens_before + getattr(eng, "inflight_tokens", 0)
        self.status(TreeStatus(counts[0], counts[1], counts[2], counts[3], tokens, counts[4], now - self.started))


def run_units(engine: Engine, units: Sequence[Unit], *, max_in_flight: int, reuse: bool = True,
              ) -> list[list[Generation] | BaseException]:
    """Every unit in one filled stream: per unit, its generations or the error that stopped it."""
    out: dict[int, list[Generation] | BaseException] = {}
    index = {id(u): k for k, u in enumerate(units)}
    FillRun(engine, iter(units), max_in_flight=max_in_flight, reuse=reuse,
            on_complete=lambda u, g: out.__setitem__(index[id(u)], g),
            on_error=lambda u, e: out.__setitem__(index[id(u)], e)).run()
    return [out[k] for k in range(len(units))]
