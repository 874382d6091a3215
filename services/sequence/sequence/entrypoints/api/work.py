"""Work lists and a sequence's figures: a seller's due steps by bucket in the seller's time zone,
and a sequence's connected leads with their progress and its success rates."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query

from leadflow_shared.auth import Principal, Role
from leadflow_shared.auth.http import require
from leadflow_shared.store import StoreWorker

from ...application import SequenceApplication
from ...projections import SequenceReadModel

Worker = Annotated[Principal, Depends(require("sequences:work"))]
Reporter = Annotated[Principal, Depends(require("sequences:report"))]


def work_router(app: SequenceApplication, worker: StoreWorker, read_model: SequenceReadModel) -> APIRouter:
    router = APIRouter(tags=["work"])
    enrolments, runner = read_model.enrolments, read_model.runner

    async def consistent() -> None:
        """Read your writes: wait (briefly) until the list has applied what was stored before."""
        newest = await worker.call(app.recorder.max_notification_id) or 0
        if runner.known_position < newest:
            await asyncio.to_thread(runner.catch_up)

    @router.get("/v1/work")
    async def work_list(
        caller: Worker,
        bucket: Literal["due_today", "overdue", "upcoming"] = "due_today",
        seller_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """The seller's steps to do: `due_today`, `overdue` (before today, at most 30 days) or
        `upcoming` (after today; a step after a running wait shows here when the wait ends), by
        the seller's own local day. A seller sees their own list (seller_id defaults to them);
        admins and sales managers name the seller."""
        if caller.has(Role.ADMIN) or caller.has(Role.SALES_MANAGER):
            if seller_id is None:
                raise HTTPException(
                    422, detail=[{"loc": ["query", "seller_id"], "msg": "name the seller", "type": "missing"}]
                )
        elif seller_id is not None and seller_id != caller.subject:
            raise HTTPException(404, detail=f"seller {seller_id!r} not found")
        seller = seller_id or caller.subject
        calendar = await worker.call(app.calendar_of, seller)
        await consistent()
        items = await asyncio.to_thread(enrolments.work, seller, bucket, calendar.time_zone, app.clock.now(), limit)
        return {"seller_id": seller, "bucket": bucket, "time_zone": calendar.time_zone, "items": items}

    @router.get("/v1/sequences/{sequence_id}/enrolments")
    async def connected(
        sequence_id: UUID, caller: Reporter, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> dict[str, Any]:
        """The sequence's connected leads: version, owner, current step, steps done, days elapsed."""
        await worker.call(app.get_sequence, sequence_id)
        await consistent()
        items = await asyncio.to_thread(enrolments.of_sequence, sequence_id, app.clock.now(), limit)
        return {"sequence_id": str(sequence_id), "items": items}

    @router.get("/v1/sequences/{sequence_id}/figures")
    async def figures(sequence_id: UUID, caller: Reporter) -> dict[str, Any]:
        """Connected leads now, and the success rate (completed without an early exit, of those
        that ended) over the last 30, 90 and 180 days."""
        await worker.call(app.get_sequence, sequence_id)
        await consistent()
        return {
            "sequence_id": str(sequence_id),
            **await asyncio.to_thread(enrolments.figures, sequence_id, app.clock.now()),
        }

    return router
