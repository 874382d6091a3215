"""intake's composition root: the one place where its parts are put together."""

from __future__ import annotations

from datetime import timedelta

from leadflow_shared.auth.setup import authenticator_for
from leadflow_shared.clock import Clock
from leadflow_shared.readstore import open_read_store
from leadflow_shared.runtime import Service

from .application import IntakeApplication
from .domain import Lead
from .entrypoints import stream
from .entrypoints.api import create_api
from .projections import LeadListProjection, LeadReadModel
from .settings import IntakeSettings


def bootstrap(settings: IntakeSettings | None = None, clock: Clock | None = None) -> Service:
    settings = settings or IntakeSettings()
    app = IntakeApplication(env=settings.eventsourcing_env(), clock=clock)
    service = Service(settings, app)
    lead_list = LeadReadModel.of(service.project(LeadListProjection(), open_read_store(settings)))
    app.leads_in_stage = lead_list.leads_in_stage
    if settings.contact_sla_seconds > 0:
        app.contact_sla = timedelta(seconds=settings.contact_sla_seconds)
    service.run_deadlines([Lead], app.on_deadline, open_read_store(settings), clock=clock)
    service.consume(*stream.subscriptions(app))
    service.publish(*stream.publications(app))
    authenticator = authenticator_for(settings, app, service.worker)
    service.api = create_api(
        app,
        service.worker,
        service.readiness_checks(),
        lead_list,
        authenticator,
        self_assignment=settings.self_assignment,
    )
    return service
