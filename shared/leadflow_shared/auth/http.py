"""The policy at the HTTP door: who calls (401), may they (403), and the API-key routes.

`install(api, authenticator)` once per service; then every route names its permission with
`Depends(require("leads:work"))` (or takes the `Principal` it returns). Health, readiness,
metrics and the docs are the only routes without one; a test walks each service's OpenAPI
to keep it so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from .apikeys import API_KEYS_ID, ApiKeyChecker, ApiKeyNotFound, ApiKeys, InvalidApiKey, InvalidScopes, view
from .policy import POLICY, Permission, allowed
from .principal import Principal
from .ratelimit import RateLimiter, TooManyRequests
from .tokens import InvalidToken, TokenVerifier

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json", "/asyncapi"})
REALM = "leadflow"


class NotAuthenticated(Exception):
    def __init__(self, reason: str, *, error: str | None = None) -> None:
        super().__init__(reason)
        self.error = error


class NotAllowed(Exception):
    pass


class Authenticator:
    """Turns a request's credential into a Principal: `Authorization: Bearer <JWT>` for users,
    `X-API-Key: lfk_…` for upstream systems. `run` reads the API keys from the store when the
    checker's copy is stale (pass the service's store worker's `call`)."""

    def __init__(
        self,
        tokens: TokenVerifier,
        api_keys: ApiKeyChecker | None = None,
        run: Callable[..., Awaitable[Any]] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.tokens = tokens
        self.api_keys = api_keys
        self.limiter = limiter
        self._run = run or asyncio.to_thread

    async def authenticate(self, request: Request) -> Principal:
        key = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization")
        if key is not None and self.api_keys is not None:
            if self.api_keys.stale:
                await self._run(self.api_keys.refresh)
            try:
                return self.api_keys.check(key)
            except InvalidApiKey as exc:
                raise NotAuthenticated(str(exc), error="invalid_token") from None
        if authorization is None:
            raise NotAuthenticated("credentials are required: a bearer token, or an API key in X-API-Key")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("the Authorization header takes a bearer token", error="invalid_request")
        try:
            return await asyncio.to_thread(self.tokens.verify, token.strip())
        except InvalidToken as exc:
            raise NotAuthenticated(str(exc), error="invalid_token") from None


@cache
def require(permission_name: str) -> Callable[[Request], Awaitable[Principal]]:
    """The dependency a route declares: the caller, if they hold `permission_name`."""
    permission = POLICY[permission_name]

    async def caller(request: Request) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        principal = await authenticator.authenticate(request)
        if authenticator.limiter is not None:
            await authenticator.limiter.take(f"{principal.kind}:{principal.subject}")
        if not allowed(principal, permission):
            raise NotAllowed(f"{permission.name} is not granted to {_roles(principal)}")
        return principal

    caller.permission = permission  # type: ignore[attr-defined]  # read by the route-coverage test
    caller.__name__ = f"require_{permission_name.replace(':', '_').replace('-', '_')}"
    return caller


def route_permission(route: Any) -> Permission | None:
    """The permission a route declares (None: none; only public routes may)."""
    pending = list(getattr(getattr(route, "dependant", None), "dependencies", ()))
    while pending:  # dependencies of dependencies too
        dependency = pending.pop(0)
        permission = getattr(dependency.call, "permission", None)
        if permission is not None:
            return permission  # type: ignore[no-any-return]
        pending.extend(dependency.dependencies)
    return None


def _roles(principal: Principal) -> str:
    return ", ".join(sorted(principal.roles)) or "a caller without roles"


def install(api: FastAPI, authenticator: Authenticator) -> None:
    api.state.authenticator = authenticator

    @api.exception_handler(NotAuthenticated)
    async def unauthenticated(_: Request, exc: NotAuthenticated) -> JSONResponse:
        challenge = f'Bearer realm="{REALM}"'
        if exc.error:
            challenge += f', error="{exc.error}", error_description="{str(exc)[:200]}"'.replace("\n", " ")
        return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": challenge})

    @api.exception_handler(TooManyRequests)
    async def too_many(_: Request, exc: TooManyRequests) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})

    @api.exception_handler(NotAllowed)
    async def forbidden(_: Request, exc: NotAllowed) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @api.exception_handler(InvalidScopes)
    async def invalid_scopes(_: Request, exc: InvalidScopes) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @api.exception_handler(ApiKeyNotFound)
    async def no_key(_: Request, exc: ApiKeyNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)


KeyAdmin = Annotated[Principal, Depends(require("api-keys:manage"))]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    scopes: list[str] = Field(min_length=1, max_length=10, examples=[["leads:write"]])


def api_key_router(
    execute: Callable[..., Awaitable[Any]], load: Callable[[], Awaitable[ApiKeys | None]], checker: ApiKeyChecker
) -> APIRouter:
    """`/v1/api-keys` (admin): create (the key is shown once), list, revoke.

    `execute(use_case, *args)` runs a use case `(uow, *args)` as one unit of work of the
    service; `load()` reads the service's ApiKeys aggregate (None before the first key)."""
    router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])

    @router.post("", status_code=201)
    async def create_key(body: ApiKeyIn, admin: KeyAdmin) -> dict[str, Any]:
        """Create an API key for an upstream system. The key is in this answer only: store it now."""
        created, shown = await execute(create_api_key, body.name, body.scopes, admin.actor)
        checker.invalidate()
        return {**created, "key": shown}

    @router.get("", dependencies=[Depends(require("api-keys:manage"))])
    async def list_keys() -> list[dict[str, Any]]:
        book = await load()
        return [view(key_id, key) for key_id, key in (book.keys.items() if book else ())]

    @router.delete("/{key_id}", status_code=204)
    async def revoke_key(key_id: str, admin: KeyAdmin) -> None:
        await execute(revoke_api_key, key_id, admin.actor)
        checker.invalidate()

    return router


def create_api_key(uow: Any, name: str, scopes: list[str], by: str) -> tuple[dict[str, Any], str]:
    """(the key as listed, the key as shown once)."""
    book: ApiKeys | None = uow.get(API_KEYS_ID)
    if book is None:
        book = ApiKeys()
    key_id, shown = book.create(name, scopes, by, datetime.now(UTC))
    uow.add(book)
    return view(key_id, book.keys[key_id]), shown


def revoke_api_key(uow: Any, key_id: str, by: str) -> None:
    book: ApiKeys | None = uow.get(API_KEYS_ID)
    if book is None:
        raise ApiKeyNotFound(f"no API key {key_id}")
    book.revoke(key_id, by, datetime.now(UTC))
    uow.add(book)
