"""What every report figure shares: matplotlib (Agg) under its constrained layout engine, texts fitted
to the canvas before saving (titles wrapped, axis labels longer than their axes shrunk, crowded
category labels thinned, legends below the plotting area in as many columns as fit), intervals
clipped to the range of their quantity for drawing only, and PDF + PNG at one dpi."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.report.provenance import TEST_DOUBLE_TITLE

DPI = 150
MARGIN = 4.0  # pixels kept free at the canvas' edges
MIN_FONT = 5.0  # points: a label is never shrunk below this
ROUNDS = 8  # draw-and-adjust rounds (each adjustment only narrows or shrinks, so few are needed)


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure(width: float, height: float) -> tuple[Any, Any]:
    """A figure of ``width`` x ``height`` inches with one axes, laid out by matplotlib's constrained
    layout (titles, labels, colorbars and outside legends get their room)."""
    return pyplot().subplots(figsize=(width, height), dpi=DPI, layout="constrained")


def clipped(values: Any, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """Interval ends clipped to the range the quantity can take (an accuracy: [0, 1]), for drawing
    only: the numbers a report prints stay as computed."""
    return np.clip(np.asarray(values, dtype=float), low, high)


def legend_below(fig: Any, ax: Any, fontsize: float = 7) -> None:
    """The axes' legend under the plotting area (inside the canvas, over no data), in up to three
    columns (fewer when they do not fit the width: see :func:`fit`)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)), fontsize=fontsize,
                   frameon=False)


def _room(t: Any, box: Any, canvas: Any, neighbours: list[float]) -> float:
    """The width a text can take on the canvas, given how it is anchored; a centred title also
    leaves half the way to the next title beside it (``neighbours``: their centres)."""
    ha = t.get_horizontalalignment()
    if ha == "left":
        return canvas.x1 - MARGIN - box.x0
    if ha == "right":
        return box.x1 - canvas.x0 - MARGIN
    mid = (box.x0 + box.x1) / 2
    room = 2 * min(mid - canvas.x0 - MARGIN, canvas.x1 - MARGIN - mid)
    return min([room] + [abs(mid - x) - MARGIN for x in neighbours if abs(mid - x) > 1])


def _wrap_titles(fig: Any, renderer: Any, sources: dict[int, tuple[Any, str, int]]) -> bool:
    """Rewrap every title (and figure text) wider than the canvas, each line of its source text on its
    own; below 24 characters a line is not narrowed further but the font shrinks."""
    changed = False
    titles = [ax.title for ax in fig.axes if ax.title.get_visible() and ax.title.get_text()]
    centres = {id(t): (b.x0 + b.x1) / 2 for t in titles for b in [t.get_window_extent(renderer)]}
    for t in titles + list(fig.texts):
        if not t.get_visible() or not t.get_text():
            continue
        box, canvas = t.get_window_extent(renderer), fig.bbox
        room = _room(t, box, canvas, [x for key, x in centres.items() if key != id(t)] if id(t) in centres else [])
        if box.width <= room + 0.5:
            continue
        _, source, width = sources.setdefault(id(t), (t, t.get_text(), max(map(len, t.get_text().split("\n")))))
        narrower = int(width * max(room, 1.0) / box.width * 0.97)
        if narrower >= 24:
            t.set_text("\n".join(textwrap.fill(line, narrower) for line in source.split("\n")))
            sources[id(t)] = (t, source, narrower)
        elif t.get_fontsize() > MIN_FONT:
            t.set_fontsize(max(MIN_FONT, t.get_fontsize() * 0.9))
        else:
            continue
        changed = True
    return changed


def _shrink_labels(fig: Any, renderer: Any) -> bool:
    """Shrink every axis label longer than the side of the axes it names."""
    changed = False
    for ax in fig.axes:
        area = ax.get_window_extent(renderer)
        for label, length, room in ((ax.xaxis.label, "width", area.width), (ax.yaxis.label, "height", area.height)):
            if not label.get_visible() or not label.get_text():
                continue
            size = getattr(label.get_window_extent(renderer), length)
            if size > room and label.get_fontsize() > MIN_FONT:
                label.set_fontsize(max(MIN_FONT, label.get_fontsize() * room / size * 0.95))
                changed = True
    return changed


def _thin_ticks(fig: Any, renderer: Any) -> bool:
    """Keep every k-th label of an axis of fixed category labels whose neighbours overlap (the
    smallest k that separates them), counted from the first."""
    changed = False
    for ax in fig.axes:
        for axis, lo, hi in ((ax.xaxis, "x0", "x1"), (ax.yaxis, "y0", "y1")):
            if type(axis.get_major_locator()).__name__ != "FixedLocator":
                continue
            labels = [t.label1 for t in axis.get_major_ticks() if t.label1.get_visible() and t.label1.get_text()]
            locs = list(axis.get_majorticklocs())
            if len(labels) < 2 or len(labels) != len(locs):
                continue
            boxes = [lab.get_window_extent(renderer) for lab in labels]
            pairs = sorted(zip([(getattr(b, lo) + getattr(b, hi)) / 2 for b in boxes], boxes, strict=True),
                           key=lambda p: p[0])
            step = min(abs(b[0] - a[0]) for a, b in zip(pairs, pairs[1:], strict=False))
            need = max(getattr(b, hi) - getattr(b, lo) for _, b in pairs) + 2
            if step <= 0 or need <= step:
                continue
            k = math.ceil(need / step)
            names = [lab.get_text() for lab in labels]
            axis.set_ticks(locs[::k], names[::k])
            changed = True
    return changed


def _narrow_legends(fig: Any, renderer: Any, columns: dict[int, int]) -> bool:
    """One column fewer for every figure legend wider than the canvas (as :func:`legend_below` made
    it: up to three columns)."""
    changed = False
    for leg in fig.legends:
        n = columns.get(id(leg), min(3, len(leg.get_texts())))
        if leg.get_window_extent(renderer).width > fig.bbox.width - 2 * MARGIN and n > 1:
            leg.set_ncols(n - 1)
            columns[id(leg)] = n - 1
            changed = True
    return changed


def fit(fig: Any) -> None:
    """Draw, then fit every text to the canvas (see the module's docstring), until nothing changes;
    the layout engine makes room for what grew."""
    sources: dict[int, tuple[Any, str, int]] = {}
    columns: dict[int, int] = {}
    for _ in range(ROUNDS):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        steps = (_wrap_titles(fig, renderer, sources), _shrink_labels(fig, renderer), _thin_ticks(fig, renderer),
                 _narrow_legends(fig, renderer, columns))
        if not any(steps):
            return


def _banner(fig: Any) -> None:
    """A figure of test-double rows (its title carries :data:`TEST_DOUBLE_TITLE`) gets the words as a red
    headline of their own, above everything, instead of inside the title."""
    marked = [ax.title for ax in fig.axes if TEST_DOUBLE_TITLE in ax.title.get_text()]
    for t in marked:
        t.set_text(t.get_text().replace(f" [{TEST_DOUBLE_TITLE}]", ""))
    if marked:
        fig.suptitle(TEST_DOUBLE_TITLE, color="#c00000", fontweight="bold", fontsize=11)


def save(fig: Any, base: Path) -> list[Path]:
    """Fit the texts, write ``base``.pdf and ``base``.png, close the figure; the paths written."""
    _banner(fig)
    fit(fig)
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = [base.with_suffix(".pdf"), base.with_suffix(".png")]
    for p in paths:
        fig.savefig(p, dpi=DPI)
    pyplot().close(fig)
    return paths
