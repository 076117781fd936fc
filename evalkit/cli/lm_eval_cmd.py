"""lm-evaluation-harness interoperability on the command line.

* ``evalkit import lm-eval SAMPLES.jsonl... --task T --out results/NAME``: lm-eval sample logs (s1's
  released results included) into evalkit's results layout, regraded.
* ``evalkit export lm-eval results/NAME``: evalkit results as lm-eval sample logs.
* ``evalkit-lm-eval ...``: lm-eval's own CLI with ``evalkit-vllm`` registered
  (:mod:`evalkit.integrations.lmeval.cli`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.common import App, console, failing, say, show
from evalkit.integrations.lmeval.io import export_samples, import_samples
from evalkit.report import build


def register(app: typer.Typer) -> None:
    """Add ``import lm-eval`` and ``export lm-eval`` to the ``evalkit`` command."""
    import_app = App(no_args_is_help=True, help="Bring other harnesses' results into evalkit's layout.")
    export_app = App(no_args_is_help=True, help="Write evalkit results in other harnesses' formats.")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")

    @import_app.command("lm-eval")
    def import_lm_eval(
        samples: Annotated[
            list[Path], typer.Argument(help="lm-eval samples_*.jsonl files (files of one setting are seeds)")
        ],
        task: Annotated[str, typer.Option(help="evalkit task the docs belong to (answer type, grader, problem ids)")],
        out: Annotated[Path, typer.Option(help="results directory to create, e.g. results/s1_forcing2k")],
        model: Annotated[
            str | None, typer.Option(help="model name (default: from results_<date>.json beside a file)")
        ] = None,
        tokenizer: Annotated[
            str | None,
            typer.Option(help="recount tokens with: an installed pack, a local tokenizer directory, or scripted"),
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="replace --out if it exists")] = False,
        workers: Annotated[int, typer.Option(min=1, help="sandboxed grading processes")] = 1,
        report: Annotated[bool, typer.Option(help="print the report afterwards")] = True,
    ) -> None:
        """Import lm-eval sample logs: regrade with evalkit's grader and store rows for report / figures / claims."""
        with failing():
            res = import_samples(samples, task, out, model=model, tokenizer=tokenizer, force=force, workers=workers,
                                 log=say)
        for m in res.messages:
            say(m)
        agree = (f"; evalkit agrees with the files' exact_match on {res.agree} of {res.compared} docs"
                 if res.compared else "")
        say(f"{res.out_dir}: {res.rows} rows in {len(res.cells)} cells; {res.matched} docs matched to {task} "
            f"problems, {res.unmatched} not; token counts: {res.token_counts}{agree}")
        if report:
            with failing():
                build(res.out_dir, show=show, say=say)

    @export_app.command("lm-eval")
    def export_lm_eval(
        results_dir: Annotated[Path, typer.Argument(help="results/<sweep>")],
        out: Annotated[Path | None, typer.Option(help="output folder (default: results/<sweep>/lm_eval)")] = None,
    ) -> None:
        """Export a results directory as lm-eval samples_*.jsonl (one file per cell and seed)."""
        with failing():
            files = export_samples(results_dir, out)
        for f in files:
            console.print(str(f), highlight=False)
        say(f"wrote {len(files)} samples files and index.json")
