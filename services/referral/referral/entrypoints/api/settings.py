"""`/v1/settings/referrals/decline-reasons`: each partner organisation's decline reasons, in the
order its users see them. Its referrals admins change them; its users read them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import require
from leadflow_shared.contracts.base import Identifier
from leadflow_shared.store import StoreWorker

from ...application import ReferralApplication
from ...domain.settings import MAX_REASONS
from .access import organisation_of

Reader = Annotated[Principal, Depends(require("referrals:read"))]
Admin = Annotated[Principal, Depends(require("referrals:settings"))]
Org = Annotated[str | None, Query(max_length=200, description="admins: the partner organisation")]
ReasonId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ReasonId
    label: Identifier


class Reasons(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reasons: Annotated[list[Reason], Field(min_length=1, max_length=MAX_REASONS)]


class NewReason(Reason):
    position: Annotated[int, Field(ge=0)] | None = None
    """Where in the list (0: first); at the end when left out."""


def settings_router(app: ReferralApplication, worker: StoreWorker) -> APIRouter:
    router = APIRouter(prefix="/v1/settings/referrals", tags=["settings"])

    def view(org: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        return {"org": org, "reasons": reasons}

    async def replace(org: str, reasons: list[dict[str, str]], caller: Principal) -> dict[str, Any]:
        saved = await worker.call(app.execute, app.change_decline_reasons, org, reasons, actor=caller.actor)
        return view(org, saved)

    @router.get("/decline-reasons")
    async def get_reasons(caller: Reader, org: Org = None) -> dict[str, Any]:
        scope = organisation_of(caller, org, required=True)
        assert scope is not None
        return view(scope, await worker.call(app.decline_reasons, scope))

    @router.put("/decline-reasons")
    async def put_reasons(body: Reasons, caller: Admin, org: Org = None) -> dict[str, Any]:
        """Replace the whole list; its order is the order users see."""
        scope = organisation_of(caller, org, required=True)
        assert scope is not None
        return await replace(scope, [r.model_dump() for r in body.reasons], caller)

    @router.post("/decline-reasons", status_code=status.HTTP_201_CREATED)
    async def add_reason(body: NewReason, caller: Admin, org: Org = None) -> dict[str, Any]:
        """Add one reason at `position` (0: first), or last."""
        scope = organisation_of(caller, org, required=True)
        assert scope is not None
        reason = {"id": body.id, "label": body.label}
        saved = await worker.call(
            lambda: app.execute(app.add_decline_reason, scope, reason, position=body.position, actor=caller.actor)
        )
        return view(scope, saved)

    @router.delete("/decline-reasons/{reason_id}")
    async def remove_reason(reason_id: str, caller: Admin, org: Org = None) -> dict[str, Any]:
        scope = organisation_of(caller, org, required=True)
        assert scope is not None
        saved = await worker.call(lambda: app.execute(app.remove_decline_reason, scope, reason_id, actor=caller.actor))
        return view(scope, saved)

    return router
