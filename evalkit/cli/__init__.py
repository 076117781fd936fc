"""Command line: ``evalkit sweep | report | tasks | models | doctor``."""

from evalkit.cli.main import app, main

__all__ = ["app", "main"]
