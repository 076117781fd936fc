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
    page.wait_for_selector("#count")
    total = int(page.inner_text("#count").split()[0])
    page.select_option("#f-correct", "0")
    page.click("#f-go")
    page.wait_for_function("document.querySelector('#count') && location.hash.includes('correct=0')")
    page.wait_for_selector("#count")
    wrong = int(page.inner_text("#count").split()[0])
    assert 0 < wrong < total
    # an incorrect sample of a cell that ignored two end attempts: the injected "Wait" is marked
    rows = _rows(page, "#list")
    pick = next(i for i, r in enumerate(rows) if "ignore=2" in r[1] and r[6] == "2")
    page.locator("#list tbody tr").nth(pick).locator("a", has_text="open").click()
    page.wait_for_selector("#text")
    controls = page.locator("#text .seg-control")
    assert controls.count() == 2 and controls.first.inner_text() == "Wait"
    assert page.inner_text("#verdict").startswith("incorrect")
    assert page.locator("#text .seg-forced").count() + page.locator("#text .seg-answer").count() >= 1
    # the paired view against another cell on the same problem and seed
    page.click("#pair")
    page.wait_for_selector("#common")
    assert re.match(r"identical for the first \d+ characters", page.inner_text("#common"))
    assert page.locator(".cols .text").count() == 2
    # a deep link to a problem page: its trajectory trees with the control marks and the caps' cuts
    url = page.url
    problem = rows[pick][0]
    task, pid = problem.split("/", 1)
    page.goto(f"{server}#/problem/{task}/{pid.replace('/', '%2F')}")
    page.wait_for_selector(".tree")
    assert pid in page.inner_text("h1") and page.locator(".tree .mark").count() >= 1
    assert page.locator(".tree .cut").count() >= 2
    page.goto(url)
    page.wait_for_selector("#common")
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
    page.wait_for_selector("#count")
    page.locator("#list a", has_text="open").first.click()
    page.wait_for_selector("#text")
    assert page.locator("#text span").count() >= 2
    page.close()


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
        page.wait_for_function("document.body.dataset.ready && document.body.dataset.ready.startsWith('sample')")
        assert page.inner_text("#text") == want[Col.RESPONSE]
        assert f"{task}/{pid}" in page.inner_text("#main p a")
    page.goto((out / "index.html").as_uri() + f"#/problem/{task}/{pid.replace('/', '%2F')}")
    page.wait_for_selector(".tree")
    page.close()
