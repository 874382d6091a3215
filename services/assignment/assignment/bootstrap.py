"""assignment's composition root: the one place where its parts are put together."""

from __future__ import annotations

import json

from leadflow_shared.clock import Clock
from leadflow_shared.runtime import BackgroundJob, RunningService, assemble

from . import stream
from .api import create_api
from .application import AssignmentApplication, AssignmentPolicy
from .jobs import PeriodicRerun
from .settings import AssignmentSettings


def bootstrap(settings: AssignmentSettings | None = None, clock: Clock | None = None) -> RunningService:
    settings = settings or AssignmentSettings()
    policy = AssignmentPolicy(
        segment_moves_allowed=settings.segment_moves_allowed,
        recycle_excludes_previous_owner=settings.recycle_excludes_previous_owner,
    )
    app = AssignmentApplication(env=settings.eventsourcing_env(), clock=clock, policy=policy)
    if settings.roster_file is not None:
        app.add_sellers(json.loads(settings.roster_file.read_text()))
    running: RunningService | None = None

    def worker():  # type: ignore[no-untyped-def]
        assert running is not None
        return running.parts.worker

    background: list[BackgroundJob] = []
    if settings.rerun_interval_seconds > 0:
        background.append(PeriodicRerun(app, worker, settings.rerun_interval_seconds))
    running = assemble(
        settings,
        app,
        create_api=lambda worker, checks: create_api(app, worker, checks),
        subscriptions=stream.subscriptions(app),
        publications=stream.publications(),
        background=background,
    )
    return running
