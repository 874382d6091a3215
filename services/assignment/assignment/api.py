"""assignment's HTTP API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from leadflow_shared.http import Check, health_router
from leadflow_shared.store import StoreWorker

from .application import AssignmentApplication, AssignmentNotFound
from .projections import assignment_view, roster_view


class SellerIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seller_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


def create_api(app: AssignmentApplication, worker: StoreWorker, checks: dict[str, Check]) -> FastAPI:
    api = FastAPI(title="leadflow assignment", version="0.1.0")
    api.include_router(health_router(checks))

    @api.post("/v1/sellers", tags=["sellers"])
    async def add_sellers(sellers: list[SellerIn]) -> dict[str, int]:
        """Add sellers to the round-robin roster; existing ones are left as they are."""
        joined = await worker.call(app.add_sellers, [(s.seller_id, s.name) for s in sellers])
        return {"joined": joined}

    @api.get("/v1/sellers", tags=["sellers"])
    async def list_sellers() -> list[dict[str, Any]]:
        return roster_view(await worker.call(app.roster))

    @api.get("/v1/leads/{lead_id}/assignment", tags=["assignments"])
    async def get_assignment(lead_id: UUID) -> dict[str, Any]:
        try:
            return assignment_view(await worker.call(app.get_assignment, lead_id))
        except AssignmentNotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    return api
