"""referral's command line: `python -m referral.entrypoints.cli --help`.

rebuild-read-models: drop the referral list and replay the events into it.
redrive-dead-letters: after a fix, send a consumed topic's dead letters back to it; sealed ones
(the inbound topic's: they hold personal data) are opened with referral's data keys.
Both open referral's stores from ReferralSettings (REFERRAL_* environment).
"""

from __future__ import annotations

from typing import Annotated

import typer

from leadflow_shared.cli import run_redrive
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import open_read_store
from leadflow_shared.rebuild import rebuild_with_progress
from leadflow_shared.redrive import DeadLetterSource, data_keys_of
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


CONSUMED = (REFERRALS_INBOUND, LEADS_EVENTS)  # as in entrypoints/stream.py


DEAD_LETTERS = DeadLetterSource("referral", CONSUMED, ReferralSettings, data_keys_of(ReferralApplication))
"""For `leadflow dlq … --service referral`."""


def redrive_dead_letters(
    topic: Annotated[
        str, typer.Option(help="the consumed topic whose .dlq to redrive (without the TOPIC_PREFIX)")
    ] = REFERRALS_INBOUND,
) -> None:
    """Send TOPIC.dlq's dead letters back to TOPIC as they first arrived (once the fix is deployed),
    each exactly once. The same as `leadflow dlq redrive --service referral`."""
    if topic not in CONSUMED:
        raise typer.BadParameter(f"referral consumes {', '.join(sorted(CONSUMED))}", param_hint="--topic")
    run_redrive(DEAD_LETTERS, topic)


cli.command("rebuild-read-models")(rebuild_read_models)
cli.command("redrive-dead-letters")(redrive_dead_letters)


if __name__ == "__main__":
    cli()
