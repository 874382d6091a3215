"""`GET /v1/referrals`: the referral list (tabs, filters, counts, cursor pages) and
`GET /v1/referrals/metrics`: response-time figures per partner organisation."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import require
from leadflow_shared.store import StoreWorker

from ...application import ReferralApplication
from ...projections import ReferralFilters, ReferralReadModel
from ...projections.queries import MAX_LIMIT, Tab
from .access import favorites_key, organisation_of

Reader = Annotated[Principal, Depends(require("referrals:read"))]
Status = Literal["new", "active", "closed"]
Substatus = Literal["received", "accepted", "won", "lost", "declined", "expired"]
QualificationName = Literal["direct", "marketing_qualified", "sales_qualified"]


def referral_list_router(app: ReferralApplication, worker: StoreWorker, read_model: ReferralReadModel) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["referrals"])
    referrals, runner = read_model.referrals, read_model.runner

    async def consistent() -> None:
        """Read your writes: wait (briefly) until the list has applied what was stored before."""
        newest = await worker.call(app.recorder.max_notification_id) or 0
        if runner.known_position < newest:
            await asyncio.to_thread(runner.catch_up)

    @router.get("/referrals")
    async def list_referrals(
        caller: Reader,
        tab: Tab = "all",
        status: Annotated[list[Status] | None, Query()] = None,
        substatus: Annotated[list[Substatus] | None, Query()] = None,
        qualification: Annotated[list[QualificationName] | None, Query()] = None,
        country: Annotated[list[str] | None, Query(max_length=50)] = None,
        updated_since: Annotated[datetime | None, Query(description="changed at or after")] = None,
        contact_email: Annotated[str | None, Query(min_length=3, max_length=254)] = None,
        contact_requested: bool | None = None,
        org: Annotated[str | None, Query(max_length=200, description="admins: one partner organisation")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> dict[str, Any]:
        """Referrals of one tab, newest first, with the counts of every tab for the same filters.

        Tabs: `marketplace` (customer inquiries, not closed), `qualified` (marketing or sales
        qualified, not closed), `favorites` (the caller's), `archived` (closed: won, lost,
        declined, expired); `all` is every referral. A partner's user sees their own
        organisation's referrals only. Repeat a filter to match any of its values."""
        scope = organisation_of(caller, org)
        for code in country or ():
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise HTTPException(
                    422, detail=[{"loc": ["query", "country"], "msg": "ISO 3166 alpha-2 (e.g. DE)", "type": "value"}]
                )
        await consistent()
        filters = ReferralFilters(
            org=scope,
            status=tuple(status or ()),
            substatus=tuple(substatus or ()),
            qualification=tuple(qualification or ()),
            country=tuple(country or ()),
            updated_since=updated_since,
            contact_email=contact_email,
            contact_requested=contact_requested,
        )
        page = await asyncio.to_thread(
            referrals.page, filters=filters, tab=tab, user_key=favorites_key(caller), limit=limit, cursor=cursor
        )
        return {
            "tab": page.tab,
            "items": page.items,
            "next_cursor": page.next_cursor,
            "limit": page.limit,
            "counts": page.counts,
        }

    @router.get("/referrals/metrics")
    async def metrics(
        caller: Reader,
        org: Annotated[str | None, Query(max_length=200, description="admins: one partner organisation")] = None,
    ) -> dict[str, Any]:
        """Response-time figures per partner organisation: median time to accept or decline, the
        share answered within 24 hours, how many expired, the win rate (won / (won + lost))."""
        scope = organisation_of(caller, org)
        await consistent()
        figures = await asyncio.to_thread(referrals.metrics, org=scope, now=app.clock.now())
        return {"organisations": figures}

    return router
