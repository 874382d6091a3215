"""sequence's composition root: the one place where its parts are put together."""

from __future__ import annotations

from leadflow_shared.auth.setup import authenticator_for
from leadflow_shared.clock import Clock
from leadflow_shared.runtime import Service

from .application import SequenceApplication
from .entrypoints import stream
from .entrypoints.api import create_api
from .settings import SequenceSettings


def bootstrap(settings: SequenceSettings | None = None, clock: Clock | None = None) -> Service:
    settings = settings or SequenceSettings()
    app = SequenceApplication(env=settings.eventsourcing_env(), clock=clock)
    service = Service(settings, app)
    service.consume(*stream.subscriptions(app))
    service.publish(*stream.publications())
    service.extra_topics.update({topic: settings.lead_topic_partitions for topic in stream.PUBLISHED_TOPICS})
    authenticator = authenticator_for(settings, app, service.worker)
    service.api = create_api(app, service.worker, service.readiness_checks(), authenticator)
    return service
