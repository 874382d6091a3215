"""intake's HTTP API: leads, the lead list, lead settings, the template import and health."""

from __future__ import annotations

from fastapi import FastAPI

from leadflow_shared.auth.http import Authenticator
from leadflow_shared.auth.setup import secure
from leadflow_shared.contracts import MAX_INBOUND_BYTES
from leadflow_shared.http import (
    BodySizeLimit,
    Check,
    health_router,
    refuse_invalid_values,
    refuse_unknown_query_parameters,
)
from leadflow_shared.store import StoreWorker

from ...application import IntakeApplication
from ...projections import LeadReadModel
from .customers import customers_router
from .errors import install_error_handlers
from .imports import BODY_LIMITS, import_router
from .lead_list import lead_list_router
from .leads import leads_router
from .settings import settings_router


def create_api(
    app: IntakeApplication,
    worker: StoreWorker,
    checks: dict[str, Check],
    read_model: LeadReadModel,
    authenticator: Authenticator,
    *,
    self_assignment: bool = False,
) -> FastAPI:
    api = FastAPI(
        title="leadflow intake",
        version="0.3.0",
        description="Takes leads in and owns each lead's lifecycle. Every change is an event.",
    )
    api.add_middleware(BodySizeLimit, max_bytes=MAX_INBOUND_BYTES, per_path=BODY_LIMITS)
    install_error_handlers(api)
    refuse_invalid_values(api)
    refuse_unknown_query_parameters(api)
    secure(api, authenticator, app, worker)
    api.include_router(health_router(checks))
    api.include_router(import_router(app, worker))
    api.include_router(lead_list_router(app, worker, read_model))
    api.include_router(leads_router(app, worker, read_model, self_assignment=self_assignment))
    api.include_router(settings_router(app, worker))
    api.include_router(customers_router(app, worker, read_model))
    return api
