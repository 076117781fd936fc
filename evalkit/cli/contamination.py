"""``evalkit contamination``: audit a training set against the benchmarks (registered by main.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from evalkit.cli.common import err, show
from evalkit.cli.common import fail as _fail
from evalkit.contamination import (
    EMBEDDING_THRESHOLD,
    TrainingDataError,
    audit,
    read_training,
    render_markdown,
)
from evalkit.contamination.embed import EmbeddingUnavailable, Encoder
from evalkit.spec.exclude import format_exclude
from evalkit.spec.tasks import TaskError, benchmark_names, get_task, load_questions
from evalkit.store import atomic_write_bytes


def _benchmarks_help() -> str:
    """The default tasks, read from the task registry (all of them; the gated ones only with their data)."""
    try:
        every, gated = benchmark_names(), [n for n in benchmark_names() if n not in benchmark_names(True)]
    except TaskError as e:
        return f"comma-separated tasks [the tasks cannot be listed: {e}]"
    return f"comma-separated tasks [default: {','.join(every)}; {','.join(gated)} only when its CSV is available]"


def _ints(s: str, what: str) -> tuple[int, ...]:
    try:
        out = tuple(int(x) for x in s.split(",") if x.strip())
    except ValueError:
        _fail(f"{what} must be comma-separated integers, got {s!r}")
    if not out or any(n < 1 for n in out):
        _fail(f"{what} must be positive integers, got {s!r}")
    return out


def _questions(names: list[str], defaults: bool, gpqa_csv: Path | None) -> list:
    """The benchmarks' questions; with the default benchmarks, a gated task (gpqa_diamond) is skipped without
    its CSV."""
    questions = []
    for name in names:
        gated = False
        try:
            gated = not get_task(name).vendored
            questions += load_questions(name, data_path=str(gpqa_csv) if gpqa_csv and gated else None)
        except TaskError as e:
            if defaults and gated:
                err.print(f"skipping {name}: {e}", highlight=False)
                continue
            _fail(str(e))
    return questions


def contamination(
    train: Annotated[Path, typer.Argument(help="training set (JSONL)")],
    field: Annotated[str, typer.Option("--field", help="JSON field holding the question")],
    trace_field: Annotated[
        str | None, typer.Option("--trace-field", help="JSON field holding the trace (answer leakage)")
    ] = None,
    benchmarks: Annotated[
        str | None,
        typer.Option(
            help=_benchmarks_help()
        ),
    ] = None,
    gpqa_csv: Annotated[
        Path | None, typer.Option("--gpqa-csv", help="official gpqa_diamond.csv (else EVALKIT_GPQA_CSV)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="output folder [default: results/contamination/<train stem>]")
    ] = None,
    ngram: Annotated[str, typer.Option(help="n-gram sizes")] = "8,13",
    threshold: Annotated[float | None, typer.Option(help="cosine threshold (default: the calibrated one)")] = None,
    embeddings: Annotated[
        bool, typer.Option("--embeddings/--no-embeddings", help="paraphrase check with all-MiniLM-L6-v2")
    ] = True,
    precision: Annotated[str, typer.Option(help="embedding precision: auto | fp32 | bf16")] = "auto",
    exclude_by: Annotated[
        str | None,
        typer.Option(
            "--exclude-by", help="methods whose flags enter flagged.txt, e.g. embedding,13-gram [default: all]"
        ),
    ] = None,
    rows: Annotated[int, typer.Option(help="flagged pairs printed")] = 20,
) -> None:
    """Flag (benchmark problem, training item) pairs by n-gram overlap, paraphrase similarity and answer
    leakage; writes flagged.jsonl, flagged.txt (an exclude list for `evalkit report --exclude`), report.md
    and summary.json."""
    sizes = _ints(ngram, "--ngram")
    names = [b.strip() for b in (benchmarks.split(",") if benchmarks else benchmark_names()) if b.strip()]
    try:
        items = read_training(train, field, trace_field)
    except TrainingDataError as e:
        _fail(str(e))
    if not items:
        _fail(f"{train}: no training items")
    questions = _questions(names, benchmarks is None, gpqa_csv)
    encoder = None
    if embeddings:
        try:
            encoder = Encoder(precision=precision)
        except (EmbeddingUnavailable, ValueError) as e:
            _fail(f"{e} (or pass --no-embeddings)")
    try:
        res = audit(items, questions, ngram_sizes=sizes, encoder=encoder,
                    embedding_threshold=EMBEDDING_THRESHOLD if threshold is None else threshold,
                    log=lambda m: err.print(m, highlight=False))
    except ImportError as e:
        _fail(f"{e} (or pass --no-embeddings)")
    chosen = None
    if exclude_by:
        chosen = {m.strip() for m in exclude_by.split(",") if m.strip()}
        if not chosen <= set(res.thresholds):
            _fail(f"--exclude-by: unknown methods {sorted(chosen - set(res.thresholds))}; "
                  f"this run has {', '.join(res.thresholds)}")
    out_dir = out or Path("results") / "contamination" / train.stem
    _write(res, out_dir, train, field, trace_field, chosen, sorted({q.task for q in questions}))
    _print(res, rows)
    err.print(f"wrote {out_dir}/flagged.jsonl, flagged.txt, report.md, summary.json "
              f"({res.timings['total']:.1f}s)", highlight=False)


def _write(res, out_dir: Path, train: Path, field: str, trace_field: str | None,  # noqa: ANN001 - AuditResult
           chosen: set[str] | None, benchmarks: list[str]) -> None:
    """flagged.jsonl, flagged.txt (an exclude list), report.md and summary.json."""
    keys = res.flagged_keys(chosen)
    header = [f"evalkit contamination {train.name} --field {field}: {len(keys)} problems flagged by "
              + ("+".join(sorted(chosen)) if chosen else "any method"),
              "thresholds: " + ", ".join(f"{k} >= {v:g}" for k, v in res.thresholds.items())]
    pairs = "".join(json.dumps(f.to_dict(), ensure_ascii=False) + "\n" for f in res.flags)
    summary = {k: v for k, v in res.to_json().items() if k != "flags"}
    summary.update(train=str(train), field=field, trace_field=trace_field, benchmarks=benchmarks)
    for name, data in (("flagged.jsonl", pairs), ("flagged.txt", format_exclude(keys, header)),
                       ("report.md", render_markdown(res, str(train))),
                       ("summary.json", json.dumps(summary, indent=2, default=str) + "\n")):
        atomic_write_bytes(out_dir / name, data.encode())


def _print(res, rows: int) -> None:  # noqa: ANN001 - AuditResult
    t = Table(title="contamination: per benchmark")
    heads = ["benchmark", "problems", "flagged problems", "pairs", *[f"by {m}" for m in res.thresholds],
             "traces checked", "answer leaked"]
    for h in heads:
        t.add_column(h, justify="left" if h == "benchmark" else "right")
    for c in res.counts.values():
        t.add_row(c.task, str(c.problems), str(c.flagged_problems), str(c.pairs),
                  *[str(c.by_method.get(m, 0)) for m in res.thresholds], str(c.traces_checked),
                  "-" if not c.traces_checked else f"{c.leaked} ({100 * c.leak_fraction:.0f}%)")
    show(t)
    if not res.flags:
        return
    f = Table(title=f"flagged pairs (first {min(rows, len(res.flags))} of {len(res.flags)})")
    for h in ("problem", "train line", "methods", "cosine", "shared n-grams", "leaked answer"):
        f.add_column(h)
    for fl in res.flags[:rows]:
        ng = ", ".join(f"{n}:{fl.ngram_shared[n]}" for n in fl.ngram_shared)
        f.add_row(f"{fl.task}/{fl.problem_id}", str(fl.train_line), "+".join(fl.methods),
                  "-" if fl.similarity is None else f"{fl.similarity:.3f}", ng, fl.leaked_answer or "-")
    show(f)
