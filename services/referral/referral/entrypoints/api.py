"""referral's HTTP API: health and API keys, until its own issue adds the rest."""

from __future__ import annotations

from fastapi import FastAPI

from leadflow_shared.auth.http import Authenticator
from leadflow_shared.auth.setup import secure
from leadflow_shared.http import BodySizeLimit, Check, health_router, refuse_invalid_values
from leadflow_shared.store import ServiceApplication, StoreWorker

MAX_BODY_BYTES = 64 * 1024


def create_api(
    app: ServiceApplication, worker: StoreWorker, checks: dict[str, Check], authenticator: Authenticator
) -> FastAPI:
    api = FastAPI(title="leadflow referral", version="0.1.0")
    api.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    refuse_invalid_values(api)
    secure(api, authenticator, app, worker)
    api.include_router(health_router(checks))
    return api
