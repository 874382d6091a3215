"""sequence's composition root: the one place where its parts are put together."""

from __future__ import annotations

from leadflow_shared.auth.setup import authenticator_for
from leadflow_shared.clock import Clock
from leadflow_shared.lease import PostgresAdvisoryLease
from leadflow_shared.readstore import open_read_store
from leadflow_shared.runtime import Service

from .application import SequenceApplication
from .directory import LeadDirectory
from .domain import Enrolment, SequenceDefinition
from .entrypoints import stream
from .entrypoints.api import create_api
from .entrypoints.mailer import Mailer
from .mail import check_template
from .projections import EnrolmentList, EnrolmentsProjection, SequenceReadModel
from .settings import SequenceSettings


def bootstrap(
    settings: SequenceSettings | None = None, clock: Clock | None = None, directory: LeadDirectory | None = None
) -> Service:
    settings = settings or SequenceSettings()
    store = open_read_store(settings)
    enrolments = EnrolmentList(store)
    app = SequenceApplication(
        env=settings.eventsourcing_env(),
        clock=clock,
        template_problem=check_template,
        enrolled_in=enrolments.active_in,
    )
    service = Service(settings, app)
    read_model = SequenceReadModel.of(service.project(EnrolmentsProjection(), store))
    service.run_deadlines([Enrolment, SequenceDefinition], app.on_deadline, open_read_store(settings), clock=clock)
    lease = None
    if settings.uses_postgres:
        lease = PostgresAdvisoryLease(
            settings.postgres_conninfo(), f"leadflow:{settings.postgres_dbname or settings.service_name}:mailer"
        )
    mailer = Mailer(
        app,
        service.worker,
        read_model.enrolments,
        directory or settings.directory(),
        settings.smtp(),
        clock=clock,
        health=service.health,
        lease=lease,
    )
    service.run_job(mailer)
    service.consume(*stream.subscriptions(app))
    service.publish(*stream.publications(app))
    service.extra_topics.update({topic: settings.lead_topic_partitions for topic in stream.PUBLISHED_TOPICS})
    authenticator = authenticator_for(settings, app, service.worker)
    service.api = create_api(app, service.worker, service.readiness_checks(), read_model, authenticator)
    return service
