"""Report stage: per-cell tables with intervals (text, Markdown, HTML), figures and claims.

``report.build(results_dir)`` assembles and writes a results directory's report;
``report.load_results`` reads its rows (optionally the clean subset of an exclude list).
"""

from evalkit.report.build import Report, build, load_results
from evalkit.report.tables import (
    CellRow,
    VoteRow,
    cell_table,
    render_markdown,
    render_rich,
    render_votes_rich,
    vote_table,
)

__all__ = ["CellRow", "Report", "VoteRow", "build", "cell_table", "load_results", "render_markdown", "render_rich",
           "render_votes_rich", "vote_table"]
