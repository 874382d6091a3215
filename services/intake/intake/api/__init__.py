"""intake's HTTP API: leads, lead settings and health, one router each."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from leadflow_shared.contracts import MAX_INBOUND_BYTES
from leadflow_shared.http import BodySizeLimit, Check, health_router
from leadflow_shared.store import StoreWorker

from ..application import IntakeApplication
from .errors import install_error_handlers
from .leads import leads_router
from .settings import settings_router


def create_api(
    app: IntakeApplication,
    worker: StoreWorker,
    checks: dict[str, Check],
    extra_routers: list = (),  # type: ignore[assignment,type-arg]
    body_limits: Mapping[str, int] | None = None,  # path → its own body limit (uploads)
) -> FastAPI:
    api = FastAPI(
        title="leadflow intake",
        version="0.2.0",
        description="Takes leads in and owns each lead's lifecycle. Every change is an event.",
    )
    api.add_middleware(BodySizeLimit, max_bytes=MAX_INBOUND_BYTES, per_path=body_limits)
    install_error_handlers(api)
    api.include_router(health_router(checks))
    for router in extra_routers:
        api.include_router(router)
    api.include_router(leads_router(app, worker))
    api.include_router(settings_router(app, worker))
    return api
