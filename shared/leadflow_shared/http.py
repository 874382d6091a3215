"""HTTP pieces every service's API shares: health, readiness, body-size limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

Check = Callable[[], Awaitable[None]]


def health_router(checks: dict[str, Check]) -> APIRouter:
    """`/healthz` (the process answers) and `/readyz` (every dependency answers)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=3.0)
                results[name] = "ok"
            except Exception as exc:  # report, don't raise: readiness is a verdict
                results[name] = f"unavailable: {type(exc).__name__}: {exc}"[:300]
        ready = all(v == "ok" for v in results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    return router


class BodySizeLimit(BaseHTTPMiddleware):
    """Refuse bodies over the limit with 413 before parsing them.

    `max_bytes` holds for every path except those in `per_path` (exact paths, e.g. an upload
    route that takes files of several MiB), which are held to their own limit instead.
    """

    def __init__(self, app: object, max_bytes: int, per_path: Mapping[str, int] | None = None) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        limit = self.per_path.get(request.url.path, self.max_bytes)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _too_large(limit)
        if request.method in ("POST", "PUT", "PATCH") and declared is None:
            body = await request.body()
            if len(body) > limit:
                return _too_large(limit)
        return await call_next(request)


def refuse_invalid_values(api: FastAPI) -> None:
    """A value a use case derives from valid input and finds invalid (pydantic) is the caller's
    input problem: 422 naming the fields, never a 500 — and never echoing the values."""

    @api.exception_handler(ValidationError)
    async def invalid(_: Request, exc: ValidationError) -> JSONResponse:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        detail = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]
        return JSONResponse({"detail": detail}, status_code=422)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": ["body"], "msg": f"request body exceeds {limit} bytes", "type": "too_large"}]},
        status_code=413,
    )
