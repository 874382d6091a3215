"""sequence's composition root."""

from __future__ import annotations

from leadflow_shared.runtime import RunningService, assemble

from . import stream
from .api import create_api
from .application import SequenceApplication
from .settings import SequenceSettings


def bootstrap(settings: SequenceSettings | None = None) -> RunningService:
    settings = settings or SequenceSettings()
    app = SequenceApplication(env=settings.eventsourcing_env())
    return assemble(
        settings,
        app,
        create_api=lambda worker, checks: create_api(checks),
        subscriptions=stream.subscriptions(app),
        publications=stream.publications(),
    )
