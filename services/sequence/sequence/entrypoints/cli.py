"""sequence's command line: `python -m sequence.entrypoints.cli --help`.

rebuild-read-models: drop the enrolment list and the e-mail outbox and replay the events into them.
redrive-dead-letters: after a fix, send a consumed topic's dead letters back to it.
Both open sequence's stores from SequenceSettings (SEQUENCE_* environment).
"""

from __future__ import annotations

from typing import Annotated

import typer

from leadflow_shared.cli import run_redrive
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import open_read_store
from leadflow_shared.rebuild import rebuild_with_progress
from leadflow_shared.redrive import DeadLetterSource, data_keys_of
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, SELLERS_EVENTS, SEQUENCES_SIGNALS

from ..application import SequenceApplication
from ..projections import EnrolmentsProjection
from ..settings import SequenceSettings

cli = typer.Typer(help="leadflow sequence commands", no_args_is_help=True, add_completion=False)


def rebuild_read_models() -> None:
    """Drop and recreate the enrolment list and the outbox, then replay the whole event store into
    them (one transaction: readers keep the old list until the new one is complete). Stop the
    mailer first (the outbox is rebuilt from the events: e-mails sent are not sent again)."""
    settings = SequenceSettings()
    app = SequenceApplication(env=settings.eventsourcing_env())
    runner = ProjectionRunner(app, open_read_store(settings), EnrolmentsProjection())
    try:
        rebuild_with_progress(runner, "sequence")
    finally:
        runner.store.close()
        app.close()


CONSUMED = (ASSIGNMENTS_EVENTS, LEADS_EVENTS, SELLERS_EVENTS, SEQUENCES_SIGNALS)  # as in entrypoints/stream.py


DEAD_LETTERS = DeadLetterSource("sequence", CONSUMED, SequenceSettings, data_keys_of(SequenceApplication))
"""For `leadflow dlq … --service sequence`."""


def redrive_dead_letters(
    topic: Annotated[
        str, typer.Option(help="the consumed topic whose .dlq to redrive (without the TOPIC_PREFIX)")
    ] = SEQUENCES_SIGNALS,
) -> None:
    """Send TOPIC.dlq's dead letters back to TOPIC as they first arrived (once the fix is deployed),
    each exactly once. The same as `leadflow dlq redrive --service sequence`."""
    if topic not in CONSUMED:
        raise typer.BadParameter(f"sequence consumes {', '.join(sorted(CONSUMED))}", param_hint="--topic")
    run_redrive(DEAD_LETTERS, topic)


cli.command("rebuild-read-models")(rebuild_read_models)
cli.command("redrive-dead-letters")(redrive_dead_letters)


if __name__ == "__main__":
    cli()
