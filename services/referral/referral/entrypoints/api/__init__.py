"""referral's HTTP API: referrals (receive, read, answer, work), the referral list and its
figures, the decline-reason settings, and health."""

from __future__ import annotations

from fastapi import FastAPI

from leadflow_shared.auth.http import Authenticator
from leadflow_shared.auth.setup import secure
from leadflow_shared.contracts.referrals import MAX_REFERRAL_BYTES
from leadflow_shared.http import (
    BodySizeLimit,
    Check,
    health_router,
    refuse_invalid_values,
    refuse_unknown_query_parameters,
)
from leadflow_shared.store import StoreWorker

from ...application import ReferralApplication
from ...projections import ReferralReadModel
from .errors import install_error_handlers
from .referral_list import referral_list_router
from .referrals import referrals_router
from .settings import settings_router


def create_api(
    app: ReferralApplication,
    worker: StoreWorker,
    checks: dict[str, Check],
    read_model: ReferralReadModel,
    authenticator: Authenticator,
) -> FastAPI:
    api = FastAPI(
        title="leadflow referral",
        version="0.2.0",
        description="Partner referrals after Microsoft Partner Center: receive, accept or decline within "
        "the answer deadline, work accepted ones to won or lost. Every change is an event.",
    )
    api.add_middleware(BodySizeLimit, max_bytes=MAX_REFERRAL_BYTES)
    install_error_handlers(api)
    refuse_invalid_values(api)
    refuse_unknown_query_parameters(api)
    secure(api, authenticator, app, worker)
    api.include_router(health_router(checks))
    api.include_router(referral_list_router(app, worker, read_model))
    api.include_router(referrals_router(app, worker))
    api.include_router(settings_router(app, worker))
    return api
