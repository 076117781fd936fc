"""The engine settings evalkit picks per CPU (issue #38): float32 where bf16 would be emulated."""

from __future__ import annotations

import pytest

from evalkit.generate import engine as engine_mod
from evalkit.generate.hardware import cpu_engine_choice

AVX2 = {"fpu", "sse4_2", "avx", "avx2", "fma", "f16c"}  # an AMD EPYC 7002 (Zen 2) / Intel Haswell-class CPU
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"}  # Skylake / Cascade Lake: no bf16
ZEN4 = AVX512 | {"avx512_bf16"}
SPR = ZEN4 | {"amx_tile", "amx_bf16", "amx_int8"}


@pytest.mark.parametrize("flags, dtype", [(AVX2, "float32"), (AVX512, "float32"), (ZEN4, None), (SPR, None)])
def test_float32_exactly_where_the_cpu_has_no_native_bf16(flags, dtype) -> None:
    c = cpu_engine_choice(flags, "x86_64")
    assert c["dtype"] == dtype
    assert ("no native bf16" in c["why"]) == (dtype == "float32")


def test_arm_bf16_flag_counts_and_other_architectures_keep_vllms_choice() -> None:
    assert cpu_engine_choice({"asimd", "bf16", "i8mm"}, "aarch64")["dtype"] is None
    assert cpu_engine_choice({"asimd"}, "aarch64")["dtype"] == "float32"
    assert cpu_engine_choice(set(), "ppc64le")["dtype"] is None


def test_default_engine_args_apply_the_choice_on_a_cpu_only(monkeypatch) -> None:
    monkeypatch.setattr(engine_mod, "cpu_engine_choice", lambda: {"dtype": "float32", "why": "test"})
    assert engine_mod.default_engine_args(False)["dtype"] == "float32"
    assert "dtype" not in engine_mod.default_engine_args(True)
    monkeypatch.setattr(engine_mod, "cpu_engine_choice", lambda: {"dtype": None, "why": "test"})
    assert "dtype" not in engine_mod.default_engine_args(False)


def test_the_served_command_carries_the_choice(monkeypatch) -> None:
    from evalkit.generate import server

    monkeypatch.setattr(engine_mod, "cpu_engine_choice", lambda: {"dtype": "float32", "why": "test"})
    cmd = server.serve_command("/m", "m", cuda=False)
    assert cmd[cmd.index("--dtype") + 1] == "float32"
    cmd = server.serve_command("/m", "m", cuda=False, args={"dtype": "bfloat16"})  # an explicit dtype wins
    assert cmd[cmd.index("--dtype") + 1] == "bfloat16"


def test_a_cpu_engine_gets_a_fixed_kv_cache_unless_a_fraction_is_given(monkeypatch) -> None:
    monkeypatch.setattr(engine_mod, "_total_ram", lambda: 24 << 30)
    args = engine_mod.engine_args(False)
    assert args["kv_cache_memory_bytes"] == 4 << 30  # 0.4 of 24 GiB, capped at 4 GiB
    monkeypatch.setattr(engine_mod, "_total_ram", lambda: 4 << 30)
    assert engine_mod.engine_args(False)["kv_cache_memory_bytes"] == int(0.4 * (4 << 30))
    given = engine_mod.engine_args(False, {"gpu_memory_utilization": 0.1})  # the spec's fraction is what vLLM uses
    assert "kv_cache_memory_bytes" not in given and given["gpu_memory_utilization"] == 0.1
    both = engine_mod.engine_args(False, {"gpu_memory_utilization": 0.1, "kv_cache_memory_bytes": "512M"})
    assert both["kv_cache_memory_bytes"] == "512M"
    assert "kv_cache_memory_bytes" not in engine_mod.engine_args(True)  # CUDA: vLLM's own profiling


def test_the_contamination_embedder_uses_the_same_probe() -> None:
    from evalkit.generate.hardware import native_bf16

    assert native_bf16(ZEN4) and native_bf16(SPR) and not native_bf16(AVX2) and not native_bf16(AVX512)
    assert native_bf16({"asimd", "bf16"}) and not native_bf16({"asimd", "bf16"}, x86_only=True)


def test_a_resume_on_another_cpu_generates_in_the_dtype_of_the_stored_rows(tmp_path, monkeypatch) -> None:
    """Rows generated in bf16 (a CPU with native bf16), resumed where evalkit would choose float32 (an
    AVX2-only CPU): the rest of the sweep runs in bf16 too, and the run says so."""
    from pathlib import Path

    from evalkit.generate.scripted import ScriptedEngine
    from evalkit.pipeline import context, run_sweep
    from evalkit.pipeline.models import scripted_factory, scripted_resolve
    from evalkit.pipeline.observer import Collect
    from evalkit.spec import build_plan, parse_spec
    from evalkit.store import ResultStore

    asked: list[dict] = []

    def factory(model_id, path, engine_args, plan):  # the scripted engine, standing in for vLLM
        asked.append(dict(engine_args))
        eng = scripted_factory(model_id, path, {k: v for k, v in engine_args.items() if k != "dtype"}, plan)
        assert isinstance(eng, ScriptedEngine)
        eng.kind, eng.dtype_used = "vllm", engine_args.get("dtype") or "bfloat16"  # vLLM's auto: the model's
        return eng

    def sweep(seeds: str) -> Collect:
        plan = build_plan(parse_spec(f"name: r\nmodel: {{id: smollm2-135m}}\n"
                                     f"tasks: [{{name: math500, limit: 2}}]\nseeds: {seeds}\n"
                                     "sampling: {answer_max_tokens: 8}\nsequential: {caps: [16]}\n"))
        seen = Collect()
        res = run_sweep(plan, tmp_path, engine=factory, resolve=scripted_resolve, observer=seen)
        assert not res.failed_batches and res.samples
        return seen

    monkeypatch.setattr(context, "has_cuda", lambda: False)
    monkeypatch.setattr(context, "cpu_engine_choice", lambda: {"dtype": None, "why": "native bf16"})
    sweep("[0]")
    assert "dtype" not in asked[-1]
    models = ResultStore(Path(tmp_path) / "r").read_manifest()["models"]
    assert models["smollm2-135m"]["dtype_used"] == "bfloat16"
    monkeypatch.setattr(context, "cpu_engine_choice", lambda: {"dtype": "float32", "why": "no native bf16"})
    seen = sweep("[0, 1]")  # another seed, on the other CPU
    assert asked[-1]["dtype"] == "bfloat16"
    assert any("generating in bfloat16, the dtype of its stored rows" in m for m in seen.messages), seen.messages
    assert ResultStore(Path(tmp_path) / "r").read_manifest()["models"]["smollm2-135m"]["dtype_used"] == "bfloat16"
