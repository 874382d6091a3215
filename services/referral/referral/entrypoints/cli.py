"""referral's command line: `python -m referral.entrypoints.cli --help`.

rebuild-read-models: drop the referral list and replay the events into it.
redrive-dead-letters: after a fix, send a consumed topic's dead letters back to it; sealed ones
(the inbound topic's: they hold personal data) are opened with referral's data keys.
Both open referral's stores from ReferralSettings (REFERRAL_* environment).
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
from leadflow_shared.topics import LEADS_EVENTS, REFERRALS_INBOUND

from ..application import ReferralApplication
from ..projections import ReferralListProjection
from ..settings import ReferralSettings

cli = typer.Typer(help="leadflow referral commands", no_args_is_help=True, add_completion=False)


def rebuild_read_models() -> None:
    """Drop and recreate the referral list, then replay the whole event store into it (one
    transaction: readers keep the old list until the new one is complete)."""
    settings = ReferralSettings()
    app = ReferralApplication(env=settings.eventsourcing_env())
    runner = ProjectionRunner(app, open_read_store(settings), ReferralListProjection())
    try:
        rebuild_with_progress(runner, "referral")
    finally:
        runner.store.close()
        app.close()


def redrive_dead_letters(
    topic: Annotated[
        str, typer.Option(help="the consumed topic whose .dlq to redrive (without the TOPIC_PREFIX)")
    ] = REFERRALS_INBOUND,
) -> None:
    """Send TOPIC.dlq's dead letters back to TOPIC as they first arrived (once the fix is deployed).
    Running it again repeats nothing."""
    consumed = (REFERRALS_INBOUND, LEADS_EVENTS)  # as in entrypoints/stream.py
    if topic not in consumed:
        raise typer.BadParameter(f"referral consumes {', '.join(sorted(consumed))}", param_hint="--topic")
    console = Console()
    settings = ReferralSettings()
    app = ReferralApplication(env=settings.eventsourcing_env())
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
