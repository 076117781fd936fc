"""The filled run in process (issue #37): vLLM on this CPU drives the same FillRun as the served engine.

    python benchmarks/fill_inprocess.py [--max-in-flight 1 32] [--seeds 4]

Runs one small sweep on the smollm2 pack (float32: batch-invariant on CPUs, so every run gives the same
rows) once per ``--max-in-flight`` value and prints, per run, the requests in vLLM's engine at each of its
steps (the engine's own step log: sent and unfinished, which vLLM schedules together up to its
``max_num_seqs``), the number of steps, the wall time, and whether the rows equal the first run's.
On a CPU the default stays 1 (bf16 is not batch-invariant); a GPU's default is 256.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if (Path.cwd() / "evalkit").is_dir():  # the working directory's evalkit
    sys.path.insert(0, str(Path.cwd()))

SPEC = """\
name: fill_inprocess
model: {{id: smollm2-135m, engine: {{dtype: float32, max_model_len: 1024, seed: 0}}}}
tasks: [{{name: math500, where: {{level: [1, 2]}}, limit: 8}}]
seeds: [{seeds}]
sampling: {{temperature: 0.8, top_p: 1.0, answer_max_tokens: 16}}
sequential: {{caps: [48, 128], ignores: [0, 1]}}
executor: {{chunk_size: 4, retries: 0, max_in_flight: {limit}}}
"""


def run(limit: int, seeds: int, out: Path) -> dict[str, Any]:
    from evalkit.generate.packs import pack_dir
    from evalkit.pipeline import run_sweep
    from evalkit.pipeline.models import vllm_factory
    from evalkit.pipeline.observer import Collect
    from evalkit.spec import build_plan, parse_spec
    from evalkit.store import ResultStore

    engines: list[Any] = []

    def factory(model_id: str, path: str, args: dict[str, Any], plan: Any) -> Any:
        e = vllm_factory(model_id, path, args, plan)
        e.step_log = []
        engines.append(e)
        return e

    plan = build_plan(parse_spec(SPEC.format(seeds=", ".join(map(str, range(seeds))), limit=limit)))
    t0 = time.perf_counter()
    res = run_sweep(plan, out, engine=factory, resolve=lambda m: (str(pack_dir(m)), {"kind": "pack"}),
                    observer=Collect())
    wall = time.perf_counter() - t0
    live = np.array([n for e in engines for _, n in e.step_log])
    rows = ResultStore(out / "fill_inprocess").read_rows().drop(columns=["wall_s", "provenance"])
    return {"limit": limit, "samples": res.samples, "tokens": res.generated_tokens, "steps": len(live),
            "mean": float(live.mean()), "p50": float(np.median(live)), "max": int(live.max()),
            "generate_s": res.generate_s, "wall_s": wall, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-in-flight", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--seeds", type=int, default=4)
    a = ap.parse_args()
    flags = next((x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("flags")), "")
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f" {f}" in flags]
    print(f"CPU flags: {' '.join(isa)}")
    print("| max_in_flight | samples | generated tokens | engine steps | requests per step: mean / median / max "
          "| generate s | rows as the first run |")
    print("|---|---|---|---|---|---|---|")
    first = None
    for limit in a.max_in_flight:
        with tempfile.TemporaryDirectory() as tmp:
            r = run(limit, a.seeds, Path(tmp))
        same = "-" if first is None else ("identical" if r["rows"].equals(first) else "DIFFER")
        first = r["rows"] if first is None else first
        print(f"| {limit} | {r['samples']} | {r['tokens']:,} | {r['steps']:,} | {r['mean']:.1f} / {r['p50']:.0f} / "
              f"{r['max']} | {r['generate_s']:.1f} | {same} |", flush=True)


if __name__ == "__main__":
    main()
