"""Inference FLOPs of decoder-only transformers, from a Hugging Face config (pure functions).

Per token, the forward pass costs ``2 * N_active`` FLOPs for the weight matmuls (N_active:
non-embedding weights of the active path plus the LM head; the embedding lookup is free) plus an
attention term that grows with the token's context position t (the number of keys it attends to,
itself included): QK^T and AV over all query heads, ``4 * L * n_heads * head_dim * t``. A sequence
of prompt p then generated g tokens costs, summing positions 1..p+g (prefill and decode alike):

    2 N (p + g) + 2 L n_h d_h (p + g) (p + g + 1)

Accounting modes for a set of samples that share prompts (see :func:`cell_flops`):

- ``naive``: every sample pays its whole prompt and its own tokens;
- ``prefix_cached``: a prompt is paid once per problem (its KV cache serves every sample and seed of
  the cell); each sample pays its own tokens, attending over the full context;
- ``kv_read``: ``prefix_cached`` plus a memory-traffic proxy for decode: every decoded token reads the
  K and V cache of its context, ``2 L n_kv d_h t`` elements, converted at ``flops_per_kv_element``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MODES = ("naive", "prefix_cached", "kv_read")


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    qkv_bias: bool = False
    gated_mlp: bool = True
    experts_per_token: int = 1  # MoE: routed experts active per token (1 for dense models)
    expert_intermediate: int | None = None
    shared_experts: int = 0

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> ModelShape:
        cfg = cfg.get("text_config", cfg)
        try:
            heads = int(cfg["num_attention_heads"])
            hidden = int(cfg["hidden_size"])
            return cls(
                layers=int(cfg["num_hidden_layers"]),
                hidden=hidden,
                intermediate=int(cfg["intermediate_size"]),
                heads=heads,
                kv_heads=int(cfg.get("num_key_value_heads") or heads),
                head_dim=int(cfg.get("head_dim") or hidden // heads),
                vocab=int(cfg["vocab_size"]),
                tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
                qkv_bias=bool(cfg.get("attention_bias", cfg.get("model_type") == "qwen2")),
                gated_mlp=cfg.get("hidden_act", "silu") in ("silu", "swiglu", "gelu_pytorch_tanh", "geglu")
                or cfg.get("model_type") in ("llama", "qwen2", "qwen3", "mistral", "qwen2_moe", "qwen3_moe"),
                experts_per_token=int(cfg.get("num_experts_per_tok") or 1),
                expert_intermediate=cfg.get("moe_intermediate_size"),
                shared_experts=int(
                    cfg.get("n_shared_experts") or (1 if cfg.get("shared_expert_intermediate_size") else 0)
                ),
            )
        except KeyError as e:
            raise ValueError(f"model config lacks {e.args[0]!r}") from None

    @property
    def attn_params(self) -> int:
        q = self.hidden * self.heads * self.head_dim
        kv = 2 * self.hidden * self.kv_heads * self.head_dim
        o = self.heads * self.head_dim * self.hidden
        bias = (self.heads + 2 * self.kv_heads) * self.head_dim if self.qkv_bias else 0
        return q + kv + o + bias

    @property
    def mlp_active_params(self) -> int:
        mats = 3 if self.gated_mlp else 2
        if self.expert_intermediate:
            per_expert = mats * self.hidden * int(self.expert_intermediate)
            return per_expert * (self.experts_per_token + self.shared_experts)
        return mats * self.hidden * self.intermediate

    @property
    def n_active(self) -> int:
        """Non-embedding active weights plus the LM head: the 2N in FLOPs per token."""
        return self.layers * (self.attn_params + self.mlp_active_params) + self.vocab * self.hidden

    @property
    def attn_coeff(self) -> int:
        """Attention FLOPs per (token, key) pair: 4 L n_h d_h (QK^T and AV, multiply-adds as 2)."""
        return 4 * self.layers * self.heads * self.head_dim

    @property
    def kv_elems_per_position(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim


def token_flops(shape: ModelShape, t: int | np.ndarray) -> float | np.ndarray:
    """Forward FLOPs of one token at context position t (>= 1)."""
    return 2.0 * shape.n_active + shape.attn_coeff * np.asarray(t, dtype=float)


def span_flops(shape: ModelShape, start: int | np.ndarray, length: int | np.ndarray) -> float | np.ndarray:
    """FLOPs of the tokens at positions start+1 .. start+length (closed form)."""
    s = np.asarray(start, dtype=float)
    g = np.asarray(length, dtype=float)
    pos_sum = g * s + g * (g + 1) / 2
    return 2.0 * shape.n_active * g + shape.attn_coeff * pos_sum


def span_kv_reads(shape: ModelShape, start: int | np.ndarray, length: int | np.ndarray) -> float | np.ndarray:
    s = np.asarray(start, dtype=float)
    g = np.asarray(length, dtype=float)
    return shape.kv_elems_per_position * (g * s + g * (g + 1) / 2)


@dataclass(frozen=True)
class FlopsBreakdown:
    prefill: float
    decode: float
    attention: float  # part of prefill + decode spent on QK^T and AV
    kv_read_elements: float
    total: float

    @property
    def attention_share(self) -> float:
        return self.attention / self.total if self.total else 0.0


def sequence_flops(shape: ModelShape, prompt: int, generated: int) -> FlopsBreakdown:
    """One sequence: prefill ``prompt`` tokens, then decode ``generated`` tokens."""
    pre = float(span_flops(shape, 0, prompt))
    dec = float(span_flops(shape, prompt, generated))
    attn = shape.attn_coeff * ((prompt + generated) * (prompt + generated + 1) / 2)
    kv = float(span_kv_reads(shape, prompt, generated))
    return FlopsBreakdown(pre, dec, float(attn), kv, pre + dec)


def sample_flops(
    shape: ModelShape,
    prompt_tokens: np.ndarray,
    new_tokens: np.ndarray,
    prompt_share: np.ndarray,
    *,
    flops_per_kv_element: float = 300.0,
) -> dict[str, np.ndarray]:
    """Per-sample FLOPs under each mode.

    ``new_tokens``: tokens after the prompt (thinking, injected controls, delimiter, answer);
    ``prompt_share``: the fraction of the prompt's prefill this sample pays under ``prefix_cached``
    (1 / the number of samples of the cell that share the problem's prompt). The KV proxy converts
    elements read to FLOP-equivalents (default 300: bf16 at ~150 FLOP per byte of bandwidth).
    """
    p = np.asarray(prompt_tokens, dtype=float)
    g = np.asarray(new_tokens, dtype=float)
    prompt = span_flops(shape, 0, p)
    own = span_flops(shape, p, g)
    cached = prompt * np.asarray(prompt_share, dtype=float) + own
    return {
        "naive": prompt + own,
        "prefix_cached": cached,
        "kv_read": cached + flops_per_kv_element * span_kv_reads(shape, p, g),
    }
