"""Domain errors → HTTP: 404 unknown (or another organisation's), 409 not allowed in this status,
412 changed since read, 422 missing or invalid input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ...application import ReferralNotFound, StaleVersion
from ...domain import ActionNotAllowed, InvalidInput
from ...projections import InvalidQuery, etag


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(ReferralNotFound)
    async def not_found(_: Request, exc: ReferralNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @api.exception_handler(LookupError)
    async def lookup(_: Request, exc: LookupError) -> JSONResponse:
        """Nothing at that time (`as_of` before the referral's first event), or gone."""
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @api.exception_handler(ActionNotAllowed)
    async def not_allowed(_: Request, exc: ActionNotAllowed) -> JSONResponse:
        return JSONResponse(
            {
                "detail": str(exc),
                "status": exc.status,
                "substatus": exc.substatus,
                "action": exc.action,
                "allowed_actions": list(exc.allowed),
            },
            status_code=409,
        )

    @api.exception_handler(StaleVersion)
    async def stale(_: Request, exc: StaleVersion) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=412, headers={"ETag": etag(exc.current)})

    @api.exception_handler(InvalidInput)
    async def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": ["body", *exc.field.split(".")], "msg": exc.reason, "type": "invalid_input"}]},
            status_code=422,
        )

    @api.exception_handler(InvalidQuery)
    async def invalid_query(_: Request, exc: InvalidQuery) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": ["query", exc.field], "msg": exc.reason, "type": "invalid_query"}]}, status_code=422
        )
