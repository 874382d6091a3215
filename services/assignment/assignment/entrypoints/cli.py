"""assignment's command line: `python -m assignment.entrypoints.cli --help`.

rebuild-read-models: drop assignment's read models (assignments, revenue) and replay the events into them.
DEAD_LETTERS: for `leadflow dlq list|show|redrive --service assignment`.
"""

from __future__ import annotations

import typer

from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import open_read_store
from leadflow_shared.rebuild import rebuild_with_progress
from leadflow_shared.redrive import DeadLetterSource, data_keys_of
from leadflow_shared.topics import LEADS_EVENTS

from ..application import AssignmentApplication
from ..projections import AssignmentsProjection, RevenueProjection
from ..settings import AssignmentSettings

CONSUMED = (LEADS_EVENTS,)  # as in entrypoints/stream.py


DEAD_LETTERS = DeadLetterSource("assignment", CONSUMED, AssignmentSettings, data_keys_of(AssignmentApplication))

cli = typer.Typer(help="leadflow assignment commands", no_args_is_help=True, add_completion=False)


@cli.callback()
def commands() -> None:
    """leadflow assignment commands (a group, so a command is named even while it is the only one)."""


@cli.command("rebuild-read-models")
def rebuild_read_models() -> None:
    """Drop and recreate assignment's read-model tables (assignments, and the revenue activity log,
    stays, day-by-day counts and runs), then replay the event store into them."""
    settings = AssignmentSettings()
    app = AssignmentApplication(env=settings.eventsourcing_env())
    store = open_read_store(settings)
    try:
        for name, projection in (("assignment", AssignmentsProjection()), ("revenue", RevenueProjection())):
            rebuild_with_progress(ProjectionRunner(app, store, projection), name)
    finally:
        store.close()
        app.close()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
