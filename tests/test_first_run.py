"""The first run as a newcomer sees it: the quickstart path on the SmolLM2 pack in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_engine_vllm import REQUIRED, _missing

pytestmark = pytest.mark.engine


def test_first_run_is_quiet_and_shows_progress(tmp_path: Path) -> None:
    """The quickstart path on the SmolLM2 pack, output captured (not a terminal): no line of vLLM,
    torch or transformers reaches it (they are in logs/engine.log), tables print as Markdown, a
    progress line comes before the first trajectory completes, and the run ends with what to do next."""
    import re
    import subprocess
    import sys

    why = _missing()
    if why:
        if REQUIRED:
            pytest.fail(f"EVALKIT_REQUIRE_ENGINE=1 but {why}")
        pytest.skip(why)
    spec = tmp_path / "first.yaml"
    # its own module: the engine fixtures of test_engine_vllm.py hold 0.4 of the memory each while alive
    spec.write_text("""\
name: first
model: {id: smollm2-135m, engine: {max_model_len: 1024, gpu_memory_utilization: 0.1}}
tasks: [{name: math500, where: {level: [1]}, limit: 4}]
seeds: [0]
sampling: {temperature: 0.7, answer_max_tokens: 24}
sequential: {caps: [16, 32], ignores: [0, 1]}
""")
    proc = subprocess.run([sys.executable, "-m", "evalkit.cli", "sweep", str(spec), "--results", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.splitlines() + proc.stdout.splitlines()
    engine_like = re.compile(r"\b(INFO|WARNING|DEBUG)\b|vllm|EngineCore|torch|transformers|Warning:", re.I)
    assert not [ln for ln in lines if engine_like.search(ln)], "\n".join(ln for ln in lines if engine_like.search(ln))
    log = (tmp_path / "r" / "first" / "logs" / "engine.log").read_text()
    assert re.search(r"\bINFO\b", log) and "vllm" in log.lower()  # the engine's lines went here
    err = proc.stderr.splitlines()
    progress = [ln for ln in err if ln.startswith("[batch 1/1]") and "tokens" in ln]
    assert progress and re.search(r"trajectories 0/\d+, answers 0/\d+", progress[0])  # before any finished
    assert re.search(r"\d+ trajectories and \d+ distinct answers", "\n".join(err))
    assert "| task | cap |" in proc.stdout and "┃" not in proc.stdout  # Markdown, not a cut box
    assert err[-1].startswith("next: the report is") and "evalkit claims" in err[-1]
