"""The unit of work of a sweep: batches of sample units still missing from the store."""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.records import stable_hash
from evalkit.spec import Plan


@dataclass(frozen=True)
class Batch:
    """One model, seed and chunk of one task's problems, for every cell that lacks samples there.
    Cells of a batch share trajectory trees."""

    model: str
    task: str
    seed: int
    chunk: int
    problem_ids: tuple[str, ...]
    cell_ids: tuple[str, ...]

    @property
    def batch_id(self) -> str:
        return f"{self.task}-s{self.seed}-c{self.chunk}-" + stable_hash(
            {"m": self.model, "p": self.problem_ids, "c": sorted(self.cell_ids)}, 8)


def plan_batches(plan: Plan, done: set[tuple[str, int, str]], *, force: bool = False) -> list[Batch]:
    """Batches covering every (cell, seed, problem) sample unit not in ``done``."""
    size = plan.spec.executor.chunk_size
    out: list[Batch] = []
    for entry in plan.spec.model_entries():
        for seed in plan.seeds:
            for name, sel in plan.selections.items():
                cells = [c for c in plan.cells if c.model == entry.id and c.task == name]
                if not cells:
                    continue
                pids = [p.problem_id for p in sel.problems(seed)]
                for ci in range(0, len(pids), size):
                    chunk = pids[ci:ci + size]
                    todo_cells = [c.cell_id for c in cells
                                  if force or any((c.cell_id, seed, p) not in done for p in chunk)]
                    if not todo_cells:
                        continue
                    missing = tuple(p for p in chunk
                                    if force or any((c, seed, p) not in done for c in todo_cells))
                    out.append(Batch(entry.id, name, seed, ci // size, missing, tuple(todo_cells)))
    return out
