"""``evalkit view``: browse a sweep's cells, problems, trajectory trees and samples in a browser."""

from evalkit.view.data import SweepData, segments, trees
from evalkit.view.export import export
from evalkit.view.server import serve

__all__ = ["SweepData", "export", "segments", "serve", "trees"]
