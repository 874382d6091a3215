"""assignment's command line: `python -m assignment.entrypoints.cli --help`.

rebuild-read-models: drop assignment's read model and replay the events into it.
"""

from __future__ import annotations

import typer

from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import open_read_store
from leadflow_shared.rebuild import rebuild_with_progress

from ..application import AssignmentApplication
from ..projections import AssignmentsProjection
from ..settings import AssignmentSettings

cli = typer.Typer(help="leadflow assignment commands", no_args_is_help=True, add_completion=False)


@cli.callback()
def commands() -> None:
    """leadflow assignment commands (a group, so a command is named even while it is the only one)."""


@cli.command("rebuild-read-models")
def rebuild_read_models() -> None:
    """Drop and recreate assignment's read-model tables, then replay the event store into them."""
    settings = AssignmentSettings()
    app = AssignmentApplication(env=settings.eventsourcing_env())
    runner = ProjectionRunner(app, open_read_store(settings), AssignmentsProjection())
    try:
        rebuild_with_progress(runner, "assignment")
    finally:
        runner.store.close()
        app.close()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
