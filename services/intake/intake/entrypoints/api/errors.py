"""Domain errors → HTTP: 404 unknown, 409 not allowed now, 422 missing or invalid input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ...application import LeadNotFound
from ...domain import (
    AlreadyDone,
    DocumentAlreadyLinked,
    DocumentNotLinked,
    DuplicateCustomerPhone,
    IllegalTransition,
    LinkedDocuments,
    SettingConflict,
    SettingRequirement,
)


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(LeadNotFound)
    async def not_found(_: Request, exc: LeadNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @api.exception_handler(LookupError)
    async def lookup(_: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @api.exception_handler(IllegalTransition)
    async def illegal(_: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "status": exc.status, "action": exc.action, "allowed_actions": exc.allowed},
            status_code=409,
        )

    @api.exception_handler(AlreadyDone)
    async def already(_: Request, exc: AlreadyDone) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "status": exc.outcome, "by": exc.by}, status_code=409)

    @api.exception_handler(LinkedDocuments)
    async def linked_documents(_: Request, exc: LinkedDocuments) -> JSONResponse:
        return JSONResponse(
            {
                "detail": str(exc),
                "status": exc.status,
                "action": exc.action,
                "allowed_actions": exc.allowed,
                "documents": exc.documents,
            },
            status_code=409,
        )

    @api.exception_handler(DuplicateCustomerPhone)
    async def duplicate_phone(_: Request, exc: DuplicateCustomerPhone) -> JSONResponse:
        return JSONResponse(
            {
                "detail": str(exc),
                "existing_customer_id": str(exc.customer_id),
                "existing_customer_name": exc.customer_name,
            },
            status_code=409,
        )

    @api.exception_handler(DocumentAlreadyLinked)
    async def document_linked(_: Request, exc: DocumentAlreadyLinked) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "kind": exc.kind, "number": exc.number}, status_code=409)

    @api.exception_handler(DocumentNotLinked)
    async def document_not_linked(_: Request, exc: DocumentNotLinked) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "number": exc.number}, status_code=404)

    @api.exception_handler(SettingRequirement)
    async def requirement(_: Request, exc: SettingRequirement) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": ["body", exc.field], "msg": exc.reason, "type": "setting_requirement"}]},
            status_code=422,
        )

    @api.exception_handler(SettingConflict)
    async def conflict(_: Request, exc: SettingConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)
