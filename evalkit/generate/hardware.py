"""What the generations ran on: CPU model and the instruction-set flags that select engine kernels,
or GPU names and driver. Stored in every results manifest beside the engine version, because whether a
trajectory-tree branch is token-identical to an independent run depends on it (``docs/budget-forcing.md``)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

# flags that change which kernels vLLM / oneDNN / torch pick on x86 (AMX tiles above all) or ARM
KERNEL_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
                "amx_bf16", "amx_int8", "amx_fp16", "asimd", "sve", "sve2", "bf16", "i8mm")


def _cpuinfo() -> tuple[str | None, set[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or None, set()
    model, flags = None, set()
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and model is None:
            model = val.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(val.split())
    return model, flags


def _gpus() -> list[dict[str, str]]:
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    if r.returncode != 0:
        return []
    out = []
    for line in r.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            out.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    return out


def hardware() -> dict[str, Any]:
    """CPU model, core count, kernel-selecting ISA flags, and GPUs (name, driver) if any."""
    model, flags = _cpuinfo()
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "isa": sorted(f for f in KERNEL_FLAGS if f in flags),
        "amx": any(f.startswith("amx") for f in flags),
        "gpus": _gpus(),
    }
    return info


# x86 flags of native bf16 arithmetic (VDPBF16PS; AMX tiles); ARM's is "bf16"
NATIVE_BF16 = ("avx512_bf16", "amx_bf16", "bf16")


def native_bf16(flags: set[str] | None = None, *, x86_only: bool = False) -> bool:
    """Whether this CPU has native bf16 arithmetic (x86 ``avx512_bf16`` / ``amx_bf16``; ARM ``bf16`` unless
    ``x86_only``); ``flags`` default to ``/proc/cpuinfo``'s."""
    if flags is None:
        _, flags = _cpuinfo()
    return any(f in flags for f in (NATIVE_BF16[:2] if x86_only else NATIVE_BF16))


def cpu_engine_choice(flags: set[str] | None = None, machine: str | None = None) -> dict[str, Any]:
    """The dtype evalkit asks vLLM for on this CPU, and why (recorded in the manifest as ``cpu_choice``).

    A CPU with native bf16 arithmetic (``avx512_bf16``, ``amx_bf16``; ARM ``bf16``) keeps vLLM's own
    choice, bf16 for the packs' float32 weights. Without it vLLM-CPU emulates bf16 matmuls, and float32
    is the faster dtype there (measured by ``benchmarks/engine_cpu.py``, results in
    ``benchmarks/engine_cpu_results.md``); float32 is batch-invariant on a CPU besides
    (``docs/design/engine.md``). Returns ``{"dtype": ..., "why": ...}``; ``dtype`` None keeps vLLM's
    ``auto``. An explicit ``dtype`` in a spec's ``engine:`` always wins."""
    if flags is None:
        _, flags = _cpuinfo()
    machine = machine or platform.machine()
    if machine.lower() not in ("x86_64", "amd64", "aarch64", "arm64"):
        return {"dtype": None, "why": f"{machine}: vLLM's own dtype choice"}
    native = sorted(f for f in NATIVE_BF16 if f in flags)
    if native:
        return {"dtype": None, "why": f"native bf16 ({', '.join(native)}): vLLM's auto dtype (bf16)"}
    return {"dtype": "float32", "why": "no native bf16 arithmetic (avx512_bf16, amx_bf16 or ARM bf16): "
            "vLLM-CPU would emulate bf16, float32 is faster"}
