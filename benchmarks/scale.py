"""evalkit at the sizes users run: a synthetic s1 sweep of 10^4 .. 10^6 rows written through the store's
own writer (no engine), then every command timed as a separate process (wall time and peak RSS).

    python benchmarks/scale.py --rows 10000 [--keep DIR] [--max-thinking-tokens N] [--timeout S]

Run it from a checkout's root: the evalkit timed is the working directory's (so the same script can time
another commit checked out elsewhere).

The grid is s1's: caps 512..16000 x ignores 0/1/2/4/6 (30 cells) on AIME24's 30 problems, as many seeds
as the rows need (rows = 900 x seeds, rounded up). Every (problem, seed) has one trajectory tree: a trunk
of thinking text with up to seven natural end attempts, a "Wait" injected after each of the first six;
the cell (cap, k) keeps the trunk's prefix up to the cap or its (k+1)-th end attempt, so the 30 cells
of a (problem, seed) share one text prefix as a real tree's branches do. Texts are word sequences drawn
from a Zipf law over a small vocabulary (about 3.5 characters a token, so a 16k-token thinking is about
55 KB; zstd compresses them about as much as English). The longest trunk is ``--max-thinking-tokens``
(default 16000 up to 120,000 rows and 2000 above, so 10^6 rows stay under about 20 GB of disk; the
table says which).

Commands timed (each a fresh ``python -m evalkit.cli`` or probe process; RSS from ``wait4``): ``compact``
(what the end of a sweep does; the store is measured before and after), a rerun of
the finished sweep (scripted engine; nothing to generate; ``--no-report``), status, report, figures,
claims, the viewer's index / problem / sample / search (a probe process starts ``evalkit view``'s server
and asks it over HTTP; "answer s" is the request alone, "wall s" includes start-up; "search" looks for a
word in no text, so it scans every text, "search-hits" for a common one, so it stops at the first page of
hits) and ``view --export``; then the served engine's ceiling (``benchmarks/fill.py ceiling``: one evalkit
process against the stand-in of vLLM's server answering at once, its generated tokens/s).
A command over ``--timeout`` is killed and shown as such.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

if (Path.cwd() / "evalkit").is_dir():  # the working directory's evalkit, for this process and its children
    sys.path.insert(0, str(Path.cwd()))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(Path.cwd()), *filter(None, [os.environ.get("PYTHONPATH")])])

CAPS = [512, 1024, 2048, 4096, 8192, 16000]
IGNORES = [0, 1, 2, 4, 6]
CELLS = len(CAPS) * len(IGNORES)
PROBLEMS = 30  # AIME24
ENDS = max(IGNORES) + 1  # natural end attempts of a trunk
SPEC = """\
name: {name}
model: {{id: scripted-model, flops_config: qwen2.5-32b-instruct, engine: {{p_end: 0.0004, max_difficulty: 12000}}}}
tasks: [aime24]
seeds: [{seeds}]
sampling: {{temperature: 0.7, top_p: 0.95, answer_max_tokens: 64}}
sequential:
  caps: [{caps}]
  ignores: [{ignores}]
  controls: ["Wait"]
reuse: true
"""
WORDS = ("the so we x = 2 + of is and to that a let n then 1 - this in it 3 but for not be which "
         "since sum, are with from so, can each number 4 square total must k check equal if at "
         "now p by one two triangle more than case 0 only (a b) i 5 answer compute side point "
         "gives mod therefore / value 10 where prime * find digits count as also 6 times length "
         "because 12 angle circle radius, integer first m 7 on positive 8 possible we'll 9 get").split()
NO_TEXT_WORDS = "zzquux"  # never in a synthetic text: the search below scans everything for it


def spec_text(name: str, seeds: int) -> str:
    return SPEC.format(name=name, seeds=", ".join(map(str, range(seeds))), caps=", ".join(map(str, CAPS)),
                       ignores=", ".join(map(str, IGNORES)))


class Trunk:
    """One trajectory tree's thinking: words, natural end attempts (token positions), "Wait" after each."""

    def __init__(self, rng: np.random.Generator, max_tokens: int) -> None:
        p = 1.0 / np.arange(1, len(WORDS) + 1)
        self.ends = np.sort(rng.integers(max(8, max_tokens // 20), max_tokens, ENDS))
        n = int(self.ends[-1])
        words = np.array(WORDS, dtype=object)[rng.choice(len(WORDS), n, p=p / p.sum())]
        words = [w + " " for w in words]
        for e in self.ends[:-1]:  # the control injected after the i-th ignored end attempt
            words[int(e) - 1] += "Wait "
        self.offsets = np.concatenate([[0], np.cumsum([len(w) for w in words])])
        self.text = "".join(words)

    def cut(self, cap: int, k: int) -> tuple[int, bool, str, list[list[int]]]:
        """(thinking tokens, forced by the cap, thinking text, control spans) of the branch (cap, k)."""
        stop = int(self.ends[k])
        t = min(cap, stop)
        text = self.text[: self.offsets[t]]
        spans = []
        for e in self.ends[:k]:
            if e < t:
                s = int(self.offsets[e]) - 5
                spans.append([s, s + 4, s, s + 4])
        return t, cap < stop, text, spans


def _row(ctx: dict, trunk: Trunk, cell: Any, problem: Any, seed: int, rng: np.random.Generator) -> Any:
    from evalkit.store import SampleRow

    t, forced, think, spans = trunk.cut(cell.forcing.cap, cell.forcing.n_ignore)
    correct = bool(rng.random() < 1 / (1 + math.exp(-(t - ctx["difficulty"][problem.problem_id]) / 1500)))
    answer = problem.gold if correct else str(int(rng.integers(0, 1000)))
    forced_text = "\n<|im_start|>answer\nFinal Answer:" if forced else "\n<|im_start|>answer\n"
    ans = f" The answer is \\boxed{{{answer}}}."
    prov = {"branch": bool(t < trunk.ends[-1]), "controls": spans, "round_walls_s": [0.1] * (len(spans) + 1),
            "tree_cap": max(CAPS), "tree_controls": ["Wait"], "tree_end": "natural", "tree_ignores": max(IGNORES),
            "tree_thinking_tokens": int(trunk.ends[-1])}
    n = ctx["n_active"]
    return SampleRow(
        **SampleRow.cell_fields(cell), sweep=ctx["name"], problem_id=problem.problem_id, seed=seed, sample=0,
        prompt_tokens=120, thinking_tokens=t, control_tokens=len(spans), forced_tokens=8 if forced else 0,
        answer_tokens=12, n_ignored=len(spans), n_suppressed=0, forced_end=forced,
        thinking_end="cap" if forced else "delimiter", answer_finish="stop", oov_ids=0, rounds=len(spans) + 1,
        attempts=1, wall_s=0.5, flops_naive=2.0 * n * (120 + t) * (len(spans) + 1),
        flops_prefix_cached=2.0 * n * (120 + t), flops_kv_read=1.0 * n * t, flops_prompt=2.0 * n * 120,
        gold=problem.gold, answer_type=problem.answer_type, response=think + forced_text + ans, thinking_text=think,
        answer_text=ans, extracted=answer, correct=answer == problem.gold,
        answer_class=0 if answer == problem.gold else 1,
        grade_reason="equivalent" if answer == problem.gold else "not_equivalent", grader_version=ctx["grader"],
        provenance=json.dumps(prov, sort_keys=True))


def write_synthetic(root: Path, rows: int, max_tokens: int, name: str = "s1_scale") -> tuple[Path, Path]:
    """The results directory of a finished s1 sweep of about ``rows`` rows, written batch by batch as a
    sweep writes it (parts per cell, seed and batch; cells.json; manifest.json). Returns (results, spec)."""
    from evalkit.grade import GRADER_VERSION
    from evalkit.pipeline.batches import plan_batches
    from evalkit.pipeline.provenance import now
    from evalkit.pipeline.sweep import write_manifest
    from evalkit.spec import build_plan, parse_spec
    from evalkit.store import ResultStore

    seeds = max(1, math.ceil(rows / (CELLS * PROBLEMS)))
    text = spec_text(name, seeds)
    spec_path = root / f"{name}.yaml"
    spec_path.write_text(text)
    plan = build_plan(parse_spec(text))
    store = ResultStore(root / name)
    store.write_cells({c.cell_id: {"label": c.label, **c.key} for c in plan.cells})
    started = now()
    problems = {p.problem_id: p for p in plan.selections["aime24"].problems(0)}
    ctx = {"name": name, "grader": GRADER_VERSION, "n_active": 31984648192,
           "difficulty": {pid: (i * 7919) % (max_tokens // 2) for i, pid in enumerate(sorted(problems))}}
    n, trunk_bytes = 0, 0
    for b in plan_batches(plan, set()):
        by_cell: dict[str, list] = {c: [] for c in b.cell_ids}
        cells = {c.cell_id: c for c in plan.cells}
        for k, pid in enumerate(b.problem_ids):
            rng = np.random.default_rng([b.seed, k])
            trunk = Trunk(rng, max_tokens)
            trunk_bytes += len(pa.compress(trunk.text.encode(), "zstd"))  # the distinct trajectory, compressed
            for cid in b.cell_ids:
                by_cell[cid].append(_row(ctx, trunk, cells[cid], problems[pid], b.seed, rng))
        store.write_batch(b.seed, b.batch_id, by_cell)  # as a sweep writes a batch: shared texts once
        n += sum(len(rs) for rs in by_cell.values())
    run = {"start": started, "end": now(), "executor": "local", "parts_written": n // PROBLEMS, "samples": n,
           "failed_batches": [], "generated_tokens": 0, "generate_s": 0.0}
    models = {"scripted-model": {"kind": "scripted", "path": "scripted-model", "flops_n_active": ctx["n_active"],
                                 "engine_args": {}, "max_model_len": 1 << 20}}
    write_manifest(store, plan, {}, run, models)
    (root / "trunks.json").write_text(json.dumps({"zstd_bytes": trunk_bytes}))
    return store.root, spec_path


# ---------------------------------------------------------------- the viewer probe (its own process)

def probe(kind: str, results: Path) -> None:
    """Start ``evalkit view``'s server on ``results``, ask it one question over HTTP, print JSON timings."""
    from evalkit.view import serve

    t0 = time.perf_counter()
    urls: list[str] = []
    httpd = serve(results, port=0, ready=urls.append)
    startup = time.perf_counter() - t0
    cells = json.loads((results / "cells.json").read_text())
    big = next(cid for cid, c in cells.items() if c.get("forcing", {}).get("cap") == max(CAPS)
               and c.get("forcing", {}).get("n_ignore") == max(IGNORES)) if cells else ""
    pid = "2024-I-1"
    arg = {"index": None, "problem": f"aime24~{pid}", "sample": f"{big}~0~{pid}~0", "search": NO_TEXT_WORDS,
           "search-hits": "triangle"}[kind]
    url = urls[0] + f"api/{kind.split('-')[0]}" + ("" if arg is None else "?arg=" + urllib.parse.quote(arg))
    t1 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=3600) as r:
        body = r.read()
    answer = time.perf_counter() - t1
    httpd.shutdown()
    print(json.dumps({"startup_s": startup, "answer_s": answer, "bytes": len(body)}))


# ---------------------------------------------------------------- timing commands as processes

def timed(cmd: list[str], cwd: Path, timeout: float) -> dict:
    """Run ``cmd`` as a child process; its wall time, peak RSS (wait4), exit status and stdout."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
        deadline, killed = t0 + timeout, False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline and not killed:
                os.killpg(p.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return {"wall": wall, "rss_mb": ru.ru_maxrss / 1024, "rc": p.returncode, "killed": killed, "stdout": stdout,
            "stderr": stderr}


def commands(results: Path, spec: Path, scratch: Path) -> list[tuple[str, list[str]]]:
    py, cli = sys.executable, [sys.executable, "-m", "evalkit.cli"]
    me = str(Path(__file__).resolve())
    return [
        ("compact", [*cli, "compact", str(results)]),  # what the end of a sweep does
        ("sweep rerun", [*cli, "sweep", str(spec), "--engine", "scripted", "--results", str(results.parent),
                         "--no-report"]),
        ("status", [*cli, "status", str(results)]),
        ("report", [*cli, "report", str(results)]),
        ("figures", [*cli, "figures", str(results), "--out", str(scratch / "figures")]),
        ("claims", [*cli, "claims", str(results), "--out", str(scratch / "claims")]),
        *((f"view {k}", [py, me, "--probe", k, str(results)])
          for k in ("index", "problem", "sample", "search", "search-hits")),
        ("view --export", [*cli, "view", str(results), "--export", str(scratch / "export")]),
        # the served engine's ceiling: one evalkit process against the stand-in answering at once
        ("served ceiling", [py, str(Path(me).parent / "fill.py"), "ceiling", "--seeds", "8"]),
    ]


def store_size(results: Path) -> tuple[int, int]:
    files = [f for f in results.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files), len(files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--max-thinking-tokens", type=int, help="the longest trunk (default 16000; 2000 above 120k rows)")
    ap.add_argument("--keep", type=Path, help="write the results here and keep them (reused if they exist)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds before a command is killed")
    ap.add_argument("--only", help="comma-separated command names to time (default: all)")
    ap.add_argument("--probe", nargs=2, metavar=("KIND", "RESULTS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.probe:
        return probe(a.probe[0], Path(a.probe[1]))
    max_tokens = a.max_thinking_tokens or (16000 if a.rows <= 120_000 else 2000)
    base = a.keep or Path(tempfile.mkdtemp(prefix="evalkit-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        run(base, a.rows, max_tokens, a.timeout, a.only)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)


def run(base: Path, rows: int, max_tokens: int, timeout: float, only: str | None) -> None:
    results, spec = base / "s1_scale", base / "s1_scale.yaml"
    if not (results / "manifest.json").exists():
        t0 = time.perf_counter()
        results, spec = write_synthetic(base, rows, max_tokens)
        print(f"wrote the synthetic sweep in {time.perf_counter() - t0:.0f} s", flush=True)
    n_rows = sum(json.loads(x).get("rows", 0) for x in (results / "journal" / "local.jsonl").read_text().splitlines())
    size, files = store_size(results)
    trunks = base / "trunks.json"
    distinct = json.loads(trunks.read_text())["zstd_bytes"] if trunks.exists() else 0
    ratio = f" = {size / distinct:.2f}x the {distinct / 1e6:,.0f} MB of the distinct trajectories' text (zstd)" \
        if distinct else ""
    scratch = base / "scratch"
    lines = [f"{n_rows:,} rows (30 cells x 30 problems x {n_rows // 900} seeds), thinking up to {max_tokens:,} "
             f"tokens; store {size / 1e6:,.0f} MB in {files:,} files{ratio} (as written, before compaction)", "",
             "| command | rows | wall s | peak RSS MB | answer s | note |", "|---|---:|---:|---:|---:|---|"]
    keep = set(only.split(",")) if only else None
    for name, cmd in commands(results, spec, scratch):
        if keep is not None and name not in keep:
            continue
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        r = timed(cmd, Path.cwd(), timeout)
        answer, note = "", ""
        if r["killed"]:
            note = f"killed after {timeout:.0f} s"
        elif r["rc"] != 0:
            note = f"exit {r['rc']}: " + (r["stderr"].strip().splitlines() or [""])[-1][:80]
        elif name.startswith("view ") and "export" not in name:
            got = json.loads(r["stdout"].strip().splitlines()[-1])
            answer = f"{got['answer_s']:.3f}"
            note = f"start-up {got['startup_s']:.1f} s, {got['bytes'] / 1e6:.2f} MB answer"
        elif name == "view --export":
            b, f = store_size(scratch / "export")
            note = f"{b / 1e6:,.0f} MB in {f:,} files"
        elif name == "served ceiling":
            said = [x for x in r["stdout"].splitlines() if x.startswith("generated ")]
            note = said[-1].split(": ", 1)[-1] if said else ""
        elif name == "compact":
            b, f = store_size(results)
            note = f"store {b / 1e6:,.0f} MB in {f:,} files after"
        rows_of = "7,200 (its own grid, 8 seeds)" if name == "served ceiling" else f"{n_rows:,}"
        line = f"| {name} | {rows_of} | {r['wall']:.1f} | {r['rss_mb']:,.0f} | {answer} | {note} |"
        print(line, flush=True)
        lines.append(line)
    shutil.rmtree(scratch, ignore_errors=True)
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
