"""Building a service's authenticator from its settings, and securing its API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventsourcing.application import AggregateNotFoundError
from fastapi import FastAPI

from . import devissuer
from .apikeys import API_KEYS_ID, ApiKeyChecker, ApiKeys
from .http import Authenticator, api_key_router, install
from .ratelimit import MemoryRateLimiter, PostgresRateLimiter, RateLimiter
from .tokens import FileJwks, KeySource, RemoteJwks, TokenVerifier

if TYPE_CHECKING:
    from ..settings import ServiceSettings
    from ..store import ServiceApplication, StoreWorker


def token_verifier(settings: ServiceSettings) -> TokenVerifier:
    """Production: the provider named by the settings. Local mode: the development issuer
    (its keys are created under the run folder on first use)."""
    url = settings.auth_jwks_url
    keys: KeySource
    if url is None:
        keys = FileJwks(devissuer.ensure_keys(settings.run_dir))
    elif url.startswith("file:"):
        keys = FileJwks(Path(url.removeprefix("file:")))
    else:
        keys = RemoteJwks(url)
    return TokenVerifier(
        keys,
        issuer=settings.auth_issuer or devissuer.DEV_ISSUER,
        audience=settings.auth_audience,
        roles_claim=settings.auth_roles_claim,
    )


def load_api_keys(app: ServiceApplication) -> ApiKeys | None:
    try:
        return app.latest(API_KEYS_ID)  # type: ignore[no-any-return]
    except AggregateNotFoundError:
        return None


def authenticator_for(
    settings: ServiceSettings, app: ServiceApplication, worker: StoreWorker, verifier: TokenVerifier | None = None
) -> Authenticator:
    checker = ApiKeyChecker(lambda: load_api_keys(app))
    return Authenticator(verifier or token_verifier(settings), checker, run=worker.call, limiter=rate_limiter(settings))


def rate_limiter(settings: ServiceSettings) -> RateLimiter | None:
    """Per caller, shared by the replicas of a PostgreSQL store; none when the rate is 0."""
    if settings.rate_limit_per_second <= 0:
        return None
    if settings.uses_postgres:
        return PostgresRateLimiter(
            settings.postgres_conninfo(), settings.rate_limit_per_second, settings.rate_limit_burst
        )
    return MemoryRateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)


def secure(api: FastAPI, authenticator: Authenticator, app: ServiceApplication, worker: StoreWorker) -> None:
    """Every route of `api` then answers 401/403 by the policy; `/v1/api-keys` is added."""
    install(api, authenticator)
    assert authenticator.api_keys is not None

    async def execute(use_case: Any, *args: Any) -> Any:
        return await worker.call(app.execute, use_case, *args)

    async def load() -> ApiKeys | None:
        return await worker.call(load_api_keys, app)

    api.include_router(api_key_router(execute, load, authenticator.api_keys))
