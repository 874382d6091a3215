"""intake's HTTP API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import FastAPI, HTTPException, Response, status

from leadflow_shared.contracts import MAX_INBOUND_BYTES, InboundLeadV1
from leadflow_shared.http import BodySizeLimit, Check, health_router
from leadflow_shared.store import StoreWorker

from .application import IntakeApplication, LeadNotFound
from .projections import lead_view


def create_api(app: IntakeApplication, worker: StoreWorker, checks: dict[str, Check]) -> FastAPI:
    api = FastAPI(title="leadflow intake", version="0.1.0")
    api.add_middleware(BodySizeLimit, max_bytes=MAX_INBOUND_BYTES)
    api.include_router(health_router(checks))

    @api.post("/v1/leads", status_code=status.HTTP_201_CREATED, tags=["leads"])
    async def post_lead(inbound: InboundLeadV1, response: Response) -> dict[str, Any]:
        """Take in one lead (InboundLeadV1). A re-sent lead returns the existing one with 200."""
        receipt = await worker.call(app.receive_lead, inbound, via="http")
        if not receipt.created:
            response.status_code = status.HTTP_200_OK
        lead = await worker.call(app.get_lead, receipt.lead_id)
        return {"created": receipt.created, "lead": lead_view(lead)}

    @api.get("/v1/leads/{lead_id}", tags=["leads"])
    async def get_lead(lead_id: UUID) -> dict[str, Any]:
        try:
            lead = await worker.call(app.get_lead, lead_id)
        except LeadNotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        return lead_view(lead)

    return api
