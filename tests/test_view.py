"""`evalkit view` in a real headless Chromium (Debian's `chromium`, driven by Playwright through its
``executable_path``; no browser download). Skipped without a browser unless EVALKIT_REQUIRE_BROWSER=1
(as `make test` and CI set it), where a missing browser is a failure."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from evalkit.pipeline import run_sweep
from evalkit.pipeline.observer import Collect
from evalkit.spec import build_plan, parse_spec

REQUIRED = os.environ.get("EVALKIT_REQUIRE_BROWSER") == "1"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

SPEC = """\
name: viewed
model: {id: scripted-model, flops_config: smollm2-135m}
tasks:
  - name: math500
    where: {level: [1]}
    limit: 5
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 40}
sequential:
  caps: [40, 120]
  ignores: [0, 2]
parallel:
  n: 3
  caps: [60]
"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    why = None
    try:
        import playwright  # noqa: F401
    except ImportError:
        why = "playwright is not installed (the dev extra)"
    if exe is None:
        why = why or "no chromium on PATH (apt-get install chromium)"
    if why:
        if REQUIRED:
            pytest.fail(f"EVALKIT_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    return exe


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("view")
    res = run_sweep(build_plan(parse_spec(SPEC)), root, engine="scripted", observer=Collect())
    return res.out_dir


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(sweep_dir: Path):
    from evalkit.view import serve

    urls: list[str] = []
    httpd = serve(sweep_dir, port=0, ready=urls.append)
    yield urls[0]
    httpd.shutdown()


def _rows(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.innerText.trim()))"
    )


def _report_rows(sweep_dir: Path) -> list[list[str]]:
    from evalkit import report

    md = report.build(sweep_dir).markdown
    lines = md.split("## Parallel sampling")[0].splitlines()
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines if ln.startswith("| ") and "task" not in ln]


def _ready(page, route: str, prefix: bool = False) -> None:
    """Wait until the viewer has drawn ``route`` (its hash, decoded): the page says so once the route's
    data are drawn, and a page still showing the previous route never counts as this one."""
    page.wait_for_function(
        "([r, p]) => { const h = decodeURIComponent(document.body.dataset.ready || '');"
        " return p ? h.startsWith(r) : h === r; }", arg=[route, prefix])


def test_overview_numbers_equal_the_report(browser, server: str, sweep_dir: Path) -> None:
    page = browser.new_page()
    page.goto(server)
    page.wait_for_selector("#cells table")
    assert _rows(page, "#cells") == _report_rows(sweep_dir)
    assert page.inner_text("#n-samples") == str(5 * 2 * (4 + 3))  # 4 sequential cells, 3 parallel samples
    assert page.locator(".grid td[data-p]").count() >= 5 * 4  # problems x cells
    page.close()


def test_filter_open_a_sample_pair_and_deep_link(browser, server: str, sweep_dir: Path) -> None:
    page = browser.new_page()
    page.goto(server + "#/samples")
    _ready(page, "samples")
    total = int(page.inner_text("#count").split()[0])
    page.select_option("#f-correct", "0")
    page.click("#f-go")
    _ready(page, "samples?correct=0")
    wrong = int(page.inner_text("#count").split()[0])
    assert 0 < wrong < total
    # an incorrect sample of a cell that ignored two end attempts: the injected "Wait" is marked
    rows = _rows(page, "#list")
    pick = next(i for i, r in enumerate(rows) if "ignore=2" in r[1] and r[6] == "2")
    page.locator("#list tbody tr").nth(pick).locator("a", has_text="open").click()
    _ready(page, "sample/", prefix=True)
    controls = page.locator("#text .seg-control")
    assert controls.count() == 2 and controls.first.inner_text() == "Wait"
    assert page.inner_text("#verdict").startswith("incorrect")
    # the answer as the model wrote it (the scripted engine boxes a number: the same text), and the
    # stored, normalised form the samples list showed
    assert page.inner_text("#normalized") == rows[pick][7] and page.inner_text("#extracted") == rows[pick][7]
    assert page.locator("#text .seg-forced").count() + page.locator("#text .seg-answer").count() >= 1
    # the paired view against another cell on the same problem and seed
    page.click("#pair")
    _ready(page, "pair/", prefix=True)
    assert re.match(r"identical for the first \d+ characters", page.inner_text("#common"))
    assert page.locator(".cols .text").count() == 2
    # a deep link to a problem page: its trajectory trees with the control marks and the caps' cuts
    url = page.url
    problem = rows[pick][0]
    task, pid = problem.split("/", 1)
    page.goto(f"{server}#/problem/{task}/{pid.replace('/', '%2F')}")
    _ready(page, f"problem/{task}/{pid}")
    assert pid in page.inner_text("h1") and page.locator(".tree .mark").count() >= 1
    assert page.locator(".tree .cut").count() >= 2
    page.goto(url)
    _ready(page, "pair/", prefix=True)
    assert page.locator("#common").count() == 1
    page.close()


def test_static_export_opens_from_disk(browser, server: str, sweep_dir: Path, tmp_path: Path) -> None:
    from evalkit.view import export

    out = export(sweep_dir, tmp_path / "export", say=lambda m: None)
    page = browser.new_page()
    page.goto(server)
    page.wait_for_selector("#cells table")
    live = _rows(page, "#cells")
    page.goto((out / "index.html").as_uri())
    page.wait_for_selector("#cells table")
    assert _rows(page, "#cells") == live
    page.goto((out / "index.html").as_uri() + "#/samples?correct=0")
    _ready(page, "samples?correct=0")
    page.locator("#list a", has_text="open").first.click()
    _ready(page, "sample/", prefix=True)
    assert page.locator("#text span").count() >= 2
    page.close()



# Page checks run in the browser, on the boxes of the labels' text (a Range over an element's contents:
# the text as drawn, also where it overflows its element), with half a pixel of tolerance.
TEXT_BOX = ("const box = (e) => { const r = document.createRange(); r.selectNodeContents(e); "
            "return r.getBoundingClientRect(); };")


def _js(params: str, body: str) -> str:
    """A page function of ``params`` with ``box`` (an element's text box) in scope."""
    return f"{params} => {{\n  {TEXT_BOX}\n{body}\n}}"


OVERLAPS = _js("(els)", """  const rs = els.map(box);
  const bad = [];
  rs.forEach((a, i) => rs.slice(i + 1).forEach((b, j) => {
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (w > 0.5 && h > 0.5)
      bad.push(`${els[i].textContent} overlaps ${els[i + 1 + j].textContent}`);
  }));
  return bad;
""")
OUTSIDE = _js("([els, outer])", """  const o = outer.getBoundingClientRect();
  const right = o.left + Math.max(outer.scrollWidth, o.width);
  const page = document.documentElement.clientWidth;
  return els.filter((e) => {
    const r = box(e);
    return r.left < o.left - 0.5 || r.right > right + 0.5 || r.left < -0.5 || r.right > page + 0.5;
  }).map((e) => e.textContent);
""")
HEADER_OUT_OF_ITS_COLUMN = _js("(ths)", """  return ths.filter((th) => {
    const a = th.getBoundingClientRect(), b = box(th);
    return b.left < a.left - 0.5 || b.right > a.right + 0.5 || b.top < a.top - 0.5 || b.bottom > a.bottom + 0.5;
  }).map((th) => th.title);
""")
CUT_LABEL_OFF_ITS_BAND = _js("(tree)", """  const bar = tree.querySelector('.bar').getBoundingClientRect();
  const next = tree.querySelector('table').getBoundingClientRect();
  return [...tree.querySelectorAll('.cut span')].filter((s) => {
    const r = box(s);
    return r.top < bar.bottom - 0.5 || r.bottom > next.top + 0.5;
  }).map((s) => s.textContent);
""")


@pytest.mark.parametrize("width", [1280, 640])
def test_labels_of_the_grid_and_the_problem_pages_do_not_overlap(browser, server: str, width: int) -> None:
    """Column headers of the problems x cells grid and the cap/ignore labels under every trajectory bar:
    no label overlaps another; a header stays in its column and inside the grid's scroll area; a cut
    label stays under its bar (above the table that follows) and inside the bar's width and the page."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(server)
    page.wait_for_selector("#grid table")
    heads = page.locator(".grid th[title]")
    assert heads.count() == 5  # 4 sequential cells + 1 parallel
    assert heads.evaluate_all(OVERLAPS) == []
    assert page.evaluate(OUTSIDE, [heads.element_handles(), page.query_selector("#grid")]) == []
    assert heads.evaluate_all(HEADER_OUT_OF_ITS_COLUMN) == []
    problems = page.eval_on_selector_all(".grid td.name", "tds => tds.map((td) => td.textContent)")
    assert len(problems) == 5
    for name in problems:
        task, pid = name.split("/", 1)
        page.goto(f"{server}#/problem/{task}/{pid.replace('/', '%2F')}")
        _ready(page, f"problem/{task}/{pid}")
        trees = page.locator(".tree")
        assert trees.count() == 2, name  # one per seed
        for i in range(trees.count()):
            tree = trees.nth(i)
            labels = tree.locator(".cut span")
            assert labels.count() >= 1
            assert labels.evaluate_all(OVERLAPS) == [], name
            assert page.evaluate(OUTSIDE, [labels.element_handles(), tree.locator(".bar").element_handle()]) == [], name
            assert tree.evaluate(CUT_LABEL_OFF_ITS_BAND) == [], name
    page.close()


def test_sample_page_shows_the_models_answer_beside_the_stored_one(sweep_dir: Path, tmp_path: Path) -> None:
    """The sample page's extracted answer is the model's text, derived from the stored answer text when
    the page is read; the stored (normalised) ``extracted`` is shown beside it, unchanged."""
    import pyarrow.parquet as pq

    from evalkit.store import ResultStore
    from evalkit.view import SweepData

    copy = tmp_path / sweep_dir.name
    shutil.copytree(sweep_dir, copy)
    part = sorted((copy / "samples").rglob("*.parquet"))[0]
    table = pq.read_table(part)
    rows = table.to_pylist()
    rows[0].update(answer_text="So the answer is \\boxed{0.5}.", extracted="\\frac{1}{2}")
    pq.write_table(type(table).from_pylist(rows, schema=table.schema), part)
    before = ResultStore(copy).read_rows()
    r = before[(before.cell_id == rows[0]["cell_id"]) & (before.problem_id == rows[0]["problem_id"])
               & (before.seed == rows[0]["seed"]) & (before["sample"] == rows[0]["sample"])].iloc[0]
    s = SweepData(copy).sample(f"{r.cell_id}~{r.seed}~{r.problem_id}~{r['sample']}")
    assert (s["stated"], s["extracted"]) == ("0.5", "\\frac{1}{2}")
    assert ResultStore(copy).read_rows().equals(before)  # reading the page wrote nothing


def _sweep(root: Path, problems: int, seeds: int, name: str) -> Path:
    spec = SPEC.replace("name: viewed", f"name: {name}").replace("limit: 5", f"limit: {problems}")
    spec = spec.replace("seeds: [0, 1]", f"seeds: {list(range(seeds))}")
    return run_sweep(build_plan(parse_spec(spec)), root, engine="scripted", observer=Collect()).out_dir


def _files(d: Path) -> int:
    return sum(1 for f in d.rglob("*") if f.is_file())


def test_export_files_grow_with_problems_not_samples(tmp_path: Path) -> None:
    from evalkit.store import ResultStore
    from evalkit.view import export

    small, seeds, problems = (_sweep(tmp_path, p, s, f"e{p}x{s}") for p, s in ((2, 1), (2, 3), (4, 1)))
    n = {d.name: _files(export(d, tmp_path / f"out-{d.name}", say=lambda m: None)) for d in (small, seeds, problems)}
    rows = {d.name: len(ResultStore(d).read_rows()) for d in (small, seeds, problems)}
    assert rows["e2x3"] == 3 * rows["e2x1"]  # three times the samples ...
    assert n["e2x3"] == n["e2x1"]  # ... the same files
    assert n["e4x1"] > n["e2x1"]  # more problems: more files
    texts = sorted(f.name for f in (tmp_path / "out-e2x3" / "data").glob("texts-*.js"))
    cells = len(ResultStore(seeds).read_cells())
    assert len(texts) == 2 * cells  # one file of texts per (cell, problem), every seed's samples in it


class _Recorder:
    """pyarrow's dataset and Parquet readers (dataset, read_table, ParquetFile), recording the columns every
    read asks for (all of them: "<all>")."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        self.reads: list[tuple[str, ...]] = []
        real_dataset, real_read = ds.dataset, pq.read_table
        rec = self

        class Proxy:
            def __init__(self, d) -> None:
                self.d = d

            def to_table(self, columns=None, **kw):
                rec.reads.append(tuple(columns) if columns is not None else ("<all>",))
                return self.d.to_table(columns=columns, **kw)

            def scanner(self, columns=None, **kw):
                rec.reads.append(tuple(columns) if columns is not None else ("<all>",))
                return self.d.scanner(columns=columns, **kw)

            def __getattr__(self, name: str):
                return getattr(self.d, name)

        def read_table(source, columns=None, **kw):
            rec.reads.append(tuple(columns) if columns is not None else ("<all>",))
            return real_read(source, columns=columns, **kw)

        class ParquetFile(pq.ParquetFile):
            def read(self, columns=None, **kw):
                rec.reads.append(tuple(columns) if columns is not None else ("<all>",))
                return super().read(columns=columns, **kw)

            def iter_batches(self, *a, columns=None, **kw):
                rec.reads.append(tuple(columns) if columns is not None else ("<all>",))
                return super().iter_batches(*a, columns=columns, **kw)

            def read_row_group(self, i, columns=None, **kw):
                rec.reads.append(tuple(columns) if columns is not None else ("<all>",))
                return super().read_row_group(i, columns=columns, **kw)

        monkeypatch.setattr(ds, "dataset", lambda *a, **k: Proxy(real_dataset(*a, **k)))
        monkeypatch.setattr(pq, "read_table", read_table)
        monkeypatch.setattr(pq, "ParquetFile", ParquetFile)

    def columns(self) -> set[str]:
        out = {c for r in self.reads for c in r}
        self.reads.clear()
        return out


def test_index_and_problem_pages_read_no_text_column(sweep_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.store import Col
    from evalkit.view import SweepData

    texts = {Col.RESPONSE, Col.THINKING_TEXT, Col.ANSWER_TEXT}
    rec = _Recorder(monkeypatch)
    data = SweepData(sweep_dir)
    data.overview()
    data.sample_index({})
    data.sample_index({"correct": "0", "offset": "5"})
    read = rec.columns()
    assert read and not read & (texts | {Col.PROVENANCE, "<all>"}), read
    task, pid = data.index[[Col.TASK, Col.PROBLEM_ID]].iloc[0]
    assert data.problem(task, pid)["trees"]
    read = rec.columns()
    assert Col.PROVENANCE in read and not read & (texts | {"<all>"}), read
    key = data.problem(task, pid)["samples"][0]["key"]
    rec.columns()
    assert data.sample(key)[Col.RESPONSE]  # the recorder sees text reads where there are some
    assert texts <= rec.columns()


def test_index_pages_and_search_agree_with_the_stored_rows(sweep_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import evalkit.view.data as vd
    from evalkit.store import Col, ResultStore
    from evalkit.view import SweepData

    rows = ResultStore(sweep_dir).read_rows()
    data = SweepData(sweep_dir)
    monkeypatch.setattr(vd, "PAGE_ROWS", 7)
    wrong = rows[rows[Col.CORRECT] == False]  # noqa: E712
    got, offset = [], 0
    while True:
        page = data.sample_index({"correct": "0", "offset": str(offset)})
        assert page["matched"] == len(wrong) and len(page["data"][Col.CELL_ID]) <= 7
        got += list(zip(page["data"][Col.CELL_ID], page["data"][Col.SEED], page["data"][Col.PROBLEM_ID],
                        page["data"][Col.SAMPLE], strict=True))
        if not page["more"]:
            break
        offset += 7
    assert sorted(got) == sorted(wrong[[Col.CELL_ID, Col.SEED, Col.PROBLEM_ID, Col.SAMPLE]].itertuples(index=False,
                                                                                                    name=None))
    # a search: every hit when it scanned everything, and it stops at the page when there are more
    hits, complete = data.search("Wait", {"seed": "1"}, limit=10_000)
    want = rows[(rows[Col.SEED] == 1) & rows[Col.RESPONSE].str.contains("Wait", regex=False)]
    assert complete and len(hits) == len(want) > 3
    few, complete = data.search("Wait", {"seed": "1"}, limit=3)
    assert len(few) == 3 and not complete
    page = data.sample_index({"q": "Wait", "seed": "1"})
    assert page["matched"] is None and page["more"] and len(page["data"][Col.CELL_ID]) == 7


def test_problem_pages_split_the_seeds(sweep_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import evalkit.view.data as vd
    from evalkit.store import Col
    from evalkit.view import SweepData

    data = SweepData(sweep_dir)
    task, pid = data.index[[Col.TASK, Col.PROBLEM_ID]].iloc[0]
    whole = data.problem(task, pid)
    monkeypatch.setattr(vd, "PAGE_SEEDS", 1)
    pages = [data.problem(task, pid, p) for p in range(2)]
    assert [p["seeds"] for p in pages] == [[0], [1]] and pages[0]["pages"] == 2
    assert sorted(s["key"] for p in pages for s in p["samples"]) == sorted(s["key"] for s in whole["samples"])
    assert {s[Col.SEED] for s in pages[1]["samples"]} == {1}
    with pytest.raises(KeyError):
        data.problem(task, pid, 2)


def test_export_of_a_multi_problem_sweep_opens_a_sample_of_each(browser, sweep_dir: Path, tmp_path: Path) -> None:
    from evalkit.store import Col
    from evalkit.view import SweepData, export

    out = export(sweep_dir, tmp_path / "export", say=lambda m: None)
    data = SweepData(sweep_dir)
    page = browser.new_page()
    for (task, pid), pos in data.by_problem.items():
        r = data.index.iloc[pos[-1]]
        key = f"{r[Col.CELL_ID]}~{r[Col.SEED]}~{pid}~{r[Col.SAMPLE]}"
        want = data.sample(key)
        page.goto((out / "index.html").as_uri() + f"#/sample/{key.replace('/', '%2F')}")
        _ready(page, f"sample/{key}")
        assert page.inner_text("#text") == want[Col.RESPONSE]
        assert f"{task}/{pid}" in page.inner_text("#main p a")
    page.goto((out / "index.html").as_uri() + f"#/problem/{task}/{pid.replace('/', '%2F')}")
    page.wait_for_selector(".tree")
    page.close()


def test_every_page_of_scripted_rows_carries_the_banner(browser, server: str, sweep_dir: Path,
                                                        tmp_path: Path) -> None:
    """The scripted engine's rows: the banner above every page, served and exported; none for a model."""
    import json

    from evalkit.report.provenance import TEST_DOUBLE_TITLE
    from evalkit.store import Col
    from evalkit.view import SweepData, export

    data = SweepData(sweep_dir)
    r = data.index.iloc[0]
    key = f"{r[Col.CELL_ID]}~{r[Col.SEED]}~{r[Col.PROBLEM_ID]}~{r[Col.SAMPLE]}"
    pages = ["#/", "#/samples", f"#/problem/{r[Col.TASK]}/{r[Col.PROBLEM_ID]}", f"#/sample/{key}"]
    out = export(sweep_dir, tmp_path / "export", say=lambda m: None)
    page = browser.new_page()
    for base in (server, (out / "index.html").as_uri()):
        for h in pages:
            page.goto(base + h)
            page.wait_for_selector("#banner:not([hidden])")
            assert page.inner_text("#banner").startswith(TEST_DOUBLE_TITLE), (base, h)
    page.close()
    copy = tmp_path / "model"
    shutil.copytree(sweep_dir, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["models"] = {k: {**v, "engine": "vllm", "kind": "pack", "test_double": False} for k, v in m["models"].items()}
    (copy / "manifest.json").write_text(json.dumps(m))
    assert SweepData(copy).overview()["banner"] == "" and data.overview()["banner"].startswith(TEST_DOUBLE_TITLE)
