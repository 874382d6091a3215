"""`python -m intake.cli rebuild-read-models`: drop every intake read model and replay the events."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..application import IntakeApplication
from ..settings import IntakeSettings
from . import LeadReadModel, open_read_store


def rebuild_read_models() -> None:
    """Drop and recreate intake's read-model tables, then replay the whole event store into them.

    Finds the stores from INTAKE_* settings (SQLite beside the event store, or its PostgreSQL
    database). One transaction: readers keep the old model until the new one is complete.
    """
    console = Console()
    settings = IntakeSettings()
    app = IntakeApplication(env=settings.eventsourcing_env())
    model = LeadReadModel.open(app, open_read_store(settings))
    started = time.monotonic()
    try:
        with Progress(
            TextColumn("[bold]replaying events"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("replay", total=app.recorder.max_notification_id() or 0)
            counts = model.rebuild(lambda done, total: progress.update(task, completed=done, total=total))
    finally:
        model.close()
        app.close()
    table = Table("table", "rows", title="intake read models rebuilt")
    for name, rows in counts.items():
        table.add_row(name, str(rows))
    console.print(table)
    console.print(f"done in {time.monotonic() - started:.2f}s")


def register(cli: typer.Typer) -> None:
    cli.command("rebuild-read-models")(rebuild_read_models)
