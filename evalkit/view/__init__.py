"""``evalkit view``: browse a sweep's cells, problems, trajectory trees and samples in a browser."""

from evalkit.view.data import SweepData, segments, trees
from evalkit.view.server import export, serve

__all__ = ["SweepData", "export", "segments", "serve", "trees"]
