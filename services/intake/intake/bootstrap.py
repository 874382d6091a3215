"""intake's composition root: the one place where its parts are put together."""

from __future__ import annotations

from leadflow_shared.clock import Clock
from leadflow_shared.runtime import RunningService, assemble

from . import stream
from .api import create_api
from .application import IntakeApplication
from .importer.api import BODY_LIMITS, import_router
from .readmodel import LeadReadModel, lead_list_router, open_read_store
from .settings import IntakeSettings


def bootstrap(settings: IntakeSettings | None = None, clock: Clock | None = None) -> RunningService:
    settings = settings or IntakeSettings()
    app = IntakeApplication(env=settings.eventsourcing_env(), clock=clock)
    read_model = LeadReadModel.open(app, open_read_store(settings))
    app.leads_in_stage = read_model.leads_in_stage
    app.on_recorded.append(read_model.projector.on_recorded)  # reads see a command's effect when it returns
    return assemble(
        settings,
        app,
        create_api=lambda worker, checks: create_api(
            app,
            worker,
            checks,
            extra_routers=[import_router(app, worker), lead_list_router(read_model.leads)],
            body_limits=BODY_LIMITS,
        ),
        subscriptions=stream.subscriptions(app),
        publications=stream.publications(app),
        background=[read_model.projector],
    )
