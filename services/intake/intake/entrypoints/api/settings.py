"""Lead settings routes: stages, qualification rules, disqualification reasons, lifecycle automation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import require
from leadflow_shared.store import StoreWorker

from ...application import IntakeApplication
from ...domain import LeadSettings
from ...projections import settings_view

Id = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_\-]+$")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewStage(Body):
    id: str = Id
    name: str = Field(min_length=1, max_length=200)
    position: int | None = Field(default=None, ge=0)


class Rename(Body):
    name: str = Field(min_length=1, max_length=200)


class Order(Body):
    order: list[str] = Field(min_length=1, max_length=200)


class NewReason(Body):
    id: str = Id
    label: str = Field(min_length=1, max_length=200)


class Relabel(Body):
    label: str = Field(min_length=1, max_length=200)


class QualificationRules(Body):
    require_deal_to_qualify: bool
    require_reason_to_disqualify: bool


class LifecycleAutomation(Body):
    auto_create_at_lifecycle_stage: str | None = Field(default=None, max_length=100)
    lifecycle_stage_on_association: str | None = Field(default=None, max_length=100)


ADMIN = Depends(require("settings:write"))


def settings_router(app: IntakeApplication, worker: StoreWorker) -> APIRouter:
    router = APIRouter(prefix="/v1/settings/leads", tags=["lead settings"])

    async def change(fn: Any) -> dict[str, Any]:
        return settings_view(await worker.call(app.execute, app.change_settings, fn))

    @router.get("", dependencies=[Depends(require("settings:read"))])
    async def get_settings() -> dict[str, Any]:
        return settings_view(await worker.call(app.settings))

    @router.post("/stages", status_code=201, dependencies=[ADMIN])
    async def add_stage(body: NewStage) -> dict[str, Any]:
        return await change(lambda s: s.add_stage(body.id, body.name, body.position))

    @router.patch("/stages/{stage_id}", dependencies=[ADMIN])
    async def rename_stage(stage_id: str, body: Rename) -> dict[str, Any]:
        return await change(lambda s: s.rename_stage(stage_id, body.name))

    @router.put("/stages/order", dependencies=[ADMIN])
    async def reorder_stages(body: Order) -> dict[str, Any]:
        return await change(lambda s: s.reorder_stages(body.order))

    @router.delete("/stages/{stage_id}", dependencies=[ADMIN])
    async def delete_stage(
        stage_id: str, admin: Annotated[Principal, ADMIN], move_to: str | None = None
    ) -> dict[str, Any]:
        """Delete a stage. If it holds leads, `move_to` must name the stage they move to (else 409)."""
        moved = await worker.call(app.execute, app.delete_stage, stage_id, move_to=move_to, actor=admin.actor)
        return {"moved": moved, "settings": settings_view(await worker.call(app.settings))}

    @router.put("/qualification", dependencies=[ADMIN])
    async def set_qualification_rules(body: QualificationRules) -> dict[str, Any]:
        return await change(
            lambda s: s.set_qualification_rules(body.require_deal_to_qualify, body.require_reason_to_disqualify)
        )

    @router.post("/reasons", status_code=201, dependencies=[ADMIN])
    async def add_reason(body: NewReason) -> dict[str, Any]:
        return await change(lambda s: s.add_reason(body.id, body.label))

    @router.patch("/reasons/{reason_id}", dependencies=[ADMIN])
    async def rename_reason(reason_id: str, body: Relabel) -> dict[str, Any]:
        return await change(lambda s: s.rename_reason(reason_id, body.label))

    @router.delete("/reasons/{reason_id}", dependencies=[ADMIN])
    async def remove_reason(reason_id: str) -> dict[str, Any]:
        return await change(lambda s: s.remove_reason(reason_id))

    @router.put("/reasons/order", dependencies=[ADMIN])
    async def reorder_reasons(body: Order) -> dict[str, Any]:
        return await change(lambda s: s.reorder_reasons(body.order))

    @router.put("/lifecycle", dependencies=[ADMIN])
    async def set_lifecycle_automation(body: LifecycleAutomation) -> dict[str, Any]:
        return await change(
            lambda s: s.set_lifecycle_automation(
                body.auto_create_at_lifecycle_stage, body.lifecycle_stage_on_association
            )
        )

    return router


__all__ = ["LeadSettings", "settings_router"]
