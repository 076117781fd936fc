"""Grading in worker processes: a hard wall-clock timeout per item, an address-space limit, and
dead workers restarted. A timed-out item is incorrect with reason ``timeout``; a worker that dies
(e.g. out of memory) gives ``worker_died``. Items are streamed to each worker in chunks and the
per-item clock restarts at every answer, so the isolation costs little throughput. A worker's clock starts
only once it says it is ready (its imports done and one item graded to warm the parser): a spawned worker
takes seconds to import the grader on a loaded machine, and that time must not turn a correct answer into
a ``timeout``."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import resource
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import wait
from typing import Any

from evalkit.grade.config import GraderConfig, Item
from evalkit.grade.response import grade_item_inprocess
from evalkit.records import Grade, GradeError
from evalkit.records import GradeReason as R


def _limit_memory(max_bytes: int | None) -> None:
    if not max_bytes:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    # the budget is on top of what the process maps already: a worker forked from a process holding
    # pyarrow, numpy and their thread arenas starts with more than 2 GB of address space, and an
    # absolute cap below that made its first allocation fail (the "worker_died" crashes seen in tests)
    cap = max_bytes + _mapped_bytes()
    cap = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _mapped_bytes() -> int:
    """This process's virtual memory size (Linux; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _fault(kind: str) -> None:
    """Fault injection for tests of the sandbox itself: what a pathological item would do."""
    if kind == "hog":
        _ = bytearray(16 << 30)
    elif kind == "hang":
        while True:
            pass
    elif kind == "crash":
        os._exit(3)


READY = "ready"  # what a worker sends once it can grade
STARTUP_S = 300.0  # a worker that is not ready by then is taken for dead


def _worker(conn: Any, cfg: GraderConfig, max_bytes: int | None, faults: dict[str, str] | None = None) -> None:
    _limit_memory(max_bytes)
    with contextlib.suppress(Exception):  # warm-up: the parser's lazy imports happen here, off the clock
        grade_item_inprocess(Item("\\boxed{1}", "1", "math"), cfg)
    conn.send(READY)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        for idx, item in msg:
            try:
                if faults and item.response in faults:
                    _fault(faults[item.response])
                g = grade_item_inprocess(item, cfg)
            except MemoryError:
                g = Grade(False, None, R.MEMORY_LIMIT, "")
            except Exception as e:  # noqa: BLE001 - a grader bug must not kill the sweep
                g = Grade(False, None, GradeError.of(e), "")
            conn.send((idx, g))


class _Slot:
    def __init__(self, ctx: Any, cfg: GraderConfig, max_bytes: int | None,
                 faults: dict[str, str] | None = None) -> None:
        self.ctx, self.cfg, self.max_bytes, self.faults = ctx, cfg, max_bytes, faults
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.cfg, self.max_bytes, self.faults),
                                     daemon=True)
        self.proc.start()
        child.close()
        self.queue: list[int] = []  # item indices sent, not yet answered
        self.ready = False  # the worker said READY: the per-item clock runs
        self.started = time.monotonic()
        self.deadline = 0.0

    def arm(self, timeout: float) -> None:
        """Restart the clock of the item at the head of the queue (a worker not ready yet gets its start-up
        allowance instead)."""
        self.deadline = time.monotonic() + (timeout if self.ready else STARTUP_S)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


class SandboxGrader:
    """``SandboxGrader(workers=2).grade(items)`` -> one :class:`Grade` per item, in order."""

    def __init__(self, cfg: GraderConfig | None = None, *, workers: int = 1, timeout_s: float | None = None,
                 max_memory_mb: int | None = 2048, chunk: int = 32, context: str | None = None,
                 faults: dict[str, str] | None = None) -> None:
        """``context``: multiprocessing start method (default: fork, or spawn when an inference engine
        is loaded). ``faults``: response text -> "hog" | "hang" | "crash", for testing the sandbox."""
        self.cfg = cfg or GraderConfig()
        self.timeout = float(timeout_s if timeout_s is not None else self.cfg.timeout_s)
        self.max_bytes = max_memory_mb * (1 << 20) if max_memory_mb else None
        self.chunk = chunk
        # fork is fast, but not from a process holding an inference engine's threads and memory
        heavy = any(m in sys.modules for m in ("vllm", "torch"))
        self.ctx = mp.get_context(context or ("fork" if hasattr(os, "fork") and not heavy else "spawn"))
        self.slots = [_Slot(self.ctx, self.cfg, self.max_bytes, faults) for _ in range(max(1, workers))]
        self.restarts = 0
        self.startup_s = 0.0  # time workers took to become ready (off every item's clock)

    def close(self) -> None:
        for s in self.slots:
            with contextlib.suppress(BrokenPipeError, OSError):
                s.conn.send(None)
            s.proc.join(timeout=1)
            if s.proc.is_alive():
                s.kill()

    def __enter__(self) -> SandboxGrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _restart(self, s: _Slot) -> None:
        s.kill()
        s.start()
        self.restarts += 1

    def grade(self, items: Sequence[Item]) -> list[Grade]:
        out: list[Grade | None] = [None] * len(items)
        todo = list(range(len(items)))[::-1]  # a stack: pop() takes the next item
        while todo or any(s.queue for s in self.slots):
            for s in self.slots:  # keep every idle worker fed with a chunk
                if not s.queue and todo:
                    batch = [todo.pop() for _ in range(min(self.chunk, len(todo)))]
                    try:
                        s.conn.send([(i, items[i]) for i in batch])
                    except (BrokenPipeError, OSError):
                        self._restart(s)
                        todo.extend(reversed(batch))
                        continue
                    s.queue = batch
                    s.arm(self.timeout)
            busy = [s for s in self.slots if s.queue]
            if not busy:
                continue
            now = time.monotonic()
            ready = wait([s.conn for s in busy], timeout=max(0.0, min(s.deadline for s in busy) - now))
            for s in busy:
                if s.conn in ready:
                    try:
                        msg = s.conn.recv()
                        if msg == READY:
                            s.ready = True
                            self.startup_s += time.monotonic() - s.started
                            s.arm(self.timeout)
                            continue
                        idx, g = msg
                    except (EOFError, OSError):  # the worker died (memory limit, segfault)
                        out[s.queue[0]] = Grade(False, None, R.WORKER_DIED, "")
                        rest = s.queue[1:]
                        self._restart(s)
                        todo.extend(reversed(rest))
                        continue
                    out[idx] = g
                    s.queue.remove(idx)
                    s.arm(self.timeout)
                elif time.monotonic() >= s.deadline:
                    out[s.queue[0]] = Grade(False, None, R.TIMEOUT, "")
                    rest = s.queue[1:]
                    self._restart(s)
                    todo.extend(reversed(rest))
        return out  # type: ignore[return-value]  # the loop above fills every slot of `out`
