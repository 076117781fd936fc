"""Think formats: how a model's thinking starts and ends, and what is appended to elicit the answer."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ThinkFormat:
    """``start`` is appended after the chat template's assistant prompt. Thinking ends when the model
    samples one of ``end_tokens`` (each must be a single token in the model's tokenizer) or the
    tokenizer's end-of-sequence token(s) if ``eos_ends_thinking``. The harness then appends
    ``delimiter`` (the normalised end-of-thinking string), plus ``answer_prefix`` when the end was
    forced by the cap or the model ended its turn with end-of-sequence instead of the delimiter (or
    always, if ``prefix_on_natural_end``; after end-of-sequence only if ``prefix_on_eos``), and
    generates the answer."""

    name: str
    start: str
    end_tokens: tuple[str, ...]
    delimiter: str
    answer_prefix: str = "Final Answer:"
    eos_ends_thinking: bool = True
    prefix_on_natural_end: bool = False
    prefix_on_eos: bool = True  # False: as s1's lm-eval fork, the prefix marks a cap-forced end only


PRESETS: dict[str, ThinkFormat] = {
    # s1 / s1.1 (ChatML): "<|im_start|>think\n ... <|im_start|>answer\n ..."
    "s1": ThinkFormat(
        name="s1",
        start="<|im_start|>think\n",
        end_tokens=("<|im_start|>",),
        delimiter="<|im_start|>answer\n",
    ),
    # DeepSeek-R1 / QwQ / Qwen3: "<think>\n ... </think>\n\n ..."
    "think_tags": ThinkFormat(
        name="think_tags",
        start="<think>\n",
        end_tokens=("</think>",),
        delimiter="</think>\n\n",
    ),
    # Any chat model: thinking is the assistant turn; its end-of-sequence ends thinking and the answer
    # is elicited after it with the answer prefix.
    "plain": ThinkFormat(
        name="plain",
        start="",
        end_tokens=(),
        delimiter="\n\n",
        prefix_on_natural_end=True,
    ),
}


def get_format(name: str) -> ThinkFormat:
    """A preset by name, or a custom format given as the JSON of its fields (what a spec's mapping
    ``think_format: {start: ..., end_tokens: [...], delimiter: ...}`` becomes in a cell)."""
    if name.startswith("{"):
        d = json.loads(name)
        d.setdefault("name", "custom")
        d["end_tokens"] = tuple(d.get("end_tokens", ()))
        return ThinkFormat(**d)
    if name not in PRESETS:
        raise ValueError(f"unknown think format {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]
