"""Where evalkit keeps what it caches between runs, one rule for every stage: ``$EVALKIT_CACHE`` if set,
else ``$XDG_CACHE_HOME/evalkit``, else ``~/.cache/evalkit``. Model packs (``models/``), the grade cache
(``grades.sqlite``), this machine's measured engine rates (``throughput.json``) and the contamination audit's
benchmark embeddings (``contamination/``) live under it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """evalkit's cache directory (see the module's docstring), joined with ``parts``."""
    base = os.environ.get("EVALKIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "evalkit")
    return Path(base).joinpath(*parts)


__all__ = ["cache_dir"]
