"""referral's composition root."""

from __future__ import annotations

from leadflow_shared.runtime import RunningService, assemble

from . import stream
from .api import create_api
from .application import ReferralApplication
from .settings import ReferralSettings


def bootstrap(settings: ReferralSettings | None = None) -> RunningService:
    settings = settings or ReferralSettings()
    app = ReferralApplication(env=settings.eventsourcing_env())
    return assemble(
        settings,
        app,
        create_api=lambda worker, checks: create_api(checks),
        subscriptions=stream.subscriptions(app),
        publications=stream.publications(),
    )
