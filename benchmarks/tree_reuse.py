"""Generated tokens of trajectory trees against running every cell on its own (s1's grid).

    python benchmarks/tree_reuse.py            # scripted engine (seconds)

Grid: caps 512, 1k, 2k, 4k, 8k, 16k x ignores 0, 1, 2, 4, 6 x controls Wait / Hmm / Alternatively,
30 problems x 1 seed. The per-cell cost is what independent runs would generate: each cell's own
thinking (its control strings are injected, not generated), the end-of-thinking tokens it sampled,
and its answer. Targets: tree / per-cell <= 0.2; tree <= 1.10 x (longest trajectories + answers).
"""

from __future__ import annotations

import time

from evalkit.generate import Job, ScriptedEngine, run_sequential
from evalkit.records import Cell, ForcingConfig, Problem, SamplingConfig

CAPS = (512, 1024, 2048, 4096, 8192, 16000)
IGNORES = (0, 1, 2, 4, 6)
CONTROLS = ("Wait", "Hmm", "Alternatively")


def main() -> None:
    problems = [Problem("toy", f"p{i}", f"Problem {i}: compute {i} * 7.", str(7 * i), "math") for i in range(30)]
    engine = ScriptedEngine(golds={p.prompt: p.gold for p in problems}, p_end=1 / 1500, max_difficulty=6000)
    cells = []
    for cap in CAPS:
        for k in IGNORES:
            for ctl in CONTROLS if k else ("",):
                cells.append(Cell("toy", "scripted", "s1",
                                  ForcingConfig(cap=cap, n_ignore=k, controls=(ctl,) if k else ()),
                                  SamplingConfig(temperature=0.7, answer_max_tokens=64)))
    jobs = [Job(c, p, 0) for c in cells for p in problems]
    t0 = time.perf_counter()
    out = run_sequential(engine, jobs, reuse=True)
    wall = time.perf_counter() - t0
    tree = engine.generated_tokens
    per_cell = sum(g.thinking_tokens - g.control_tokens + (g.n_ignored + (g.thinking_end in ("delimiter", "eos")))
                   + g.answer_tokens + (g.answer_finish == "stop") for g in out)
    longest: dict[tuple, int] = {}
    for g in out:
        key = (g.problem_id, g.provenance["tree_cap"], g.provenance["tree_ignores"])
        longest[key] = max(longest.get(key, 0), g.provenance["tree_thinking_tokens"])
    answers = {}
    for g in out:  # identical answer contexts are generated once
        answers[(g.problem_id, tuple(g.thinking_ids), tuple(g.forced_ids))] = g.answer_tokens + (g.answer_finish == "stop")
    lower = sum(longest.values()) + sum(answers.values())
    print(f"s1 grid on the scripted engine: {len(cells)} cells x {len(problems)} problems = {len(jobs)} samples")
    print(f"  tree generated tokens:      {tree:,} ({wall:.1f} s, {len(engine.calls)} engine calls)")
    print(f"  per-cell (independent) sum: {per_cell:,}")
    print(f"  ratio tree / per-cell:      {tree / per_cell:.3f} (target <= 0.2)")
    print(f"  longest trajectories + answers: {lower:,}; tree / that = {tree / lower:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
