"""SIGKILL a sweep at 20 random points, resuming each time; compare with an uninterrupted run.

    python benchmarks/kill_resume.py [--kills 20] [--seed 0]

Uses the scripted engine (with a per-call delay so the sweep takes a few seconds) and the CLI in a
subprocess, killed with SIGKILL (the whole process group). Prints the kills made, the rows and
duplicates of the final table, and whether it equals the uninterrupted table.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evalkit.store import ResultStore

SPEC = """\
name: kill
model: {id: scripted, engine: {delay_s: 0.15}}
tasks:
  - name: math500
    where: {level: [1, 2]}
    limit: 24
seeds: [0, 1, 2]
sampling: {temperature: 0.7, answer_max_tokens: 30}
sequential: {caps: [30, 90], ignores: [0, 1]}
parallel: {n: 3, caps: [30]}
executor: {chunk_size: 2, retries: 0}
"""


def sweep(spec: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evalkit.cli", "sweep", str(spec), "--engine", "scripted",
                             "--results", str(out), "--no-report"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        spec = tmp / "kill.yaml"
        spec.write_text(SPEC)
        t0 = time.perf_counter()
        assert sweep(spec, tmp / "ref").wait() == 0
        ref_s = time.perf_counter() - t0
        ref = ResultStore(tmp / "ref" / "kill").read_rows().drop(columns=["wall_s", "provenance"])
        kills, starts = 0, 0
        while True:
            proc = sweep(spec, tmp / "run")
            starts += 1
            if kills < a.kills:
                try:
                    proc.wait(timeout=rng.uniform(1.0, 3.0))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    continue
            if proc.wait() == 0:
                break
        got = ResultStore(tmp / "run" / "kill").read_rows().drop(columns=["wall_s", "provenance"])
        dups = int(got.duplicated(["cell_id", "seed", "problem_id", "sample"]).sum())
        same = got.equals(ref)
        print(f"uninterrupted sweep: {len(ref)} rows in {ref_s:.1f} s")
        print(f"killed with SIGKILL {kills} times over {starts} starts; final table: {len(got)} rows, "
              f"{dups} duplicate rows, identical to the uninterrupted table: {same}")
        leftovers = list((tmp / "run").rglob("*.tmp"))
        print(f"temporary files left behind: {len(leftovers)}")


if __name__ == "__main__":
    main()
