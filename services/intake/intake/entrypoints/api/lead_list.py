"""`GET /v1/leads`: the lead list, its tabs, filters, counts and cursor pages."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from leadflow_shared.auth import Principal, Role
from leadflow_shared.auth.http import require
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.store import StoreWorker

from ...application import IntakeApplication
from ...projections import LeadReadModel
from ...projections.queries import MAX_LIMIT, InvalidQuery, LeadFilters, Tab

Status = Literal["unassigned", "assigned", "qualified", "disqualified", "converted", "closed_invalid"]
LeadType = Literal["customer_inquiry", "marketing_qualified", "sales_qualified"]
Values = Annotated[list[str] | None, Query(max_length=50)]


READ_YOUR_WRITES_SECONDS = 2.0


def lead_list_router(app: IntakeApplication, worker: StoreWorker, read_model: LeadReadModel) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["leads"])
    leads, runner = read_model.leads, read_model.runner

    @router.get("/leads")
    async def list_leads(
        caller: Annotated[Principal, Depends(require("leads:read"))],
        tab: Tab = "all",
        status: Annotated[list[Status] | None, Query()] = None,
        type: Annotated[list[LeadType] | None, Query()] = None,
        stage_id: Values = None,
        owner_id: Values = None,
        team_id: Values = None,
        source: Values = None,
        campaign_id: Values = None,
        created_from: Annotated[datetime | None, Query(description="received at or after (inclusive)")] = None,
        created_to: Annotated[datetime | None, Query(description="received before (exclusive)")] = None,
        q: Annotated[str | None, Query(min_length=1, max_length=200, description="name or company")] = None,
        include_voided: bool = False,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        min_position: Annotated[
            int | None, Query(ge=0, description="wait until the list shows this Leadflow-Position (a command's)")
        ] = None,
    ) -> dict[str, Any]:
        """Leads of one tab, newest first, with the counts of every tab for the same filters.

        A seller sees only the leads they own; a sales manager, those placed in their teams and those
        their team members own.
        Tabs: `marketplace` (customer inquiries), `qualified` (marketing or sales qualified),
        `favorites` (the caller's), `archived` (converted, closed invalid, disqualified or merged);
        the first three leave archived leads out, `all` keeps them. Voided leads show only
        with `include_voided=true`. Repeat a filter to match any of its values.
        """
        await _consistent(runner, app, worker, min_position)
        owner_id, team_id, managed_teams = _scoped(caller, owner_id, team_id)
        try:
            filters = LeadFilters(
                status=tuple(status or ()),
                lead_type=tuple(type or ()),
                stage_id=tuple(stage_id or ()),
                owner_id=tuple(owner_id or ()),
                team_id=tuple(team_id or ()),
                source=tuple(source or ()),
                campaign_id=tuple(campaign_id or ()),
                created_from=created_from,
                created_to=created_to,
                q=q,
                include_voided=include_voided,
                managed_teams=managed_teams,
            )
            page = await asyncio.to_thread(
                leads.page, filters=filters, tab=tab, user_id=caller.actor, limit=limit, cursor=cursor
            )
        except InvalidQuery as exc:
            raise HTTPException(
                422, detail=[{"loc": ["query", exc.field], "msg": exc.reason, "type": "invalid_query"}]
            ) from None
        return {
            "tab": page.tab,
            "items": page.items,
            "next_cursor": page.next_cursor,
            "limit": page.limit,
            "counts": page.counts,
        }

    return router


async def _consistent(
    runner: ProjectionRunner, app: IntakeApplication, worker: StoreWorker, position: int | None
) -> None:
    """Read your writes: wait (briefly) until the list has applied what was stored before this read."""
    newest = await worker.call(app.recorder.max_notification_id) or 0
    if position is not None and position > newest:
        raise HTTPException(
            422,
            detail=[
                {
                    "loc": ["query", "min_position"],
                    "msg": f"no command has reached position {position} yet (the newest is {newest})",
                    "type": "position_ahead",
                }
            ],
        )
    await runner.wait_for(position if position is not None else newest, timeout=READ_YOUR_WRITES_SECONDS)


NOBODY = "\x00nobody"
"""A filter value no lead has: the caller may see no lead of those asked for."""


def _scoped(
    caller: Principal, owner_id: list[str] | None, team_id: list[str] | None
) -> tuple[list[str], list[str], tuple[str, ...]]:
    """The owner and team filters, and the teams a manager's view is limited to (the policy's lead
    rule): a manager sees leads placed in their teams and leads their team members own."""
    if caller.has(Role.ADMIN):
        return owner_id or [], team_id or [], ()
    if caller.has(Role.SALES_MANAGER):
        return owner_id or [], team_id or [], tuple(sorted(caller.teams)) or (NOBODY,)
    if owner_id and caller.subject not in owner_id:
        return [NOBODY], team_id or [], ()
    return [caller.subject], team_id or [], ()
