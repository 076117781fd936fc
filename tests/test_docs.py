"""The docs a newcomer reads (issue 39): the README is a landing page whose links and library example hold,
and module docstrings state contracts, not measurements (those live in benchmarks/*_results.md and the
docs). The site itself is built by `make lint` (`mkdocs build --strict`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# A figure of one machine or one simulation: a time taken, a size used, a throughput, a speed-up, a coverage.
# (A duration or size as a setting, "every 30 seconds", "a 2 GiB cap", is a contract and passes.)
MEASUREMENT = re.compile(
    r"\b(?:in|took|takes|about) (?:about )?\d+(?:\.\d+)? ?(?:ms|s|seconds|minutes)\b"
    r"|\b\d+(?:\.\d+)? ?(?:GB|MB|KB)\b"
    r"|\btok(?:en)?s?/s\b|\b\d+(?:\.\d+)?x (?:faster|slower)|twice as fast"
    r"|\b(?:covered|covers?|coverage)(?: about)? 0\.\d"
    r"|\btype-I error 0\.\d|\bEPYC\b")


def module_docstrings() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "evalkit").rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        if doc:
            out.append((str(path.relative_to(ROOT)), doc))
    return out


def measurements(doc: str) -> list[str]:
    return [m.group(0) for m in MEASUREMENT.finditer(doc)]


def test_the_readme_is_a_landing_page_of_at_most_200_lines() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert "make quickstart" in text and "evalkit sweep " in text and "```python" in text


def test_every_relative_link_of_the_readme_and_developers_notes_exists() -> None:
    for page in (README, ROOT / "DEVELOPERS.md"):
        targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text())
        assert targets, page
        missing = [t for t in targets if not (page.parent / t).exists()]
        assert not missing, f"{page.name}: links to missing files {missing}"


def test_the_readme_library_example_names_the_public_api() -> None:
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block, "the README shows one library example"
    tree = ast.parse(block.group(1))
    import evalkit

    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "evalkit"
                for a in n.names]
    assert imported and set(imported) <= set(evalkit.__all__), imported
    for node in ast.walk(tree):  # report.build, grade.grade_response, ...: attributes of imported modules
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported:
            assert hasattr(getattr(evalkit, node.value.id), node.attr), f"{node.value.id}.{node.attr}"


def test_no_module_docstring_holds_a_measurement() -> None:
    found = {path: m for path, doc in module_docstrings() if (m := measurements(doc))}
    assert not found, f"measurements belong in benchmarks/*_results.md or the docs, not in docstrings: {found}"


@pytest.mark.parametrize("doc", [
    "Fast: 10,000 resamples in about 5 ms.", "113 -> 197 tok/s with uni.", "1.7x faster on 2 cores.",
    "The old interval covered 0.83 there.", "Measured on a 2-core AMD EPYC.", "Peak 7.2 GB at 10^5 rows.",
])
def test_the_measurement_check_catches_a_planted_figure(doc: str) -> None:
    assert measurements(doc), doc


@pytest.mark.parametrize("doc", [
    "At most every 0.5 s unless ``force``.", "confidence in (0, 1) (0.95, never 95).", "a line every 30 seconds",
    "workers under a 2 GiB address-space cap",
])
def test_the_measurement_check_leaves_contracts_alone(doc: str) -> None:
    assert not measurements(doc), doc
