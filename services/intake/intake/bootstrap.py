"""intake's composition root: the one place where its parts are put together."""

from __future__ import annotations

from leadflow_shared.clock import Clock
from leadflow_shared.runtime import RunningService, assemble

from . import stream
from .api import create_api
from .application import IntakeApplication
from .settings import IntakeSettings


def bootstrap(settings: IntakeSettings | None = None, clock: Clock | None = None) -> RunningService:
    settings = settings or IntakeSettings()
    app = IntakeApplication(env=settings.eventsourcing_env(), clock=clock)
    return assemble(
        settings,
        app,
        create_api=lambda worker, checks: create_api(app, worker, checks),
        subscriptions=stream.subscriptions(app),
        publications=stream.publications(),
    )
