"""The sequence service's settings over HTTP: the organisation's holidays (no wait counts them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import require
from leadflow_shared.calendars import InvalidCalendar, parse_holiday
from leadflow_shared.store import StoreWorker

from ...application import SequenceApplication

Reader = Annotated[Principal, Depends(require("sequences:read"))]
Writer = Annotated[Principal, Depends(require("sequences:write"))]


class Holiday(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
    name: Annotated[str, Field(max_length=200)] = ""
    yearly: bool = False
    """Every year on the same month and day."""


class HolidayList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: Annotated[list[Holiday], Field(max_length=500)]


def settings_router(app: SequenceApplication, worker: StoreWorker) -> APIRouter:
    router = APIRouter(prefix="/v1/settings", tags=["settings"])

    @router.get("/holidays")
    async def get_holidays(caller: Reader) -> dict[str, Any]:
        return {"holidays": await worker.call(app.holidays)}

    @router.put("/holidays")
    async def put_holidays(body: HolidayList, caller: Writer) -> dict[str, Any]:
        """Replace the organisation's holidays: waits that skip non-working days skip them, for
        every seller (on top of the seller's own working days)."""
        days = [h.model_dump() for h in body.holidays]
        for index, day in enumerate(days):
            try:
                parse_holiday(day)
            except (InvalidCalendar, ValueError) as exc:
                raise HTTPException(
                    422,
                    detail=[{"loc": ["body", "holidays", index, "date"], "msg": str(exc), "type": "value_error"}],
                ) from None
        saved = await worker.call(lambda: app.execute(app.set_holidays, days, actor=caller.actor))
        return {"holidays": saved}

    return router
