"""The wheel carries what it needs (issue #38, item 5): built from the repository, installed into a fresh
virtualenv outside the checkout, and run there with the working directory in a temporary folder: ``evalkit
tasks`` lists all four tasks, every shipped sweep has a dry run, ``evalkit claims`` decides the default
claims file, and a scripted-engine sweep writes its report.

The fresh virtualenv gets the wheel by a real ``pip install --no-deps --no-index`` and its dependencies from
the test's own environment through a ``.pth`` line naming that environment's site-packages: no download, a
few seconds. Lines of a ``.pth`` are plain ``sys.path`` entries (the ``.pth`` files of the folder they name
are not read), so the editable install of the checkout there stays out of the fresh interpreter; the tests
check that ``evalkit`` is imported from the fresh virtualenv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalkit.cli import app
from tests.conftest import hub_cache_entry

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "evalkit", "tasks", "sweeps", "paper_figs")
SWEEPS = sorted(p.name for p in (ROOT / "sweeps").glob("*.yaml"))
GPQA_FIXTURE = "tests/data/real_outputs/gpqa_synthetic.csv"  # a spec's data_path: relative to the working dir
SMALL = """\
name: from_wheel
model: {id: scripted, flops_config: smollm2-135m}
tasks: [{name: math500, where: {level: [1]}, limit: 6}]
seeds: [0, 1]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [40, 160], ignores: [0, 1], controls: [Wait]}
"""


def shipped_files() -> dict[str, Path]:
    """What the wheel must carry under evalkit/_shipped/: all of tasks/, the sweeps, paper_figs' YAML files."""
    files = [*(ROOT / "tasks").rglob("*"), *(ROOT / "sweeps").glob("*.yaml"), *(ROOT / "paper_figs").glob("*.yaml")]
    return {f"evalkit/_shipped/{f.relative_to(ROOT).as_posix()}": f for f in files if f.is_file()}


class Fresh:
    """A virtualenv outside the checkout with the built wheel installed, and a working folder to run it in."""

    def __init__(self, base: Path) -> None:
        self.base, self.wheel = base, self._build(base)
        self.venv, self.cwd = base / "venv", base / "work"
        self.cwd.mkdir()
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True, capture_output=True)
        py = self.venv / "bin" / "python"
        site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
        Path(site, "_evalkit_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
        subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(self.wheel)],
                       check=True, capture_output=True)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "VIRTUAL_ENV", "EVALKIT_TASKS_DIR", "EVALKIT_GPQA_CSV")}
        self.env.update(PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                        XDG_CACHE_HOME=str(base / "cache"), HF_HUB_CACHE=str(base / "hub"), HF_HUB_OFFLINE="1")

    @staticmethod
    def _build(base: Path) -> Path:
        """``pip wheel`` of a copy of the sources (a build in the checkout would leave build/ and egg-info)."""
        src = base / "src"
        for name in SOURCES:
            f = ROOT / name
            if f.is_dir():
                shutil.copytree(f, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "out"))
            else:
                src.mkdir(exist_ok=True)
                shutil.copy2(f, src / name)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", ".",
                        "-w", str(base / "dist")], cwd=src, check=True, capture_output=True)
        shutil.rmtree(src)
        return next((base / "dist").glob("evalkit-*.whl"))

    def run(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        """``evalkit <args>`` from the fresh virtualenv, in its working folder: exit code, stdout + stderr."""
        r = subprocess.run([str(self.venv / "bin" / "evalkit"), *args], cwd=self.cwd, capture_output=True, text=True,
                           env={**self.env, **(env or {})}, timeout=300)
        return r.returncode, r.stdout + r.stderr


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    return Fresh(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_carries_the_tasks_their_data_the_sweeps_and_the_paper_files(fresh: Fresh) -> None:
    with zipfile.ZipFile(fresh.wheel) as z:
        names = set(z.namelist())
        want = shipped_files()
        must = ("tasks/data/math500.jsonl", "sweeps/quickstart.yaml", "paper_figs/s1_claims.yaml",
                "paper_figs/s1_reported.yaml")
        assert {f"evalkit/_shipped/{f}" for f in must} <= set(want)
        assert sorted(n for n in names if n.startswith("evalkit/_shipped/")) == sorted(want)
        assert all(z.read(n) == f.read_bytes() for n, f in want.items())
    assert not (ROOT / "evalkit" / "_shipped").exists()  # the repository keeps one copy


def test_evalkit_is_imported_from_the_fresh_virtualenv(fresh: Fresh) -> None:
    assert not fresh.base.resolve().is_relative_to(ROOT)
    code = "import evalkit; from evalkit.spec import shipped; print(evalkit.__file__); print(shipped.root())"
    r = subprocess.run([str(fresh.venv / "bin" / "python"), "-c", code], cwd=fresh.cwd, env=fresh.env,
                       capture_output=True, text=True, check=True)
    module, root = (Path(line) for line in r.stdout.split())
    site = fresh.venv.resolve()
    assert module.is_relative_to(site) and root == module.parent / "_shipped", r.stdout


def test_evalkit_tasks_lists_the_four_tasks_with_verified_data(fresh: Fresh) -> None:
    code, out = fresh.run("tasks")
    assert code == 0, out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"aime24", "aime25", "gpqa_diamond", "math500"} <= set(rows), out
    assert all("ok (sha256 verified)" in rows[t] for t in ("aime24", "aime25", "math500")), out
    assert "gated" in rows["gpqa_diamond"], out


@pytest.mark.parametrize("name", SWEEPS)
def test_every_shipped_sweep_has_a_dry_run(fresh: Fresh, name: str) -> None:
    """By the path the README gives (``sweeps/<file>``, found among the shipped ones). A sweep naming a hub
    model dry-runs once the model is in the local Hugging Face cache and refuses, saying so, before; the GPQA
    sweep reads the repository's synthetic CSV by a path relative to the working directory: gated data is
    never shipped, so it is refused, naming the file, until the CSV is there."""
    spec = yaml.safe_load((ROOT / "sweeps" / name).read_text())
    model = spec["model"]["id"]
    paths = [t["data_path"] for t in spec["tasks"] if isinstance(t, dict) and "data_path" in t]
    env = {"HF_HUB_CACHE": str(fresh.base / f"hub-{name}")}  # empty: the sweep's own
    if "/" in model:
        code, out = fresh.run("sweep", f"sweeps/{name}", "--dry-run", env=env)
        assert code == 2 and f"model.id: {model} is not a model directory, nor in the local Hugging Face cache" in out
        hub_cache_entry(Path(env["HF_HUB_CACHE"]), model)
    for p in paths:
        assert p == GPQA_FIXTURE
        code, out = fresh.run("sweep", f"sweeps/{name}", "--dry-run", env=env)
        assert code == 2 and f"CSV {p} does not exist" in out, out
        (fresh.cwd / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / p, fresh.cwd / p)
    code, out = fresh.run("sweep", f"sweeps/{name}", "--dry-run", env=env)
    assert code == 0 and f"sweep {spec['name']}: " in out and "upper bound on generated tokens" in out, out
    assert not (fresh.cwd / "results").exists()


def test_a_shipped_sweep_by_its_name(fresh: Fresh) -> None:
    code, out = fresh.run("sweep", "quickstart", "--dry-run")
    assert code == 0 and "sweep quickstart: 4 cells x 2 seeds" in out, out
    code, out = fresh.run("sweep", "quikstart", "--dry-run")
    assert code == 2 and "quikstart: no such spec file; shipped sweeps: quickstart" in out, out


def test_evalkit_claims_decides_the_default_claims_file_as_in_the_checkout(
        fresh: Fresh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = fresh.run("claims", "--reported", "paper_figs/s1_reported.yaml", "--out", "claims")
    assert code == 0, out
    got = (fresh.cwd / "claims" / "claims.md").read_text()
    monkeypatch.chdir(tmp_path)  # the same command from the checkout's package, outside the checkout
    res = CliRunner().invoke(app, ["claims", "--reported", "paper_figs/s1_reported.yaml", "--out", "claims"])
    assert res.exit_code == 0, res.output
    assert got.startswith("# Claims about s1: verdicts") and got == (tmp_path / "claims" / "claims.md").read_text()


def _rows(report: Path) -> list[str]:
    return [line for line in report.read_text().splitlines() if line.startswith("| math500 |")]


def test_a_scripted_sweep_and_its_report_as_in_the_checkout(
        fresh: Fresh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (fresh.cwd / "from_wheel.yaml").write_text(SMALL)
    code, out = fresh.run("sweep", "from_wheel.yaml", "--engine", "scripted")
    assert code == 0, out
    report = fresh.cwd / "results" / "from_wheel" / "report.md"
    assert report.is_file() and "SCRIPTED TEST ENGINE - NOT MODEL OUTPUT" in report.read_text(), out
    monkeypatch.chdir(tmp_path)  # the same sweep from the checkout's package, outside the checkout
    (tmp_path / "from_wheel.yaml").write_text(SMALL)
    res = CliRunner().invoke(app, ["sweep", "from_wheel.yaml", "--engine", "scripted"])
    assert res.exit_code == 0, res.output
    assert len(_rows(report)) == 4 and _rows(report) == _rows(tmp_path / "results" / "from_wheel" / "report.md")
    shipped = fresh.venv.resolve() / "lib"
    named = next(w for w in out.split() if w.endswith("s1_reported.yaml"))
    assert Path(named).is_relative_to(shipped) and Path(named).is_file(), out  # the next steps name the wheel's


def test_an_installed_wheel_records_no_commit_of_the_repository_around_it(fresh: Fresh) -> None:
    """A virtualenv inside a user's own git repository: the manifest's git_commit is evalkit's, never theirs."""
    subprocess.run(["git", "init", "-q", str(fresh.base)], check=True)
    subprocess.run(["git", "-C", str(fresh.base), "-c", "user.name=u", "-c", "user.email=u@example.org", "commit", "-q",
                    "--allow-empty", "-m", "the user's project"], check=True)
    code = "from evalkit.pipeline.provenance import git_commit; print(git_commit())"
    r = subprocess.run([str(fresh.venv / "bin" / "python"), "-c", code], cwd=fresh.cwd, env=fresh.env,
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "None", r.stdout
