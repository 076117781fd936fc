"""The package's shape, as DEVELOPERS.md states it: no import cycles, each part importing only parts of a
lower rank (the ranks read from DEVELOPERS.md), `analyze` and `contamination` importing only what the doc
names, analyze free of I/O libraries with a listed public surface, private modules kept private, no
function over 80 lines, and the library usable without the command line. Every checker is also run on a
planted violation (a module written to a temporary package) and must report it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "evalkit"
DEVELOPERS = ROOT.parent / "DEVELOPERS.md"


def _modules(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for f in root.rglob("*.py"):
        parts = f.relative_to(root.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the evalkit modules it imports (at module level or inside functions). ``from pkg
    import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``."""
    mods = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("evalkit")}
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative import
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if not mod.startswith("evalkit"):
                    continue
                for a in node.names:
                    deps.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod)
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def _part(mod: str) -> str:
    return mod.split(".")[1] if mod.count(".") else ""


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first walk, as the cycle it closes."""
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return cycles


def doc_ranks(text: str) -> dict[str, int]:
    """The ranks DEVELOPERS.md states (``Ranks: errors 0, records 1, spec/store 2, ...``): part -> rank."""
    m = re.search(r"Ranks: (.*?)\.", " ".join(text.split()))
    if m is None:
        raise AssertionError("DEVELOPERS.md states no ranks ('Ranks: errors 0, ...')")
    ranks = {}
    for item in m.group(1).split(","):
        names, rank = item.split()
        ranks |= {name: int(rank) for name in names.split("/")}
    return ranks


def doc_only_imports(text: str) -> dict[str, set[str]]:
    """DEVELOPERS.md's narrower rules (`` `part` imports only `a`, `b` ``): part -> the modules it may import
    (``spec``: the package and its modules; ``store.jsonl``: that module)."""
    rules = {}
    for part, names in re.findall(r"`(\w+)` imports only ((?:`[\w.]+`(?:, )?)+)", " ".join(text.split())):
        rules[part] = {"evalkit." + n for n in re.findall(r"`([\w.]+)`", names)}
    return rules


def rank_violations(graph: dict[str, set[str]], ranks: dict[str, int]) -> list[str]:
    """Edges into another part of the same or a higher rank, and parts without a rank."""
    unranked = sorted({_part(m) for m in graph} - set(ranks) - {""})
    bad = [f"{p}: a part without a rank in DEVELOPERS.md" for p in unranked]
    for m, deps in sorted(graph.items()):
        for d in sorted(deps):
            a, b = _part(m), _part(d)
            if a and b and a != b and a in ranks and b in ranks and ranks[b] >= ranks[a]:
                bad.append(f"{m} (rank {ranks[a]}) imports {d} (rank {ranks[b]})")
    return bad


def foreign_imports(graph: dict[str, set[str]], part: str, allowed: Iterable[str]) -> list[str]:
    """Imports by ``part``'s modules of evalkit modules outside ``part`` and not under ``allowed``."""
    allowed = tuple(allowed)
    return [f"{m} imports {d}" for m, deps in sorted(graph.items()) if _part(m) == part for d in sorted(deps)
            if _part(d) != part and not any(d == a or d.startswith(a + ".") for a in allowed)]


def private_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a ``_``-module from outside the package that holds it."""
    return [f"{m} imports {d}" for m, deps in sorted(graph.items()) for d in sorted(deps)
            if d.rsplit(".", 1)[-1].startswith("_") and not m.startswith(d.rsplit(".", 1)[0] + ".")
            and m != d.rsplit(".", 1)[0]]


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_parts_import_only_lower_ranks_as_the_doc_states() -> None:
    """The ranks are DEVELOPERS.md's; every part has one and none is stale; every import of another part
    goes to a lower rank."""
    ranks = doc_ranks(DEVELOPERS.read_text())
    graph = {m: d - {"evalkit"} for m, d in import_graph().items() if m != "evalkit"}  # the lazy public API
    assert set(ranks) == {_part(m) for m in graph}, "DEVELOPERS.md's ranks and evalkit's parts differ"
    bad = rank_violations(graph, ranks)
    assert not bad, "\n".join(bad)


def test_analyze_and_contamination_import_only_what_the_doc_names() -> None:
    rules = doc_only_imports(DEVELOPERS.read_text())
    assert rules["analyze"] == {"evalkit.errors", "evalkit.records"}
    assert set(rules) == {"analyze", "contamination"}
    graph = import_graph()
    bad = [x for part, allowed in rules.items() for x in foreign_imports(graph, part, allowed)]
    assert not bad, "\n".join(bad)
    assert "evalkit.store.jsonl" in graph["evalkit.contamination.audit"]  # the one edge the doc explains


def test_private_modules_stay_in_their_package() -> None:
    bad = private_imports(import_graph())
    assert not bad, "\n".join(bad)


ANALYZE_LIBRARIES = {"numpy", "scipy", "math", "itertools", "warnings", "fractions", "dataclasses", "collections",
                     "typing", "__future__", "evalkit"}


def library_violations(folder: Path, allowed: set[str] = ANALYZE_LIBRARIES) -> list[str]:
    """Imports of libraries outside ``allowed``, and calls of ``open``, in the folder's modules."""
    bad = []
    for f in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{f.name}: {n}" for n in names if n.split(".")[0] not in allowed]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                bad.append(f"{f.name}: open()")
    return bad


def test_analyze_is_pure_numpy_scipy() -> None:
    bad = library_violations(ROOT / "analyze")
    assert not bad, bad


def surface_problems(init: Path) -> list[str]:
    """What is wrong with a package's public surface: ``__all__`` unsorted (case-insensitively), a name in it
    the package does not define, or ``__all__`` and the docstring's table (`` | `name` | what | ``) differing
    in names or order, or a table line without its description."""
    tree = ast.parse(init.read_text())
    names = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                  and any(getattr(t, "id", "") == "__all__" for t in n.targets)), None)
    if names is None:
        return ["no __all__"]
    bad = [] if names == sorted(names, key=str.lower) else ["__all__ is not sorted"]
    defined = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    bad += [f"{n}: in __all__, not imported" for n in names if n not in defined]
    rows = re.findall(r"^\| `(\w+)` \|(.*)\|$", ast.get_docstring(tree) or "", re.M)
    if [r[0] for r in rows] != names:
        bad.append(f"the docstring's table differs from __all__: {sorted(set(names) ^ {r[0] for r in rows})}")
    bad += [f"{n}: no description" for n, what in rows if not what.strip()]
    return bad


def test_analyze_lists_its_public_surface() -> None:
    import evalkit.analyze

    assert not surface_problems(ROOT / "analyze" / "__init__.py")
    assert all(hasattr(evalkit.analyze, n) for n in evalkit.analyze.__all__)
    assert not any(n.startswith("_") for n in evalkit.analyze.__all__)


def long_functions(root: Path = ROOT, limit: int = 80) -> list[str]:
    long = []
    for f in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                n = node.end_lineno - start + 1
                if n > limit:
                    long.append(f"{f.relative_to(root.parent)}:{node.lineno} {node.name}: {n} lines")
    return long


def test_no_function_over_80_lines() -> None:
    long = long_functions()
    assert not long, "\n".join(long)


def test_the_graph_sees_lazy_imports() -> None:
    """The checker itself: a function-level import counts, and a cycle is found."""
    graph = import_graph()
    assert "evalkit.pipeline" in graph["evalkit.cli.main"]
    assert "evalkit.integrations.lmeval.io" in graph["evalkit.cli.lm_eval_cmd"]
    assert "evalkit.store.row" in graph["evalkit.store"]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    lazy = function_level_imports(
        ast.parse("import os\ndef f():\n    from evalkit.spec import Plan\n    import vllm\n")
    )
    assert lazy == [(3, "evalkit.spec"), (4, "vllm")]


# The only libraries imported inside functions: optional ones (an extra, or a model stack evalkit
# runs without) and the heavy ones the command line should not pay for at start-up.
LAZY_OK = {"vllm", "torch", "transformers", "huggingface_hub", "matplotlib", "playwright", "submitit", "lm_eval",
           "sentence_transformers", "math_verify", "sympy", "latex2sympy2_extended", "pandas", "pyarrow"}


def function_level_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import statement inside a function."""
    out = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    out += [(node.lineno, a.name) for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    out.append((node.lineno, "." * node.level + (node.module or "")))
    return sorted(set(out))


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.append(node.module or "")
    return out


def lazy_imports(root: Path = ROOT) -> tuple[list[str], int]:
    """Function-level imports of libraries outside LAZY_OK (evalkit's own modules included), and how many
    function-level imports there are."""
    found = {f"{f.relative_to(root.parent)}:{line} {mod}": mod for f in root.rglob("*.py")
             for line, mod in function_level_imports(ast.parse(f.read_text()))}
    return sorted(k for k, mod in found.items() if mod.split(".")[0] not in LAZY_OK), len(found)


def test_function_level_imports_only_of_optional_or_heavy_libraries() -> None:
    """No evalkit module is imported inside a function (dependencies are visible at the top), and the
    libraries that are stay few and of the allowed kinds."""
    bad, n = lazy_imports()
    assert not bad, "\n".join(bad)
    assert n <= 40, n


def placement_violations(root: Path = ROOT) -> list[str]:
    """scipy or numpy's random outside analyze and contamination; lm-eval or submitit outside integrations;
    vLLM or an HTTP client of model servers outside generate."""
    bad = []
    for f in sorted(root.rglob("*.py")):
        where = f.relative_to(root.parent)
        part = _part(".".join(where.with_suffix("").parts))
        for mod in _imports(f):
            top = mod.split(".")[0]
            if (top == "scipy" or mod.startswith("numpy.random")) and part not in ("analyze", "contamination"):
                bad.append(f"{where}: {mod}")
            if top in ("lm_eval", "submitit") and part != "integrations":
                bad.append(f"{where}: {mod}")
            if top in ("vllm", "httpx", "openai") and part != "generate":  # engines and model servers
                bad.append(f"{where}: {mod}")
        text = f.read_text()
        if part not in ("analyze", "contamination") and ("np.random" in text or "default_rng" in text):
            bad.append(f"{where}: numpy random")
    return bad


def test_statistics_live_in_analyze_and_integrations_at_the_edge() -> None:
    """scipy and numpy's random generators are imported only in analyze (and contamination, whose
    calibration draws); lm-eval and submitit only under integrations; vLLM and HTTP clients of model
    servers only in generate."""
    bad = placement_violations()
    assert not bad, "\n".join(bad)


def _plant(tmp: Path, files: dict[str, str]) -> Path:
    """A package ``evalkit`` under ``tmp`` with the given modules (path -> source); its root."""
    for rel, src in files.items():
        f = tmp / "evalkit" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(src)
        for d in f.relative_to(tmp).parents:  # every folder a package
            if str(d) != "." and not (tmp / d / "__init__.py").exists():
                (tmp / d / "__init__.py").write_text("")
    return tmp / "evalkit"


def test_each_checker_fails_on_a_planted_violation(tmp_path: Path) -> None:
    """The test of the tests: every rule above, broken once in a temporary package, is reported."""
    root = _plant(tmp_path, {
        "errors.py": "", "records.py": "import evalkit.errors\n",
        "analyze/stats.py": "import pandas\nfrom evalkit.store import frame\n\ndef f():\n    return open('x')\n",
        "analyze/_private.py": "",
        "store/frame.py": "from evalkit.analyze import _private\n",
        "contamination/audit.py": "from evalkit.store import frame\nfrom evalkit.store import jsonl\n",
        "store/jsonl.py": "",
        "pipeline/run.py": "from evalkit.view import page\n",
        "view/page.py": "from scipy import stats\nimport vllm\n\ndef g():\n    from evalkit.errors import X\n",
        "report/long.py": "def h():\n" + "    x = 1\n" * 80,
        "newpart/a.py": "from evalkit.newpart import b\n", "newpart/b.py": "from evalkit.newpart import a\n",
    })
    graph = import_graph(root)
    ranks = doc_ranks(DEVELOPERS.read_text())
    assert find_cycles(graph) == [["evalkit.newpart.a", "evalkit.newpart.b", "evalkit.newpart.a"]]
    r = ranks
    assert rank_violations(graph, ranks) == [
        "newpart: a part without a rank in DEVELOPERS.md",
        f"evalkit.pipeline.run (rank {r['pipeline']}) imports evalkit.view.page (rank {r['view']})",  # siblings
        f"evalkit.store.frame (rank {r['store']}) imports evalkit.analyze._private (rank {r['analyze']})",  # upward
    ]
    rules = doc_only_imports(DEVELOPERS.read_text())
    assert foreign_imports(graph, "analyze", rules["analyze"]) == ["evalkit.analyze.stats imports evalkit.store.frame"]
    assert foreign_imports(graph, "contamination", rules["contamination"]) == [
        "evalkit.contamination.audit imports evalkit.store.frame"]  # store.jsonl is allowed, store.frame is not
    assert private_imports(graph) == ["evalkit.store.frame imports evalkit.analyze._private"]
    assert library_violations(root / "analyze") == ["stats.py: pandas", "stats.py: open()"]
    assert long_functions(root) == ["evalkit/report/long.py:1 h: 81 lines"]
    assert lazy_imports(root) == (["evalkit/view/page.py:5 evalkit.errors"], 1)
    assert placement_violations(root) == ["evalkit/view/page.py: scipy", "evalkit/view/page.py: vllm"]
    assert exception_classes(_plant(tmp_path, {"grade/bad.py": "class Oops(ValueError):\n    pass\n"})) == {
        "evalkit.grade.bad": ["Oops"]}


def test_the_doc_and_surface_checkers_fail_on_planted_violations(tmp_path: Path) -> None:
    """DEVELOPERS.md's lines are what the rules read (a reworded rank line or rule is reported, not
    skipped), and a public surface out of order or out of step with its table is reported."""
    assert doc_ranks("Ranks: errors 0, records 1, a/b 2. More.") == {"errors": 0, "records": 1, "a": 2, "b": 2}
    with pytest.raises(AssertionError, match="no ranks"):
        doc_ranks("Levels: errors 0.")
    assert doc_only_imports("- `analyze` imports only `errors`, `store.jsonl`: why.") == {
        "analyze": {"evalkit.errors", "evalkit.store.jsonl"}}
    init = tmp_path / "__init__.py"
    init.write_text('"""Stats.\n\n| name | what |\n| --- | --- |\n| `b` | bee |\n| `a` | |\n"""\n'
                    "from x import a, b\n\n__all__ = ['b', 'a', 'c']\n")
    assert surface_problems(init) == ["__all__ is not sorted", "c: in __all__, not imported",
                                      "the docstring's table differs from __all__: ['c']", "a: no description"]


LIBRARY_RUN = """
import sys
from pathlib import Path

from evalkit import Observer, regrade, report, run_sweep

if __name__ == "__main__":
    tmp = Path(sys.argv[1])
    spec = tmp / "lib.yaml"
    spec.write_text("name: lib\\nmodel: {id: scripted-model}\\ntasks:\\n  - name: math500\\n    limit: 4\\n"
                    "seeds: [0, 1]\\nsampling: {temperature: 0.7, answer_max_tokens: 30}\\n"
                    "sequential:\\n  caps: [30, 60]\\n")
    seen = Observer()
    seen.messages = []
    seen.say = seen.messages.append
    res = run_sweep(spec, tmp / "results", engine="scripted", observer=seen)
    assert res.samples == 4 * 2 * 2 and not res.failed_batches and seen.messages
    rep = report.build(res.out_dir)
    assert "| math500 | 30 |" in rep.markdown and (res.out_dir / "report.md").read_text() == rep.markdown
    assert len(report.load_results(res.out_dir)) == 16
    r = regrade(res.out_dir)
    assert r.rows == 16 and r.changed == 0
    print("cli:", " ".join(sorted(m for m in sys.modules if m.startswith("evalkit.cli"))) or "-")
    print("modules:", " ".join(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_run_sweep_as_a_library(tmp_path: Path) -> None:
    """``from evalkit import run_sweep`` runs a sweep end to end in a fresh interpreter without typer
    (or the command line) ever being imported, and report.build and regrade work on its results."""
    import subprocess
    import sys

    script = tmp_path / "lib_run.py"
    script.write_text(LIBRARY_RUN)
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                         cwd=ROOT.parent, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    modules = set(out.stdout.split("modules:", 1)[1].split())
    assert "evalkit" in modules and "pandas" in modules  # the line lists top-level packages
    # neither evalkit's command line nor typer; click may come in with httpx (its optional `httpx` command
    # is imported when click is installed), which the served-model engine uses
    assert "typer" not in modules and out.stdout.split("cli:", 1)[1].split()[0] == "-"


def exception_classes(root: Path = ROOT) -> dict[str, list[str]]:
    """Every class evalkit defines that derives from an exception (a builtin one, or any base named
    ``...Error`` / ``...Exception``), found in the source: module -> class names."""
    import builtins

    def is_exc(name: str) -> bool:
        b = getattr(builtins, name, None)
        return (isinstance(b, type) and issubclass(b, BaseException)) or name.endswith(("Error", "Exception"))

    out: dict[str, list[str]] = {}
    for mod, path in _modules(root).items():
        for node in ast.walk(ast.parse(path.read_text())):
            bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                     for b in getattr(node, "bases", [])]
            if isinstance(node, ast.ClassDef) and any(is_exc(b) for b in bases):
                out.setdefault(mod, []).append(node.name)
    return out


def test_errors_share_one_root() -> None:
    """Every exception class evalkit defines (found in the source, not listed by hand) derives from
    EvalkitError and carries an exit code."""
    import importlib

    from evalkit.errors import EvalkitError
    from evalkit.generate.packs import PackError
    from evalkit.spec import SpecError

    found = exception_classes()
    assert sum(len(v) for v in found.values()) >= 14  # the scan sees them (14 when this test was written)
    for mod, names in found.items():
        module = importlib.import_module(mod)
        for name in names:
            cls = getattr(module, name)
            assert issubclass(cls, EvalkitError), f"{mod}.{name} does not derive from EvalkitError"
            assert cls.exit_code in (1, 2), f"{mod}.{name}"
    assert PackError.exit_code == 1  # the environment, not the input
    with pytest.raises(ValueError):  # the old bases still catch them
        raise SpecError(["x: bad"])
