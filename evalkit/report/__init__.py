"""Report stage: per-cell tables with intervals, as text and Markdown."""

from evalkit.report.tables import CellRow, cell_table, render_markdown, render_rich

__all__ = ["CellRow", "cell_table", "render_markdown", "render_rich"]
