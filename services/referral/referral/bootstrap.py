"""referral's composition root: the one place where its parts are put together."""

from __future__ import annotations

from datetime import timedelta

from leadflow_shared.auth.setup import authenticator_for
from leadflow_shared.clock import Clock
from leadflow_shared.readstore import open_read_store
from leadflow_shared.runtime import Service

from .application import ReferralApplication
from .domain import Referral
from .entrypoints import stream
from .entrypoints.api import create_api
from .projections import ReferralListProjection, ReferralReadModel
from .settings import ReferralSettings


def bootstrap(settings: ReferralSettings | None = None, clock: Clock | None = None) -> Service:
    settings = settings or ReferralSettings()
    app = ReferralApplication(
        env=settings.eventsourcing_env(), clock=clock, answer_within=timedelta(days=settings.answer_within_days)
    )
    service = Service(settings, app)
    read_model = ReferralReadModel.of(service.project(ReferralListProjection(), open_read_store(settings)))
    service.run_deadlines([Referral], app.on_deadline, open_read_store(settings), clock=clock)
    service.consume(*stream.subscriptions(app))
    service.publish(*stream.publications(app))
    service.extra_topics.update({topic: settings.lead_topic_partitions for topic in stream.PUBLISHED_TOPICS})
    authenticator = authenticator_for(settings, app, service.worker)
    service.api = create_api(app, service.worker, service.readiness_checks(), read_model, authenticator)
    return service
