"""Generated tokens of trajectory trees against running every cell on its own (s1's grid).

    python benchmarks/tree_reuse.py            # scripted engine (seconds)
    python benchmarks/tree_reuse.py --vllm     # + vLLM-CPU, qwen pack, 16 problems (about 10 minutes)
    python benchmarks/tree_reuse.py --vllm --repeat 3   # the vLLM timings 3 times, medians (about 30 minutes)

Grid: caps 512, 1k, 2k, 4k, 8k, 16k x ignores 0, 1, 2, 4, 6 x controls Wait / Hmm / Alternatively,
30 problems x 1 seed. The per-cell cost is what independent runs would generate: each cell's own
thinking (its control strings are injected, not generated), the end-of-thinking tokens it sampled,
and its answer. Targets: tree / per-cell <= 0.2; tree <= 1.10 x (longest trajectories + answers).
"""

from __future__ import annotations

import statistics
import time

from evalkit.generate import Job, ScriptedEngine, run_sequential
from evalkit.records import Cell, ForcingConfig, Problem, SamplingConfig

CAPS = (512, 1024, 2048, 4096, 8192, 16000)
IGNORES = (0, 1, 2, 4, 6)
CONTROLS = ("Wait", "Hmm", "Alternatively")


def per_cell_tokens(out) -> int:  # noqa: ANN001
    """What independent runs would generate: own thinking (controls are injected, not generated), the
    end-of-thinking tokens sampled, and the answer (with its stop token)."""
    return sum(g.thinking_tokens - g.control_tokens + (g.n_ignored + (g.thinking_end in ("delimiter", "eos")))
               + g.answer_tokens + (g.answer_finish == "stop") for g in out)


def vllm_part(engine_args: dict, repeat: int = 1) -> None:
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from evalkit.generate import VLLMEngine
    from evalkit.generate.packs import install
    from evalkit.spec import load_problems

    problems = load_problems("math500", where={"level": [1, 2]}, limit=16)
    engine = VLLMEngine(
        str(install("qwen2.5-coder-0.5b")), {"max_model_len": 2048, **engine_args}, name="qwen2.5-coder-0.5b"
    )
    cells = [Cell("math500", "qwen", "s1", ForcingConfig(cap=c, n_ignore=k, controls=("Wait",) if k else ()),
                  SamplingConfig(temperature=0.7, top_p=0.95, answer_max_tokens=64))
             for c in (128, 256, 512) for k in (0, 1, 2)]
    jobs = [Job(c, p, 0) for c in cells for p in problems]
    prompts = [TokensPrompt(prompt_token_ids=engine.tokenizer.encode(
        engine.tokenizer.chat_prompt(p.prompt) + "<|im_start|>think\n")) for p in problems]
    # equal conditions for every timed run: the engine is warm (one throw-away generation first) and
    # the prefix cache is empty, so each run computes its own prompts (otherwise a later run is
    # served the prompts an earlier one computed: 1,792 of 2,144 prompt tokens here)
    engine.llm.generate([TokensPrompt(prompt_token_ids=list(range(100, 164)))],
                        SamplingParams(max_tokens=16, temperature=0.7, top_p=0.95, seed=0), use_tqdm=False)

    def cold() -> None:
        if not engine.llm.reset_prefix_cache():
            raise RuntimeError("vLLM did not reset its prefix cache")

    n = len(prompts)

    def tree_run() -> tuple[float, int, int, list]:
        cold()
        engine.step_log = []
        toks, steps = engine.generated_tokens, engine.steps
        seen, cached = engine.prompt_tokens, engine.cached_prompt_tokens
        t0 = time.perf_counter()
        out = run_sequential(engine, jobs, reuse=True)
        wall = time.perf_counter() - t0
        log = engine.step_log + [(t0 + wall, 0)]
        by_live: dict[int, list[float]] = {}
        for (a, k), (b, _) in zip(log, log[1:], strict=False):
            by_live.setdefault(min(k // 16, 4), []).append(b - a)
        computed = (engine.prompt_tokens - seen) - (engine.cached_prompt_tokens - cached)
        return (
            wall,
            engine.generated_tokens - toks,
            engine.steps - steps,
            [out, by_live, computed, engine.prompt_tokens - seen],
        )

    def raw(lengths: list[int]) -> tuple[float, int, int]:
        params = [SamplingParams(max_tokens=m, ignore_eos=True, temperature=0.7, top_p=0.95, seed=i)
                  for i, m in enumerate(lengths)]
        cold()
        t0 = time.perf_counter()
        outs = engine.llm.generate(prompts, params, use_tqdm=False)
        wall = time.perf_counter() - t0
        computed = sum(len(o.prompt_token_ids) - (o.num_cached_tokens or 0) for o in outs)
        return wall, sum(len(o.outputs[0].token_ids) for o in outs), computed

    print(f"vLLM-CPU, qwen pack, {n} problems x {len(cells)} cells (caps 128/256/512 x ignores 0/1/2), "
          f"engine args {engine.resolved_args}; {repeat} repeat(s), each: tree, then the raw baselines")
    ratios: dict[str, list[float]] = {}
    for rep in range(repeat):
        tree_wall, tree, steps, (out, by_live, computed, seen) = tree_run()
        print(
            f" repeat {rep + 1}: tree generated tokens: {tree:,} in {tree_wall:.1f} s ({tree / tree_wall:.1f} tok/s), "
            f"{steps} engine steps ({tree_wall / steps:.3f} s/step); prompt tokens computed {computed:,} "
            f"(of {seen:,}; the rest from the prefix cache)"
        )
        for k in sorted(by_live):
            v = by_live[k]
            print(f"    requests in flight {16 * k}-{16 * k + 15 if k < 4 else '':>3}: {len(v)} steps, "
                  f"{sum(v) / len(v):.3f} s/step")
        if rep == 0:
            per = per_cell_tokens(out)
            print(f"  per-cell (independent) sum: {per:,}; ratio tree / per-cell: {tree / per:.3f} (target <= 0.2)")
        # raw LLM.generate of the same number of tokens, same prompts and sampling settings, one batch:
        # (a) equal lengths (the engine's best case); (b) one sequence as long as the tree's critical
        # path (its engine steps: 512 thinking + 64 answer tokens depend on each other here) and the
        # rest equal: same tokens in the same number of steps, which isolates the tree's own overhead
        # (re-fed contexts, follow-up scheduling) from the dependency chain any method generating
        # these sequences must wait for.
        longest = min(steps, tree - (n - 1))
        for name, lengths in (("equal lengths", [tree // n] * n),
                              ("same critical path", [longest] + [(tree - longest) // (n - 1)] * (n - 1))):
            wall, toks, raw_computed = raw(lengths)
            shape = f"{n} x {lengths[0]}" if name == "equal lengths" else f"1 x {lengths[0]} + {n - 1} x {lengths[1]}"
            ratio = (tree_wall / tree) / (wall / toks)
            ratios.setdefault(name, []).append(ratio)
            print(f"  raw LLM.generate, {name} ({shape} = {toks:,} tokens, {raw_computed:,} prompt tokens computed): "
                  f"{wall:.1f} s ({toks / wall:.1f} tok/s); wall-time ratio tree / raw per token: {ratio:.3f}")
    for name, v in ratios.items():
        print(f"  wall-time ratio tree / raw ({name}), median of {len(v)}: {statistics.median(v):.3f} "
              f"(runs: {', '.join(f'{x:.3f}' for x in v)}){'; target <= 1.05' if name == 'same critical path' else ''}")
    engine.close()


def main() -> None:
    import sys

    scripted()
    if "--vllm" in sys.argv:
        args = {}
        if "--block-size" in sys.argv:  # KV block size (prefix-cache granularity); evalkit's CPU default is 32
            args["block_size"] = int(sys.argv[sys.argv.index("--block-size") + 1])
        repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
        vllm_part(args, repeat)


def scripted() -> None:
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
    per_cell = per_cell_tokens(out)
    longest: dict[tuple, int] = {}
    for g in out:
        key = (g.problem_id, tuple(g.provenance["tree_controls"]))  # one trajectory per control
        longest[key] = max(longest.get(key, 0), g.provenance["tree_thinking_tokens"])
    answers = {}
    for g in out:  # identical answer contexts are generated once
        answers[(g.problem_id, tuple(g.thinking_ids), tuple(g.forced_ids))] = g.answer_tokens + (
            g.answer_finish == "stop"
        )
    lower = sum(longest.values()) + sum(answers.values())
    print(f"s1 grid on the scripted engine: {len(cells)} cells x {len(problems)} problems = {len(jobs)} samples")
    print(f"  tree generated tokens:      {tree:,} ({wall:.1f} s, {len(engine.calls)} engine calls)")
    print(f"  per-cell (independent) sum: {per_cell:,}")
    print(f"  ratio tree / per-cell:      {tree / per_cell:.3f} (target <= 0.2)")
    print(f"  longest trajectories + answers: {lower:,}; tree / that = {tree / lower:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
