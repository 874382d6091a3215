"""referral's HTTP API: health only, until its own issue."""

from __future__ import annotations

from fastapi import FastAPI

from leadflow_shared.http import Check, health_router


def create_api(checks: dict[str, Check]) -> FastAPI:
    api = FastAPI(title="leadflow referral", version="0.1.0")
    api.include_router(health_router(checks))
    return api
