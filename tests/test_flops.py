"""FLOPs model: hand-computed toy config, Qwen2.5-32B closed forms, per-row accounting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.pipeline.flops import ModelShape, sample_flops, sequence_flops, span_flops, token_flops

CONFIGS = Path(__file__).resolve().parents[1] / "evalkit" / "data" / "model_configs"
TOY = {"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
       "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 10, "tie_word_embeddings": True}


def qwen32() -> ModelShape:
    return ModelShape.from_config(json.loads((CONFIGS / "qwen2.5-32b-instruct.json").read_text()))


def test_toy_config_by_hand() -> None:
    s = ModelShape.from_config(TOY)
    # head_dim 4; q 8x8, k and v 8x4 each, o 8x8 -> 64+32+32+64 = 192; gated MLP 3x8x16 = 384
    assert (s.head_dim, s.attn_params, s.mlp_active_params) == (4, 192, 384)
    assert s.n_active == 2 * (192 + 384) + 10 * 8  # LM head counted even when tied
    # token at position 3: 2N + 4 L n_h d_h t = 2*1232 + 4*2*2*4*3
    assert token_flops(s, 3) == 2 * 1232 + 4 * 2 * 2 * 4 * 3
    # a 2-token prompt and 3 generated tokens = positions 1..5
    assert sequence_flops(s, 2, 3).total == sum(token_flops(s, t) for t in range(1, 6))
    assert span_flops(s, 2, 3) == sum(token_flops(s, t) for t in range(3, 6))


def test_qwen32b_parameter_count() -> None:
    s = qwen32()
    embed, norms = s.vocab * s.hidden, s.layers * 2 * s.hidden + s.hidden
    assert s.n_active + embed + norms == 32_763_876_352  # Qwen2.5-32B's parameter count (q/k/v biases included)


def test_qwen32b_attention_share_closed_form() -> None:
    s = qwen32()
    t = 16_384
    attn = 4 * 64 * 40 * 128 * t
    expected = attn / (2 * s.n_active + attn)
    got = (token_flops(s, t) - 2 * s.n_active) / token_flops(s, t)
    assert got == pytest.approx(expected, rel=1e-12)
    assert 0.24 < got < 0.26  # a quarter of a token's FLOPs at a 16k context


def test_two_n_approximation_at_context_one() -> None:
    for name in ("qwen2.5-32b-instruct", "qwen2.5-7b-instruct", "qwen2.5-coder-0.5b", "smollm2-135m"):
        s = ModelShape.from_config(json.loads((CONFIGS / f"{name}.json").read_text()))
        assert abs(token_flops(s, 1) / (2 * s.n_active) - 1) < 0.01


def test_accounting_modes() -> None:
    s = qwen32()
    f = sample_flops(s, np.array([200, 200]), np.array([1000, 50]), np.array([0.25, 0.25]))
    prompt = span_flops(s, 0, 200)
    assert f["naive"][0] - f["prefix_cached"][0] == pytest.approx(0.75 * prompt)
    assert (f["kv_read"] > f["prefix_cached"]).all()
    assert f["naive"][0] > f["naive"][1]


def test_cli_flops_breakdown() -> None:
    res = CliRunner().invoke(app, ["flops", "--model", "qwen2.5-32b-instruct", "--prompt", "200", "--think", "8000",
                                   "--answer", "50"])
    assert res.exit_code == 0, res.output
    assert "thinking (decode)" in res.output and "prefix_cached" in res.output
    bad = CliRunner().invoke(app, ["flops", "--model", "no-such-model"])
    assert bad.exit_code == 2 and "qwen2.5-32b-instruct" in bad.output
