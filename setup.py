"""Build hook: the wheel carries the repository's top-level ``tasks/`` (task definitions, vendored data and
their provenance), ``sweeps/`` and ``paper_figs/*.yaml`` (reported results, the default claims file) as
package data under ``evalkit/_shipped/``, copied at build time so the repository keeps one copy of each.
An editable install copies nothing: ``evalkit.spec.shipped`` then reads the checkout. Everything else about
the package is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = {"tasks": ("*.yaml", "data/*"), "sweeps": ("*.yaml",), "paper_figs": ("*.yaml",)}


class BuildPyShipped(build_py):
    """``build_py``, then the shipped folders into ``<build>/evalkit/_shipped/``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for folder, patterns in SHIPPED.items():
            files = sorted(f for pattern in patterns for f in Path(folder).glob(pattern) if f.is_file())
            if not files:
                raise SystemExit(f"setup.py: nothing to ship in {folder}/ (run the build from the repository)")
            for f in files:
                dest = Path(self.build_lib, "evalkit", "_shipped", f)
                self.mkpath(str(dest.parent))
                self.copy_file(str(f), str(dest))


setup(cmdclass={"build_py": BuildPyShipped})
