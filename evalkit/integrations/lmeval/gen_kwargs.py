"""lm-eval ``gen_kwargs`` in the s1 fork's vocabulary, mapped onto evalkit's budget forcing.

The s1 authors forked lm-evaluation-harness and taught its vLLM model a second, "thinking" phase,
switched on when any generation keyword contains ``thinking`` (or ``rejection_sample`` is true):

=========================  =====================================================================
s1 keyword                 evalkit
=========================  =====================================================================
``max_tokens_thinking``    ``ForcingConfig.cap`` (an int, or ``auto``: what the context leaves, see
                           :meth:`LmEvalGen.budget`)
``thinking_n_ignore``      ``ForcingConfig.n_ignore``; as in s1 it also sets ``min_tokens`` to 1
``thinking_n_ignore_str``  ``ForcingConfig.controls`` (absent: the end attempt is dropped and nothing
                           is inserted, as in s1)
``thinking_start``         ``ThinkFormat.start`` (default ``<|im_start|>think``, no newline, as s1)
``thinking_end``           ``ThinkFormat.delimiter`` (default ``<|im_start|>answer``)
``until_thinking`` (+_2)   ``ThinkFormat.end_tokens`` (default ``<|im_start|>``; must be one token)
``min_tokens_thinking``    ``ForcingConfig.min_tokens``
``rejection_sample``       :func:`~evalkit.generate.forcing.run_rejection`
``max_gen_toks``           the answer's token budget (and, with ``auto``, the whole generation's)
=========================  =====================================================================

On the cap s1 appends ``thinking_end + "\\nFinal Answer:"``, so the format's answer prefix is
``"\\nFinal Answer:"``, used on the cap only (when end-of-sequence ends the thinking, s1 appends just
``thinking_end``). evalkit-only keywords: ``think_format`` (a preset or a format's JSON as the base that
the s1 keywords override), ``answer_max_tokens``, ``answer_prefix`` and ``rejection_max_attempts``.

What does not map exactly (also in ``docs/lm-eval.md``):

* s1 stops the thinking on the task's ``until`` strings too; evalkit stops it only on
  ``until_thinking`` tokens and end-of-sequence, and applies ``until`` to the answer text afterwards
  (as upstream lm-eval does for reasoning models).
* s1 inserts a newline before the forced delimiter when the thinking does not end in one; evalkit
  appends the delimiter as is.
* s1 gives each round after an ignored end ``max_tokens_thinking`` tokens and cuts the total to the
  cap afterwards, and requires at least one new token per round; evalkit gives each round what is
  left of the cap (the same text, by the prefix property of seeded sampling), injects a control
  string only if it and one more token fit, and applies ``min_tokens`` to the whole thinking.
* s1's rejection sampling loops without bound; evalkit stops after ``rejection_max_attempts``
  (default 16) and then budget-forces the last attempt (flagged in the row's provenance).
* s1 uses the longest prompt of a batch for ``auto``; evalkit uses each request's own prompt.
* Sampling settings per phase (s1's ``temperature_thinking`` etc.) are refused: evalkit samples both
  phases with one temperature and top_p.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.generate.formats import PRESETS, ThinkFormat, get_format
from evalkit.records import Cell

# The s1 fork's defaults: start and end strings without newlines, the cap's answer prefix after a newline.
S1_FORK_FORMAT = ThinkFormat(
    name="s1-lm-eval",
    start="<|im_start|>think",
    end_tokens=("<|im_start|>",),
    delimiter="<|im_start|>answer",
    answer_prefix="\nFinal Answer:",
    prefix_on_eos=False,  # the fork appends only thinking_end when the thinking stopped on its own
)

THINKING_KEYS = ("max_tokens_thinking", "thinking_n_ignore", "thinking_n_ignore_str", "thinking_start",
                 "thinking_end", "until_thinking", "until_thinking_2", "min_tokens_thinking", "rejection_sample")
EVALKIT_KEYS = ("think_format", "answer_max_tokens", "answer_prefix", "rejection_max_attempts")
SAMPLING_KEYS = ("until", "do_sample", "temperature", "top_p", "seed")
MAX_TOKEN_ALIASES = ("max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens")  # lm-eval's priority
AUTO_ANSWER_TOKENS = 100  # s1's `auto` leaves 100 tokens for the answer
DEFAULT_MAX_ATTEMPTS = 16


class GenKwargsError(EvalkitError, ValueError):
    """A gen_kwargs entry evalkit cannot honour; the message names the key."""


def _int(key: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise GenKwargsError(f"gen_kwargs {key}={value!r}: expected an integer")
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise GenKwargsError(f"gen_kwargs {key}={value!r}: expected an integer") from None
    if isinstance(value, float) and value != out:
        raise GenKwargsError(f"gen_kwargs {key}={value!r}: expected an integer")
    if out < minimum:
        raise GenKwargsError(f"gen_kwargs {key}={value!r}: must be >= {minimum}")
    return out


def _float(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise GenKwargsError(f"gen_kwargs {key}={value!r}: expected a number") from None


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise GenKwargsError(f"gen_kwargs {key}={value!r}: expected true or false")


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise GenKwargsError(f"gen_kwargs {key}={value!r}: expected a string")
    return value


def format_key(fmt: ThinkFormat) -> str:
    """The ``Cell.think_format`` string of a format: a preset's name when it is one, else its JSON."""
    if PRESETS.get(fmt.name) == fmt:
        return fmt.name
    d = asdict(fmt)
    d["end_tokens"] = list(fmt.end_tokens)
    return json.dumps(d, sort_keys=True)


@dataclass(frozen=True)
class LmEvalGen:
    """What one request's gen_kwargs ask for, in evalkit's terms."""

    thinking: bool  # a thinking phase (s1's rule: any *thinking* key, or rejection_sample)
    fmt: ThinkFormat
    cap: int | None  # None: `auto` (or no max_tokens_thinking)
    n_ignore: int
    controls: tuple[str, ...]
    min_tokens: int
    rejection: bool
    max_attempts: int
    temperature: float
    top_p: float
    max_gen_toks: int
    answer_max_tokens: int | None
    until: tuple[str, ...]
    seed: int | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def method(self) -> str:
        return "rejection" if self.rejection else "sequential"

    @classmethod
    def from_cell(cls, cell: Cell, *, until: tuple[str, ...] = (), seed: int | None = None) -> LmEvalGen:
        """The settings of an evalkit cell (sequential, rejection or parallel: the latter's n samples are
        lm-eval's task-level ``repeats``, not a gen_kwarg)."""
        f, s = cell.forcing, cell.sampling
        return cls(thinking=True, fmt=get_format(cell.think_format), cap=f.cap, n_ignore=f.n_ignore,
                   controls=tuple(f.controls) if f.n_ignore else (), min_tokens=f.min_tokens,
                   rejection=cell.method == "rejection", max_attempts=cell.max_attempts or DEFAULT_MAX_ATTEMPTS,
                   temperature=s.temperature, top_p=s.top_p, max_gen_toks=s.answer_max_tokens,
                   answer_max_tokens=s.answer_max_tokens, until=tuple(until), seed=seed)

    def budget(self, prompt_tokens: int, forced_tokens: int, max_model_len: int) -> tuple[int, int]:
        """(thinking cap, answer max tokens) for a prompt of ``prompt_tokens`` (think start included).

        ``auto`` (or no ``max_tokens_thinking``): the thinking takes what is left of
        ``min(max_gen_toks, context - prompt)`` after the forced delimiter + answer prefix and the
        answer's reserve (``answer_max_tokens``, default 100 as in s1). An explicit cap leaves the
        answer ``min(max_gen_toks, what the context still holds)``. Rejection sampling needs one
        token more (the probe that shows the thinking did not end within the cap)."""
        extra = 1 if self.rejection else 0
        room = max_model_len - prompt_tokens
        if self.cap is None:
            answer = self.answer_max_tokens or AUTO_ANSWER_TOKENS
            cap = min(self.max_gen_toks, room) - forced_tokens - answer - extra
            if cap < 1:
                raise GenKwargsError(
                    f"max_tokens_thinking=auto leaves no thinking tokens: prompt {prompt_tokens}, forced "
                    f"delimiter/prefix {forced_tokens}, answer reserve {answer}, max_gen_toks {self.max_gen_toks}, "
                    f"context {max_model_len}")
            return cap, answer
        fits = room - self.cap - extra - forced_tokens
        answer = min(self.answer_max_tokens or self.max_gen_toks, fits)
        if answer < 1:
            raise GenKwargsError(
                f"max_tokens_thinking={self.cap} does not fit: prompt {prompt_tokens} + thinking {self.cap + extra}"
                f" + forced delimiter/prefix {forced_tokens} leaves no answer tokens in a context of {max_model_len}")
        return self.cap, answer

    def gen_kwargs(self) -> dict[str, Any]:
        """These settings as gen_kwargs (what an export writes and the plugin reads back)."""
        out: dict[str, Any] = {"until": list(self.until), "max_gen_toks": self.max_gen_toks,
                               "do_sample": self.temperature > 0, "temperature": self.temperature,
                               "top_p": self.top_p}
        if self.seed is not None:
            out["seed"] = self.seed
        if not self.thinking:
            return out
        out["think_format"] = format_key(self.fmt)
        out["max_tokens_thinking"] = "auto" if self.cap is None else self.cap
        if self.n_ignore:
            out["thinking_n_ignore"] = self.n_ignore
            out["thinking_n_ignore_str"] = self.controls[0] if len(self.controls) == 1 else list(self.controls)
            if self.min_tokens != 1:
                out["min_tokens_thinking"] = self.min_tokens
        elif self.min_tokens:
            out["min_tokens_thinking"] = self.min_tokens
        if self.answer_max_tokens is not None:
            out["answer_max_tokens"] = self.answer_max_tokens
        if self.rejection:
            out["rejection_sample"] = True
            out["rejection_max_attempts"] = self.max_attempts
        return out


def _think_format(kw: dict[str, Any], default_format: ThinkFormat | None) -> ThinkFormat:
    """The think format of gen_kwargs: a named format, edited by s1's delimiter keywords."""
    fmt = default_format or S1_FORK_FORMAT
    if "think_format" in kw:
        try:
            fmt = get_format(_str("think_format", kw["think_format"]))
        except (ValueError, TypeError) as e:
            raise GenKwargsError(f"gen_kwargs think_format={kw['think_format']!r}: {e}") from None
    base = fmt
    if "thinking_start" in kw:
        fmt = replace(fmt, start=_str("thinking_start", kw["thinking_start"]))
    if "thinking_end" in kw:
        fmt = replace(fmt, delimiter=_str("thinking_end", kw["thinking_end"]))
    if "answer_prefix" in kw:
        fmt = replace(fmt, answer_prefix=_str("answer_prefix", kw["answer_prefix"]))
    if "until_thinking" in kw or "until_thinking_2" in kw:
        ends = [_str("until_thinking", kw.get("until_thinking", S1_FORK_FORMAT.end_tokens[0]))]
        if "until_thinking_2" in kw:
            ends.append(_str("until_thinking_2", kw["until_thinking_2"]))
        fmt = replace(fmt, end_tokens=tuple(ends))
    if fmt != base:
        fmt = replace(fmt, name="lm-eval")  # edited: no longer the named format
    return fmt


def _forcing(kw: dict[str, Any]) -> tuple[int | None, int, tuple[str, ...], int]:
    """(cap, ignores, control strings, min thinking tokens) of gen_kwargs, by s1's rules."""
    cap_raw = kw.get("max_tokens_thinking")
    if cap_raw is None or (isinstance(cap_raw, str) and cap_raw.strip().lower() == "auto"):
        cap = None
    else:
        cap = _int("max_tokens_thinking", cap_raw, minimum=1)
    n_ignore = 0
    min_tokens = 0
    if kw.get("thinking_n_ignore") is not None:
        n_ignore = _int("thinking_n_ignore", kw["thinking_n_ignore"])
        min_tokens = 1  # s1: ignoring end attempts sets min_tokens=1
    if kw.get("min_tokens_thinking") is not None:
        min_tokens = _int("min_tokens_thinking", kw["min_tokens_thinking"])
    ctl = kw.get("thinking_n_ignore_str")
    if ctl is None:
        controls: tuple[str, ...] = ("",) if n_ignore else ()  # s1: drop the end attempt, insert nothing
    elif isinstance(ctl, str):
        controls = (ctl,) if n_ignore else ()
    elif isinstance(ctl, list | tuple) and ctl and all(isinstance(c, str) for c in ctl):
        controls = tuple(ctl) if n_ignore else ()
    else:
        raise GenKwargsError(f"gen_kwargs thinking_n_ignore_str={ctl!r}: expected a string or a list of strings")
    return cap, n_ignore, controls, min_tokens


def parse_gen_kwargs(gen_kwargs: Mapping[str, Any] | None, *, default_max_gen_toks: int = 256,
                     default_format: ThinkFormat | None = None) -> LmEvalGen:
    """Validate one request's gen_kwargs and map them onto evalkit's settings.

    Unknown keys are refused (naming them) rather than silently ignored: a sampling setting evalkit
    does not implement would change the results without a trace."""
    kw = dict(gen_kwargs or {})
    unknown = [k for k in kw if k not in THINKING_KEYS + EVALKIT_KEYS + SAMPLING_KEYS + MAX_TOKEN_ALIASES]
    if unknown:
        per_phase = [k for k in unknown if k.endswith("_thinking")]
        hint = (" (evalkit samples thinking and answer with the same settings, so per-phase keys such as "
                f"{per_phase[0]} cannot be honoured)") if per_phase else ""
        raise GenKwargsError(
            f"gen_kwargs {', '.join(sorted(unknown))}: not supported by evalkit-vllm{hint}; supported: "
            + ", ".join(THINKING_KEYS + EVALKIT_KEYS + SAMPLING_KEYS + MAX_TOKEN_ALIASES))
    max_gen = next((kw[k] for k in MAX_TOKEN_ALIASES if kw.get(k) is not None), default_max_gen_toks)
    max_gen_toks = _int("max_gen_toks", max_gen, minimum=1)
    until = kw.get("until") or []
    if isinstance(until, str):
        until = [until]
    if not isinstance(until, list | tuple) or not all(isinstance(u, str) for u in until):
        raise GenKwargsError(f"gen_kwargs until={until!r}: expected a string or a list of strings")
    do_sample = _bool("do_sample", kw["do_sample"]) if "do_sample" in kw else None
    temperature = _float("temperature", kw.get("temperature", 0.0))
    if do_sample is False:
        temperature = 0.0  # lm-eval's rule: greedy unless sampling is asked for
    if temperature < 0:
        raise GenKwargsError(f"gen_kwargs temperature={temperature}: must be >= 0")
    top_p = _float("top_p", kw.get("top_p", 1.0))
    if not 0 < top_p <= 1:
        raise GenKwargsError(f"gen_kwargs top_p={top_p}: must be in (0, 1]")
    seed = _int("seed", kw["seed"]) if kw.get("seed") is not None else None

    rejection = _bool("rejection_sample", kw["rejection_sample"]) if "rejection_sample" in kw else False
    thinking = rejection or any(k in kw for k in THINKING_KEYS if k != "rejection_sample") or "think_format" in kw
    fmt = _think_format(kw, default_format)
    cap, n_ignore, controls, min_tokens = _forcing(kw)
    answer_max = kw.get("answer_max_tokens")
    answer_max_tokens = _int("answer_max_tokens", answer_max, minimum=1) if answer_max is not None else None
    max_attempts = _int("rejection_max_attempts", kw.get("rejection_max_attempts", DEFAULT_MAX_ATTEMPTS), minimum=1)
    if rejection and n_ignore:
        raise GenKwargsError("gen_kwargs rejection_sample with thinking_n_ignore: rejection sampling resamples "
                             "unforced thinking (s1's fork silently drops thinking_n_ignore then); choose one")
    return LmEvalGen(thinking=thinking, fmt=fmt, cap=cap, n_ignore=n_ignore, controls=controls,
                     min_tokens=min_tokens, rejection=rejection, max_attempts=max_attempts, temperature=temperature,
                     top_p=top_p, max_gen_toks=max_gen_toks, answer_max_tokens=answer_max_tokens,
                     until=tuple(until), seed=seed, raw=dict(kw))


def apply_until(text: str, until: tuple[str, ...] | list[str]) -> str:
    """Cut ``text`` at the first occurrence of any stop string (lm-eval's post-hoc stop)."""
    cut = len(text)
    for u in until:
        if u:
            i = text.find(u)
            if 0 <= i < cut:
                cut = i
    return text[:cut]
