"""Every figure, rendered at the sizes a quickstart and a large sweep produce, is checked from
matplotlib's own renderer: no text leaves the canvas, no text overlaps another, no text (titles,
axis labels, legends) covers a plotting area except the tick labels and annotations meant there, and
accuracy intervals are drawn inside [0, 100] %.

The check hooks ``Figure.draw`` while a PNG is saved, so it measures what is written, at the dpi it is
written at, through the public ``all_figures`` and ``report`` entry points."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from evalkit.report.figures import all_figures
from evalkit.report.provenance import TEST_DOUBLE_TITLE
from evalkit.store import check_frame
from evalkit.store.row import FIELDS, ROW_SCHEMA
from tests.test_sweep import run

TOL = 1.0  # pixels: boxes touching within a pixel do not overlap
# What the scripted-engine banner (added to titles through ``title``) makes of a title: long.
LONG_TITLE = ("quickstart_l1 (clean) - SCRIPTED TEST ENGINE: these rows come from evalkit's test double, "
              "not from a model; they decide no claim")

# The sweep of the report (20 level-1 problems), with two control strings and a parallel cell
# so that every figure is drawn.
SMALL = """\
name: my_l1
model: {id: scripted, flops_config: smollm2-135m}
tasks: [{name: math500, where: {level: [1]}, limit: 20}]
seeds: [0, 1, 2]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [128, 256, 512], ignores: [0, 1], controls: [Wait, Hmm]}
parallel: {n: 4, caps: [128]}
"""


@dataclass
class Item:
    """One drawn text (or legend) and its place on the canvas."""

    what: str  # tick, annotation, legend or text
    text: str
    box: Bbox
    axes: object  # the axes a tick label or annotation belongs to (None otherwise)
    legend: object  # the legend a text belongs to (None otherwise)


@dataclass
class Drawn:
    name: str
    canvas: Bbox
    items: list[Item]
    areas: list[tuple[object, Bbox]]  # every axes' plotting area
    bands: list[tuple[str, np.ndarray]]  # y values of filled bands, per axes' y label


def _owners(fig: Figure) -> tuple[dict, dict, dict]:
    ticks, notes, legends = {}, {}, {}
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks[id(tick.label1)] = ticks[id(tick.label2)] = ax
        for t in ax.texts:
            notes[id(t)] = ax
    for leg in [ax.get_legend() for ax in fig.axes] + list(fig.legends):
        if leg is not None:
            for t in [*leg.get_texts(), leg.get_title()]:
                legends[id(t)] = leg
    return ticks, notes, legends


def _measure(fig: Figure, renderer, texts: list[Text], name: str) -> Drawn:
    ticks, notes, legends = _owners(fig)
    items = []
    for t in dict.fromkeys(texts):  # once each, in drawing order
        box = t.get_window_extent(renderer).frozen()
        if box.width <= 0 or box.height <= 0:
            continue
        what = ("tick" if id(t) in ticks else "annotation" if id(t) in notes
                else "legend" if id(t) in legends else "text")
        items.append(Item(what, t.get_text(), box, ticks.get(id(t)) or notes.get(id(t)), legends.get(id(t))))
    for leg in [ax.get_legend() for ax in fig.axes] + list(fig.legends):
        if leg is not None and leg.get_visible():
            items.append(Item("legend", "<legend box>", leg.get_window_extent(renderer).frozen(), None, leg))
    areas = [(ax, ax.get_window_extent(renderer).frozen()) for ax in fig.axes if ax.get_visible()]
    bands = [(ax.get_ylabel(), np.concatenate([p.vertices[:, 1] for p in c.get_paths()]))
             for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection) and c.get_paths()]
    return Drawn(name, fig.bbox.frozen(), items, areas, bands)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Drawn]:
    """Every PNG saved while the test runs, measured as it is drawn (its last drawing when saving draws
    it more than once)."""
    out: list[Drawn] = []
    last: list[Drawn] = []
    recording: list[list[Text]] = []
    text_draw, fig_draw, savefig = Text.draw, Figure.draw, Figure.savefig
    saving: list[str] = []

    def draw_text(self: Text, renderer) -> None:
        if recording and self.get_visible() and self.get_text():
            recording[-1].append(self)
        text_draw(self, renderer)

    def draw_figure(self: Figure, renderer) -> None:
        recording.append([])
        try:
            fig_draw(self, renderer)
        finally:
            texts = recording.pop()
        if saving:
            last[:] = [_measure(self, renderer, texts, saving[-1])]

    def save(self: Figure, fname, *a, **kw) -> None:
        png = str(fname).endswith(".png")
        if png:
            saving.append(Path(fname).name)
        try:
            savefig(self, fname, *a, **kw)
        finally:
            if png:
                saving.pop()
                out.extend(last)
                last.clear()

    monkeypatch.setattr(Text, "draw", draw_text)
    monkeypatch.setattr(Figure, "draw", draw_figure)
    monkeypatch.setattr(Figure, "savefig", save)
    return out


def _overlap(a: Bbox, b: Bbox) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > TOL and min(a.y1, b.y1) - max(a.y0, b.y0) > TOL


def _inside(a: Bbox, outer: Bbox) -> bool:
    return a.x0 >= outer.x0 - TOL and a.y0 >= outer.y0 - TOL and a.x1 <= outer.x1 + TOL and a.y1 <= outer.y1 + TOL


def layout_problems(d: Drawn) -> list[str]:
    """Every text outside the canvas, every pair of overlapping texts, every text over a plotting area
    it does not belong in, every accuracy band drawn outside [0, 100] %."""
    bad = []
    for it in d.items:
        if not _inside(it.box, d.canvas):
            bad.append(f"{d.name}: {it.what} {it.text!r} leaves the canvas ({_fmt(it.box)} vs {_fmt(d.canvas)})")
    for i, a in enumerate(d.items):
        for b in d.items[i + 1:]:
            same_legend = a.legend is not None and a.legend is b.legend
            if not same_legend and _overlap(a.box, b.box):
                bad.append(f"{d.name}: {a.what} {a.text!r} overlaps {b.what} {b.text!r}")
    for it in d.items:
        for ax, area in d.areas:
            allowed = it.what in ("tick", "annotation") and it.axes is ax
            if not allowed and _overlap(it.box, area):
                bad.append(f"{d.name}: {it.what} {it.text!r} overlaps the plotting area of {ax.get_ylabel()!r}")
    for ylabel, ys in d.bands:
        if "accuracy" in ylabel and "difference" not in ylabel and (ys.min() < -1e-9 or ys.max() > 100 + 1e-9):
            bad.append(f"{d.name}: a band of {ylabel!r} is drawn over [{ys.min():.1f}, {ys.max():.1f}]")
    return bad


def _fmt(b: Bbox) -> str:
    return f"[{b.x0:.0f}, {b.y0:.0f}, {b.x1:.0f}, {b.y1:.0f}]"


def _check(drawn: list[Drawn], expected: set[str]) -> None:
    names = {d.name for d in drawn}
    assert expected <= names, f"figures not drawn: {sorted(expected - names)}"
    problems = [p for d in drawn for p in layout_problems(d)]
    assert not problems, "\n".join(problems)


def synthetic_rows(n_problems: int = 500, n_seeds: int = 3, seed: int = 0) -> pd.DataFrame:
    """A large sweep as stored rows (the stored schema): 30 sequential cells (10 caps x ignore 0 and
    ignore 1 with Wait / Hmm) and 2 parallel cells (n = 4), every problem and seed."""
    rng = np.random.default_rng(seed)
    caps = [32, 48, 64, 96, 128, 192, 256, 384, 512, 1024]
    cells = [("sequential", c, k, ctl, 1) for c in caps for k, ctl in ((0, ""), (1, "Wait"), (1, "Hmm"))]
    cells += [("parallel", c, 0, "", 4) for c in (64, 1024)]
    difficulty = rng.gamma(2.0, 120.0, n_problems)
    cols: dict[str, list] = {k: [] for k in ("cell_id", "method", "cap", "n_ignore", "control", "n_samples",
                                            "problem_id", "seed", "sample")}
    for i, (method, cap, k, ctl, n) in enumerate(cells):
        for p in range(n_problems):
            for s in range(n_seeds):
                for j in range(n):
                    for key, v in zip(cols, (f"cell{i:02d}", method, cap, k, ctl, n, f"test/{p}", s, j), strict=True):
                        cols[key].append(v)
    df = pd.DataFrame(cols)
    m = len(df)
    prob = np.asarray([int(x.split("/")[1]) for x in df.problem_id])
    think = np.minimum(df.cap.to_numpy(), rng.gamma(2.0, 80.0, m).astype(int) + 1) * (1 + df.n_ignore.to_numpy())
    correct = rng.random(m) < 1 / (1 + np.exp((difficulty[prob] - think) / 60))
    prompt = 80 + prob % 50
    df = df.assign(sweep="large", task="math500", model="scripted", think_format="s1", min_tokens=0,
                   temperature=0.7, top_p=0.95, prompt_tokens=prompt, thinking_tokens=think, forced_tokens=0,
                   answer_tokens=20, correct=correct, gold="1", answer_type="math", grader_version="test")
    own = 2.7e8 * (think + 20)
    df["flops_prompt"] = 2.7e8 * prompt
    df["flops_naive"] = df.flops_prompt + own
    df["flops_prefix_cached"] = own + df.flops_prompt / df.n_samples
    df["flops_kv_read"] = df.flops_prefix_cached + 1e6 * think
    df["answer_class"] = np.where(correct, 0, rng.integers(1, 4, m))
    df["grade_reason"] = np.where(correct, "equivalent", "not_equivalent")
    for name in FIELDS:
        if name not in df:
            df[name] = None
    table = pa.Table.from_pandas(df[list(FIELDS)], schema=ROW_SCHEMA, preserve_index=False)
    return check_frame(table.to_pandas())


EVERY_FIGURE = {"scaling_curve.png", "control_tokens.png", "seed_variance.png", "problem_heatmap.png",
                "matched_flops_prefix_cached.png"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("small")
    run(tmp, SMALL)
    return tmp / "my_l1"


@pytest.mark.parametrize("title", ["my_l1", LONG_TITLE, f"my_l1 [{TEST_DOUBLE_TITLE}] (temperature=1.0)"])
def test_figures_of_a_quickstart_sized_sweep_fit(small: Path, drawn: list[Drawn], tmp_path: Path, title: str) -> None:
    from evalkit.store import ResultStore

    all_figures(ResultStore(small).read_rows(), tmp_path, title)
    _check(drawn, EVERY_FIGURE)


def test_figures_of_a_large_sweep_fit(drawn: list[Drawn], tmp_path: Path) -> None:
    df = synthetic_rows()
    assert df.problem_id.nunique() == 500 and df.cell_id.nunique() == 32
    all_figures(df, tmp_path, LONG_TITLE)
    _check(drawn, EVERY_FIGURE)


def test_report_figure_fits(small: Path, drawn: list[Drawn]) -> None:
    from evalkit.report.build import build

    build(small)
    _check(drawn, {"matched_flops_prefix_cached.png"})


def test_the_check_sees_a_cut_title_and_an_overlap(drawn: list[Drawn], tmp_path: Path) -> None:
    """The check itself: a title wider than the canvas and a label over the plotting area are caught."""
    from evalkit.report.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("a title far too long for a figure three inches wide, cut at both ends")
    ax.text(0.05, 0.1, "note", transform=ax.transAxes)
    ax.fill_between([0, 1], [-5, -5], [10, 10])
    ax.set_ylabel("accuracy (%)")
    fig.text(0.5, 0.5, "over the axes")
    fig.savefig(tmp_path / "bad.png")
    plt.close(fig)
    problems = layout_problems(drawn[-1])
    assert any("leaves the canvas" in p and "far too long" in p for p in problems), problems
    assert any("'over the axes' overlaps the plotting area" in p for p in problems), problems
    assert any("band of 'accuracy (%)'" in p for p in problems), problems
    assert not any("'note' overlaps the plotting area" in p for p in problems), problems  # belongs in its axes


def test_paper_forcing_ladder_fits(drawn: list[Drawn], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The script's three panels: each title stays within its column and the canvas."""
    import runpy
    import sys

    root = Path(__file__).resolve().parents[1]
    monkeypatch.setattr(sys, "argv", ["forcing_ladder.py", "--out", str(tmp_path)])
    runpy.run_path(str(root / "paper_figs/forcing_ladder.py"), run_name="__main__")
    _check(drawn, {"forcing_ladder.png"})
