"""The files evalkit ships beside its code, and the one place they are looked up.

The repository keeps them in top-level folders: ``tasks/`` (task definitions with their vendored data and
sha256 sums), ``sweeps/`` (the shipped sweeps) and ``paper_figs/`` (the reported results and the default
claims file). A wheel carries the same folders as package data under ``evalkit/_shipped/`` (copied there at
build time by ``setup.py``); an editable install reads them from the checkout the package is imported from.

Resolution order, everywhere: a path given (on the command line, or ``EVALKIT_TASKS_DIR``), then the working
directory's folder of the same name (a user's own tasks, sweeps or claims), then the shipped one.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

FOLDERS = ("tasks", "sweeps", "paper_figs")
TASKS_ENV = "EVALKIT_TASKS_DIR"
REPORTED_FILE = "paper_figs/s1_reported.yaml"  # published results (single runs, multi-seed, ladders)
CLAIMS_FILE = "paper_figs/s1_claims.yaml"  # the team's claims C1-C9 about s1, the default claims file
_PACKAGE = Path(__file__).resolve().parents[1]


def root() -> Path:
    """The folder holding the shipped ``tasks/``, ``sweeps/`` and ``paper_figs/``: the wheel's
    ``evalkit/_shipped``, else the checkout the package is imported from (an editable install)."""
    packaged = _PACKAGE / "_shipped"
    return packaged if packaged.is_dir() else _PACKAGE.parent


def shipped(relpath: str) -> Path:
    """The shipped file or folder ``relpath`` (e.g. ``paper_figs/s1_reported.yaml``), present or not."""
    return root() / relpath


def locate(relpath: str) -> Path:
    """A default file or folder: the working directory's ``relpath`` when it exists, else the shipped one."""
    here = Path(relpath)
    return here if here.exists() else shipped(relpath)


def task_dirs() -> list[Path]:
    """Where task definitions are looked up, first wins by task name: ``EVALKIT_TASKS_DIR`` (when set), the
    working directory's ``tasks/``, the shipped ``tasks/``; absolute, each once, only folders that exist."""
    env = os.environ.get(TASKS_ENV)
    dirs = [Path(env)] if env else []
    out = [d.resolve() for d in (*dirs, Path("tasks"), shipped("tasks")) if d.is_dir()]
    return list(dict.fromkeys(out))


def _candidates(path: Path, folder: str) -> list[Path]:
    """``path`` (with ``.yaml`` when it has no suffix) inside ``folder``: the working directory's, then shipped."""
    names = [path] if path.suffix else [path, path.with_name(path.name + ".yaml")]
    rel = [n if n.parts[:1] == (folder,) else Path(folder) / n for n in names]
    return [*rel, *(root() / r for r in rel)]


def find(path: str | Path, folder: str) -> Path:
    """A file named on the command line: the path itself when it exists (or is absolute); else, by its name
    in ``folder``, the working directory's then the shipped one (``quickstart``, ``sweeps/quickstart.yaml``,
    ``paper_figs/s1_reported.yaml``); else the path as given, for the caller's error to name."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    return next((c for c in _candidates(p, folder) if c.is_file()), p)


def nearest(path: str | Path, folder: str) -> str:
    """What to say when ``path`` names no file: the shipped files of ``folder`` nearest to it, else all."""
    names = sorted(f.stem for f in shipped(folder).glob("*.yaml"))
    if not names:
        return ""
    near = difflib.get_close_matches(Path(path).stem, names, n=3, cutoff=0.5)
    return f"; shipped {folder}: " + ", ".join(near or names)
