"""assignment's composition root: the one place where its parts are put together."""

from __future__ import annotations

import json

from leadflow_shared.clock import Clock
from leadflow_shared.runtime import RunningService, assemble

from . import stream
from .api import create_api
from .application import AssignmentApplication
from .settings import AssignmentSettings


def bootstrap(settings: AssignmentSettings | None = None, clock: Clock | None = None) -> RunningService:
    settings = settings or AssignmentSettings()
    app = AssignmentApplication(env=settings.eventsourcing_env(), clock=clock)
    if settings.roster_file is not None:
        entries = json.loads(settings.roster_file.read_text())
        app.add_sellers((e["seller_id"], e["name"]) for e in entries)
    return assemble(
        settings,
        app,
        create_api=lambda worker, checks: create_api(app, worker, checks),
        subscriptions=stream.subscriptions(app),
        publications=stream.publications(),
    )
