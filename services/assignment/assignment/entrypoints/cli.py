"""assignment's command line: `python -m assignment.entrypoints.cli --help`.

rebuild-read-models: drop assignment's read model and replay the events into it.
"""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import open_read_store

from ..application import AssignmentApplication
from ..projections import AssignmentsProjection
from ..settings import AssignmentSettings

cli = typer.Typer(help="leadflow assignment commands", no_args_is_help=True, add_completion=False)


@cli.command("rebuild-read-models")
def rebuild_read_models() -> None:
    """Drop and recreate assignment's read-model tables, then replay the event store into them."""
    console = Console()
    settings = AssignmentSettings()
    app = AssignmentApplication(env=settings.eventsourcing_env())
    runner = ProjectionRunner(app, open_read_store(settings), AssignmentsProjection())
    started = time.monotonic()
    try:
        counts = runner.rebuild()
    finally:
        runner.store.close()
        app.close()
    table = Table("table", "rows", title="assignment read models rebuilt")
    for name, rows in counts.items():
        table.add_row(name, str(rows))
    console.print(table)
    console.print(f"done in {time.monotonic() - started:.2f}s")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
