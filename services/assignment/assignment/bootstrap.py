"""assignment's composition root: the one place where its parts are put together."""

from __future__ import annotations

import json

from leadflow_shared.auth.setup import authenticator_for
from leadflow_shared.clock import Clock
from leadflow_shared.lease import PostgresAdvisoryMutex
from leadflow_shared.readstore import open_read_store
from leadflow_shared.runtime import Service

from .application import AssignmentApplication, AssignmentPolicy, PeriodicRerun, StageChangeRuns
from .domain.revenue import LeadStage
from .entrypoints import stream
from .entrypoints.api import create_api
from .projections import AssignmentReadModel, AssignmentsProjection, RevenueProjection, RevenueReadModel
from .settings import AssignmentSettings


def bootstrap(settings: AssignmentSettings | None = None, clock: Clock | None = None) -> Service:
    settings = settings or AssignmentSettings()
    policy = AssignmentPolicy(
        segment_moves_allowed=settings.segment_moves_allowed,
        recycle_excludes_previous_owner=settings.recycle_excludes_previous_owner,
        auto_assign=settings.auto_assign,
    )
    app = AssignmentApplication(
        env=settings.eventsourcing_env(), clock=clock, policy=policy, shared_store=settings.uses_postgres
    )
    if settings.roster_file is not None:
        app.execute(app.add_sellers, json.loads(settings.roster_file.read_text()))
    if settings.uses_postgres:
        # Replicas on one store decide in turns: every decision changes the shared sellers.
        database = settings.postgres_dbname or settings.service_name
        app.decisions = PostgresAdvisoryMutex(settings.postgres_conninfo(), f"leadflow:{database}:assignment:decisions")
    service = Service(settings, app)
    read_store = open_read_store(settings)
    read_model = AssignmentReadModel(service.project(AssignmentsProjection(), read_store))
    app.reads = read_model
    revenue_reads = RevenueReadModel(service.project(RevenueProjection(), read_store, follow_commits=False))
    app.revenue.leads, app.revenue.counts = read_model, revenue_reads
    service.run_deadlines([LeadStage], app.revenue.deadline_fired, read_store, clock)
    runs = StageChangeRuns(app.revenue, revenue_reads, service.worker, service.health)
    service.run_job(runs)
    service.consume(*stream.subscriptions(app))
    service.publish(*stream.publications(app))
    if settings.rerun_interval_seconds > 0:
        service.run_job(PeriodicRerun(app, service.worker, service.health, settings.rerun_interval_seconds))
    authenticator = authenticator_for(settings, app, service.worker)
    service.api = create_api(
        app,
        service.worker,
        service.readiness_checks(),
        read_model,
        authenticator,
        revenue_reads=revenue_reads,
        wake_runs=runs.wake,
        self_assignment=settings.self_assignment,
    )
    return service
