"""sequence's command line: `python -m sequence.entrypoints.cli --help`.

rebuild-read-models: drop the enrolment list and the e-mail outbox and replay the events into them.
redrive-dead-letters: after a fix, send a consumed topic's dead letters back to it.
Both open sequence's stores from SequenceSettings (SEQUENCE_* environment).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from leadflow_shared.kafka import kafka_security
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import open_read_store
from leadflow_shared.rebuild import rebuild_with_progress
from leadflow_shared.redrive import redrive
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


def redrive_dead_letters(
    topic: Annotated[
        str, typer.Option(help="the consumed topic whose .dlq to redrive (without the TOPIC_PREFIX)")
    ] = SEQUENCES_SIGNALS,
) -> None:
    """Send TOPIC.dlq's dead letters back to TOPIC as they first arrived (once the fix is deployed).
    Running it again repeats nothing."""
    consumed = (ASSIGNMENTS_EVENTS, LEADS_EVENTS, SELLERS_EVENTS, SEQUENCES_SIGNALS)  # as in entrypoints/stream.py
    if topic not in consumed:
        raise typer.BadParameter(f"sequence consumes {', '.join(sorted(consumed))}", param_hint="--topic")
    console = Console()
    settings = SequenceSettings()
    app = SequenceApplication(env=settings.eventsourcing_env())
    try:
        report = asyncio.run(
            redrive(settings.topic(topic), settings.bootstrap, app.data_keys, security=kafka_security(settings))
        )
    finally:
        app.close()
    console.print(
        f"redrove {report.redriven} message(s) from {settings.topic(topic)}.dlq; skipped {report.erased} "
        f"unreadable and {report.truncated} stored truncated"
    )


cli.command("rebuild-read-models")(rebuild_read_models)
cli.command("redrive-dead-letters")(redrive_dead_letters)


if __name__ == "__main__":
    cli()
