"""intake's command line: `python -m intake.entrypoints.cli --help` (`make rebuild-intake`).

import-leads / import-template: the template import from a terminal. The command opens
intake's event store from IntakeSettings (INTAKE_* environment), the same store the service
uses. On SQLite run it while the service is stopped (one writer at a time); on PostgreSQL it
may run beside the service: optimistic concurrency protects every lead.

rebuild-read-models: drop every intake read model and replay the events into it.

redrive-dead-letters: after a fix, send a consumed topic's dead letters back to it, each exactly
once; sealed ones (the inbound topic's: they hold personal data) are opened with intake's data
keys, those of erased leads are skipped. May run beside the service (it only reads the key
table). `leadflow dlq list|show|redrive --service intake` does the same and more (DEAD_LETTERS).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from leadflow_shared.cli import run_redrive
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import open_read_store
from leadflow_shared.rebuild import rebuild_with_progress
from leadflow_shared.redrive import DeadLetterSource, data_keys_of
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_INBOUND, REFERRALS_EVENTS, SELLERS_EVENTS

from ..application import IntakeApplication
from ..application.importing import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    MAX_CLI_ROWS,
    FileRefused,
    ImportReport,
    LeadFile,
    ReportFile,
    import_file,
    save_template,
)
from ..application.importing.report import OUTCOMES
from ..projections import LeadListProjection
from ..settings import IntakeSettings

cli = typer.Typer(help="leadflow intake commands", no_args_is_help=True, add_completion=False)

EXIT_SOME_REJECTED = 1
EXIT_FILE_REFUSED = 2
EXIT_STOPPED = 3
SHOWN_REJECTED = 20


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.completed / task.elapsed if task.elapsed else None  # the average, not the last seconds
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


def import_leads(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV in the template's shape")
    ],
    report: Annotated[
        Path | None, typer.Option("--report", help="write the full per-row report here (.json, else CSV)")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=MAX_BATCH_SIZE, help="rows per transaction")
    ] = DEFAULT_BATCH_SIZE,
) -> None:
    """Import leads from a CSV file into intake's event store.

    Exit 0: all rows accepted; 1: some rows rejected; 2: the file was refused; 3: the import stopped.
    """
    console = Console(stderr=True)
    with file.open("rb") as binary:
        lead_file = LeadFile(binary, max_rows=MAX_CLI_ROWS)
        try:
            total = lead_file.check()
        except FileRefused as exc:
            console.print(f"[red]file refused, nothing imported:[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_FILE_REFUSED) from None
        app = open_store()
        with contextlib.ExitStack() as stack:
            # Rows go to the report file as they are recorded; memory keeps only what is shown.
            written = stack.enter_context(ReportFile(report)) if report is not None else None
            outcome = ImportReport(
                keep_accepted=0, keep_rejected=SHOWN_REJECTED, sink=written.row if written is not None else None
            )
            with Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                RowsPerSecond(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("rows", total=total)
                stopped: Exception | None = None
                try:
                    import_file(
                        app,
                        lead_file,
                        via="import-cli",
                        batch_size=batch_size,
                        report=outcome,
                        on_batch=lambda n: progress.advance(task, n),
                    )
                except Exception as exc:  # the store went away: say how far it got, then stop
                    stopped = exc
            if written is not None:
                written.finish(outcome)
    _summarise(console, outcome, report)
    if stopped is not None:
        console.print(
            f"[red]import stopped after {outcome.processed:,} rows:[/red] {escape(type(stopped).__name__)}. "
            "The rows above are recorded; importing the file again is safe (they come back as duplicates)."
        )
        raise typer.Exit(EXIT_STOPPED) from stopped
    if outcome.totals["rejected"]:
        raise typer.Exit(EXIT_SOME_REJECTED)


def open_store() -> IntakeApplication:
    """intake's event store as the service opens it (INTAKE_* settings)."""
    return IntakeApplication(env=IntakeSettings().eventsourcing_env())


def import_template(
    path: Annotated[Path, typer.Argument(dir_okay=False, help="where to write the template")],
) -> None:
    """Write the CSV import template: the header and one example row (delete it before importing)."""
    save_template(path)
    Console(stderr=True).print(f"template written to {path}")


def _summarise(console: Console, report: ImportReport, written_to: Path | None) -> None:
    console.print(f"{report.processed:,} rows in {report.seconds:.1f}s ({report.rows_per_second:,.0f} rows/s)")
    table = Table()
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    for outcome in OUTCOMES:
        table.add_row(outcome, f"{report.totals[outcome]:,}")
    if report.blank_rows:
        table.add_row("blank (skipped)", f"{report.blank_rows:,}")
    console.print(table)
    rejected = [r for r in report.rows if r.outcome == "rejected"]
    if rejected:
        count = report.totals["rejected"]
        problems = Table(title=f"rejected rows (first {min(len(rejected), SHOWN_REJECTED)} of {count:,})")
        for name in ("row", "line", "field", "reason"):
            problems.add_column(name)
        for r in rejected[:SHOWN_REJECTED]:
            for p in r.problems:
                problems.add_row(str(r.row), str(r.line), p.field, p.reason)
        console.print(problems)
    if written_to is not None:
        console.print(f"full report: {written_to}")


def rebuild_read_models() -> None:
    """Drop and recreate intake's read-model tables, then replay the whole event store into them.

    Finds the stores from INTAKE_* settings (SQLite beside the event store, or its PostgreSQL
    database). One transaction: readers keep the old model until the new one is complete.
    """
    settings = IntakeSettings()
    app = IntakeApplication(env=settings.eventsourcing_env())
    runner = ProjectionRunner(app, open_read_store(settings), LeadListProjection())
    try:
        rebuild_with_progress(runner, "intake")
    finally:
        runner.store.close()
        app.close()


CONSUMED = (LEADS_INBOUND, ASSIGNMENTS_EVENTS, SELLERS_EVENTS, REFERRALS_EVENTS)  # as in entrypoints/stream.py


DEAD_LETTERS = DeadLetterSource("intake", CONSUMED, IntakeSettings, data_keys_of(IntakeApplication))
"""For `leadflow dlq … --service intake` (may run beside the service: it only reads the key table)."""


def redrive_dead_letters(
    topic: Annotated[
        str, typer.Option(help="the consumed topic whose .dlq to redrive (without the TOPIC_PREFIX)")
    ] = LEADS_INBOUND,
) -> None:
    """Send TOPIC.dlq's dead letters back to TOPIC as they first arrived (run it once the fix is
    deployed), each exactly once. Sealed letters are opened with intake's data keys; erased or
    truncated ones are skipped and counted. The same as `leadflow dlq redrive --service intake`."""
    if topic not in CONSUMED:
        raise typer.BadParameter(f"intake consumes {', '.join(sorted(CONSUMED))}", param_hint="--topic")
    run_redrive(DEAD_LETTERS, topic)


cli.command("import-leads")(import_leads)
cli.command("import-template")(import_template)
cli.command("rebuild-read-models")(rebuild_read_models)
cli.command("redrive-dead-letters")(redrive_dead_letters)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
