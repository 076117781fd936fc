"""Report stage: per-cell tables with intervals, as text and Markdown."""

from evalkit.report.tables import (
    CellRow,
    VoteRow,
    cell_table,
    render_markdown,
    render_rich,
    render_votes_rich,
    vote_table,
)

__all__ = ["CellRow", "VoteRow", "cell_table", "render_markdown", "render_rich", "render_votes_rich", "vote_table"]
