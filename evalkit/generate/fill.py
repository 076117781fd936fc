"""Keeping the engine full: the trees of several units of work (a sweep's batches: one seed x one
chunk of problems each) in one engine stream, up to a target number of requests in flight.

A unit is one :class:`~evalkit.generate.forcing.TreeScheduler` (its jobs, its trees, its identical
requests run once). :class:`FillRun` admits units while fewer than ``max_in_flight`` requests are in
flight (at least one unit at a time), so the engine sees the trees of as many batches as it takes to
fill it, and admits the next one the moment a request finishes below the target. A unit is handed to
``on_complete`` with its generations as soon as its last answer arrives, while the others run on.
Requests are exactly those each unit would send alone, so on a batch-invariant engine the results
are identical (tested on the scripted engine); only which requests share an engine step changes.
"""

from __future__ import annotations

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
    """What a run saw: requests in flight after each admission and finish (the engine's own queue
    may hold some of them), units admitted and completed."""

    admitted: int = 0
    completed: int = 0
    max_in_flight: int = 0
    in_flight_log: list[tuple[float, int]] | None = None  # (time, in flight) when a list


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
        self.in_flight = 0
        self.owner: dict[int, Unit] = {}  # id(request) -> its unit (the engine hands back the same object)
        self.active: list[Unit] = []
        self.totals = [0, 0, 0, 0, 0]  # of finished units: trajectories done, trajectories, answers, jobs, budget
        self.stats = FillStats()
        self.exhausted = False
        self.started = self.last_status = 0.0
        self.tokens_before = 0

    def run(self) -> None:
        self.started = time.perf_counter()
        self.tokens_before = getattr(self.engine, "generated_tokens", 0)
        initial = self._admit()
        if not initial:
            return
        stream_ticking(self.engine, initial, self._on_done, self.tick if self.status is not None else None)

    def _track(self, unit: Unit, reqs: list[GenRequest]) -> list[GenRequest]:
        for r in reqs:
            self.owner[id(r)] = unit
        self.in_flight += len(reqs)
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.in_flight)
        if self.stats.in_flight_log is not None:
            self.stats.in_flight_log.append((time.perf_counter(), self.in_flight))
        return reqs

    def _admit(self) -> list[GenRequest]:
        """The first requests of units admitted while fewer than the target are in flight."""
        out: list[GenRequest] = []
        while not self.exhausted and self.in_flight < self.limit:
            unit = next(self.units, None)
            if unit is None:
                self.exhausted = True
                break
            sched = TreeScheduler(self.engine, unit.jobs, unit.attempts, reuse=self.reuse, progress=self.progress)
            try:
                reqs = sched.start()
            except Exception as e:  # noqa: BLE001 - this unit cannot start (a budget error): the others go on
                self.on_error(unit, e)
                continue
            unit.scheduler = sched
            self.active.append(unit)
            self.stats.admitted += 1
            out += self._track(unit, reqs)
            if sched.complete:  # nothing to ask (cannot happen with jobs, but never leave a unit hanging)
                self._complete(unit)
        return out

    def _on_done(self, req: GenRequest, res: GenResult) -> list[GenRequest]:
        unit = self.owner.pop(id(req))
        self.in_flight -= 1
        sched = unit.scheduler
        assert sched is not None
        out = self._track(unit, sched.on_done(req, res))
        if sched.complete and unit in self.active:
            self._complete(unit)
        out += self._admit()
        self.tick()
        return out

    def _complete(self, unit: Unit) -> None:
        sched = unit.scheduler
        assert sched is not None
        self.active.remove(unit)
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
