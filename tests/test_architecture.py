"""The package's shape: no import cycles, no stage importing a later one, analyze free of I/O
libraries, no function over 80 lines, and the library usable without the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "evalkit"

# Each top-level part of evalkit and its rank: a module may import modules of its own rank or below.
RANK = {"errors": 0, "records": 0, "spec": 1, "store": 1, "generate": 2, "grade": 3, "analyze": 4, "contamination": 4,
        "claims": 5, "report": 6, "pipeline": 7, "view": 7, "integrations": 8, "cli": 9}


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the evalkit modules it imports (at module level or inside functions). ``from pkg
    import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``."""
    mods = _modules()
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


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_stage_imports_a_later_one() -> None:
    bad = []
    for m, deps in import_graph().items():
        if m == "evalkit":
            continue  # the package's lazy public API
        for d in deps:
            if d != "evalkit" and RANK[_part(d)] > RANK[_part(m)]:
                bad.append(f"{m} imports {d}")
    assert not bad, "\n".join(sorted(bad))
    assert set(RANK) >= {_part(m) for m in import_graph() if m != "evalkit"}, "a new part needs a rank here"


def test_analyze_is_pure_numpy_scipy() -> None:
    allowed = {"numpy", "scipy", "math", "itertools", "warnings", "fractions", "dataclasses", "collections",
               "typing", "__future__", "evalkit"}
    bad = []
    for f in (ROOT / "analyze").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{f.name}: {n}" for n in names if n.split(".")[0] not in allowed]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                bad.append(f"{f.name}: open()")
    assert not bad, bad


def test_no_function_over_80_lines() -> None:
    long = []
    for f in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                n = node.end_lineno - start + 1
                if n > 80:
                    long.append(f"{f.relative_to(ROOT.parent)}:{node.lineno} {node.name}: {n} lines")
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


def test_function_level_imports_only_of_optional_or_heavy_libraries() -> None:
    """No evalkit module is imported inside a function (dependencies are visible at the top), and the
    libraries that are stay few and of the allowed kinds."""
    found = {f"{f.relative_to(ROOT.parent)}:{line} {mod}": mod for f in ROOT.rglob("*.py")
             for line, mod in function_level_imports(ast.parse(f.read_text()))}
    bad = [k for k, mod in found.items() if mod.split(".")[0] not in LAZY_OK]
    assert not bad, "\n".join(sorted(bad))
    assert len(found) <= 40, len(found)


def test_statistics_live_in_analyze_and_integrations_at_the_edge() -> None:
    """scipy and numpy's random generators are imported only in analyze (and contamination, whose
    calibration draws); lm-eval and submitit only under integrations; vLLM and HTTP clients of model
    servers only in generate."""
    bad = []
    for f in ROOT.rglob("*.py"):
        part = _part(".".join(f.relative_to(ROOT.parent).with_suffix("").parts))
        for mod in _imports(f):
            top = mod.split(".")[0]
            if (top == "scipy" or mod.startswith("numpy.random")) and part not in ("analyze", "contamination"):
                bad.append(f"{f.relative_to(ROOT.parent)}: {mod}")
            if top in ("lm_eval", "submitit") and part != "integrations":
                bad.append(f"{f.relative_to(ROOT.parent)}: {mod}")
            if top in ("vllm", "httpx", "openai") and part != "generate":  # engines and model servers
                bad.append(f"{f.relative_to(ROOT.parent)}: {mod}")
        text = f.read_text()
        if part not in ("analyze", "contamination") and ("np.random" in text or "default_rng" in text):
            bad.append(f"{f.relative_to(ROOT.parent)}: numpy random")
    assert not bad, "\n".join(bad)


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


def exception_classes() -> dict[str, list[str]]:
    """Every class evalkit defines that derives from an exception (a builtin one, or any base named
    ``...Error`` / ``...Exception``), found in the source: module -> class names."""
    import builtins

    def is_exc(name: str) -> bool:
        b = getattr(builtins, name, None)
        return (isinstance(b, type) and issubclass(b, BaseException)) or name.endswith(("Error", "Exception"))

    out: dict[str, list[str]] = {}
    for mod, path in _modules().items():
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
