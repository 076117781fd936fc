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
