"""HTTP pieces every service's API shares: health, readiness, body-size limit."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Check = Callable[[], Awaitable[None]]


def health_router(checks: dict[str, Check]) -> APIRouter:
    """`/healthz` (the process answers) and `/readyz` (every dependency answers)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        ready, results = await readiness(checks)
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    return router


async def readiness(checks: Mapping[str, Check]) -> tuple[bool, dict[str, str]]:
    """Run every check (3 s each at most): whether all pass, and each one's verdict."""
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), timeout=3.0)
            results[name] = "ok"
        except Exception as exc:  # report, don't raise: readiness is a verdict
            results[name] = f"unavailable: {type(exc).__name__}: {exc}"[:300]
    return all(v == "ok" for v in results.values()), results


MAX_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 40
"""JSON a request may carry: nested at most this deep, no number longer than this (a 4,300-digit
integer costs its parser quadratic time; 30,000 levels exhaust its recursion)."""
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]|[-+0-9.eE]+')


class BodySizeLimit:
    """Refuse bodies over the limit with 413 while they stream in, before they are buffered
    (a declared Content-Length over the limit at once; a chunked body as soon as it passes the
    limit). JSON bodies are also checked for depth and number size (422) before any parser
    sees them.

    `max_bytes` holds for every path except those in `per_path`: an exact path, or a prefix
    ending in "/" (the longest wins), held to its own limit instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})
        self._prefixes = sorted((p for p in self.per_path if p.endswith("/")), key=len, reverse=True)

    def limit_for(self, path: str) -> int:
        if path in self.per_path:
            return self.per_path[path]
        for prefix in self._prefixes:
            if path.startswith(prefix):
                return self.per_path[prefix]
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        if headers.get(b"content-type", b"").split(b";")[0].strip().endswith(b"json"):
            await self._json(scope, receive, send, limit)
            return
        await self._streamed(scope, receive, send, limit)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Read the (small) body whole, check its shape, then hand it on."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # the client went away
                return
            size += len(message.get("body", b""))
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = json_shape_problem(body)
        if problem is not None:
            response = JSONResponse(
                {"detail": [{"loc": ["body"], "msg": problem, "type": "json_too_complex"}]}, status_code=422
            )
            await response(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Count the body as the app reads it; past the limit, the app's answer becomes a 413."""
        size, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal size, over
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    over = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:
                if not started and message["type"] == "http.response.start":
                    started = True
                    await _too_large(limit)(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except BodyTooLarge:
            if not started:
                await _too_large(limit)(scope, receive, send)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")


def json_shape_problem(body: bytes) -> str | None:
    """Why this JSON is refused before parsing (too deep, a number too long), or None."""
    depth = 0
    for match in _JSON_TOKENS.finditer(body):
        token = match.group()
        first = token[:1]
        if first in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        elif first in (b"]", b"}"):
            depth -= 1
        elif first != b'"' and len(token) > MAX_NUMBER_CHARS:
            return f"a JSON number longer than {MAX_NUMBER_CHARS} characters"
    return None


def refuse_invalid_values(api: FastAPI) -> None:
    """A value a use case derives from valid input and finds invalid (pydantic) is the caller's
    input problem: 422 naming the fields, never a 500 — and never echoing the values."""

    @api.exception_handler(ValidationError)
    async def invalid(_: Request, exc: ValidationError) -> JSONResponse:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        detail = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]
        return JSONResponse({"detail": detail}, status_code=422)

    @api.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's answer, with each echoed input cut to a short excerpt: a 100 MB body never
        comes back as a 100 MB 422."""
        detail = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", ""))[:EXCERPT_CHARS],
                "type": e.get("type", "invalid"),
                **({"input": excerpt(e["input"])} if "input" in e else {}),
            }
            for e in exc.errors()[:MAX_ERRORS]
        ]
        return JSONResponse({"detail": detail}, status_code=422)


EXCERPT_CHARS = 120
MAX_ERRORS = 50


def excerpt(value: Any) -> Any:
    """A short, JSON-safe stand-in for an input value in an error answer."""
    if value is None or isinstance(value, bool | int | float):
        return value if not isinstance(value, int) or abs(value) < 10**18 else "(a long number)"
    if isinstance(value, str | bytes):
        text = value if isinstance(value, str) else value.decode("utf-8", "replace")
        return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + f"… ({len(text)} characters)"
    if isinstance(value, dict):
        return f"(an object of {len(value)} fields)"
    if isinstance(value, list | tuple):
        return f"(a list of {len(value)} items)"
    return f"({type(value).__name__})"


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": ["body"], "msg": f"request body exceeds {limit} bytes", "type": "too_large"}]},
        status_code=413,
    )


def refuse_unknown_query_parameters(api: FastAPI) -> None:
    """Every route of `api` added after this call refuses query parameters it does not declare
    (422 naming them): a misspelt filter must not silently return everything. Call it before
    adding routes (FastAPI copies router-wide dependencies into each route as it is added)."""
    api.router.dependencies.append(Depends(_declared_query_parameters_only))


def _declared_query_parameters_only(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    declared = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        takes = ", ".join(sorted(declared)) or "no query parameters"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": f"unknown query parameter; this endpoint takes {takes}",
                    "input": request.query_params.get(name),
                }
                for name in unknown
            ]
        )


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route declares, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
