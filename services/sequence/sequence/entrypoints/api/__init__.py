"""sequence's HTTP API: sequence definitions, enrolments and the seller's work on them, signals,
work lists, a sequence's connected leads and figures, the organisation's holidays, health."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from leadflow_shared.auth.http import Authenticator
from leadflow_shared.auth.setup import secure
from leadflow_shared.http import (
    BodySizeLimit,
    Check,
    health_router,
    refuse_invalid_values,
    refuse_unknown_query_parameters,
)
from leadflow_shared.store import StoreWorker

from ...application import SequenceApplication
from ...domain import (
    AlreadyEnrolled,
    CannotActivate,
    EnrolmentEnded,
    InvalidSignal,
    NotActive,
    NotADraft,
    NotCurrent,
    TooManyActive,
)
from ...projections import SequenceReadModel
from .definitions import sequences_router
from .enrolments import enrolments_router
from .settings import settings_router
from .work import work_router

MAX_BODY_BYTES = 64 * 1024


def create_api(
    app: SequenceApplication,
    worker: StoreWorker,
    checks: dict[str, Check],
    read_model: SequenceReadModel,
    authenticator: Authenticator,
) -> FastAPI:
    api = FastAPI(
        title="leadflow sequence",
        version="0.3.0",
        description="Dynamics 365-style sequences of follow-up steps: versioned definitions, enrolment from "
        "assignment's segments or by hand, business-day waits on each seller's calendar, due work lists, "
        "branching on e-mail signals, exits, automated e-mail over SMTP. Every change is an event.",
    )
    api.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    _errors(api)
    refuse_invalid_values(api)
    refuse_unknown_query_parameters(api)
    secure(api, authenticator, app, worker)
    api.include_router(health_router(checks))
    api.include_router(sequences_router(app, worker))
    api.include_router(enrolments_router(app, worker, read_model))
    api.include_router(work_router(app, worker, read_model))
    api.include_router(settings_router(app, worker))
    return api


def _errors(api: FastAPI) -> None:
    @api.exception_handler(LookupError)
    async def not_found(_: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @api.exception_handler(CannotActivate)
    async def cannot_activate(_: Request, exc: CannotActivate) -> JSONResponse:
        return JSONResponse(
            {"detail": "the draft cannot be activated", "problems": [p.as_dict() for p in exc.problems]},
            status_code=422,
        )

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    for error in (NotADraft, TooManyActive, NotActive, AlreadyEnrolled, NotCurrent, EnrolmentEnded):
        api.add_exception_handler(error, conflict)

    @api.exception_handler(InvalidSignal)
    async def invalid(_: Request, exc: InvalidSignal) -> JSONResponse:
        field, _colon, reason = str(exc).partition(": ")
        return JSONResponse(
            {"detail": [{"loc": ["body", field], "msg": reason or str(exc), "type": "invalid_input"}]},
            status_code=422,
        )
