"""assignment's revenue-model API: models and their lifecycle, stage changes (single, bulk,
merge), the revenue-stage activity log, the Success Path Analyzer (JSON and SVG), and a lead's
stage at any time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import require
from leadflow_shared.store import StoreWorker
from leadflow_shared.timetravel import AsOf, DidNotExistYet
from leadflow_shared.views import InvalidCursor, jsonable

from ..application import AssignmentApplication, LeadNotKnown, RunNotFound
from ..domain.revenue import (
    STAGE_TYPES,
    TRIGGERS,
    CannotApprove,
    InvalidDefinition,
    LifecycleConflict,
    ModelNotFound,
    RevenueModel,
    StageNotFound,
)
from ..projections import InvalidWindow, RevenueReadModel
from ..projections.picture import render_success_path

T = TypeVar("T")
StageId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Text = Annotated[str, StringConstraints(max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reader = Annotated[Principal, Depends(require("revenue:read"))]
Writer = Annotated[Principal, Depends(require("revenue:write"))]
Mover = Annotated[Principal, Depends(require("revenue:move"))]
Reporter = Annotated[Principal, Depends(require("revenue:report"))]
LeadReader = Annotated[Principal, Depends(require("assignments:read"))]
Reason = Literal["assignment_rule", "transition", "gate", "manual", "bulk", "merge", "deleted"]


class In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PhaseIn(In):
    id: StageId
    name: Name


class StageIn(In):
    id: StageId
    name: Name
    description: Text = ""
    type: Literal["inventory", "sla", "gate"] = Field(description=f"one of {', '.join(STAGE_TYPES)}")
    path: Literal["success", "detour"] = "success"
    active: bool = True
    phase: StageId | None = None
    sla_hours: float | None = Field(default=None, gt=0, le=24 * 366, description="an SLA stage's time limit")
    default_to: StageId | None = Field(default=None, description="a gate's default transition")


class TransitionIn(In):
    id: StageId
    from_: StageId | Literal["*"] = Field(alias="from", description="a stage id, or * for any stage")
    to: StageId
    triggers: list[Literal[TRIGGERS]] = Field(default_factory=list, max_length=len(TRIGGERS))  # type: ignore[valid-type]
    filter: Any = Field(default=None, examples=[{"field": "score", "op": "gte", "value": 40}])

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ChoiceIn(In):
    condition: Any = Field(examples=[{"field": "score", "op": "gte", "value": 40}])
    stage: StageId


class AssignmentRulesIn(In):
    choices: list[ChoiceIn] = Field(default_factory=list, max_length=100)
    default: StageId | None = None


class DefinitionIn(In):
    phases: list[PhaseIn] = Field(default_factory=list, max_length=20)
    stages: list[StageIn] = Field(min_length=1, max_length=50)
    transitions: list[TransitionIn] = Field(default_factory=list, max_length=200)
    assignment_rules: AssignmentRulesIn = Field(default_factory=AssignmentRulesIn)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class ModelIn(In):
    name: Name
    description: Text = ""
    definition: DefinitionIn | None = Field(default=None, description="omitted: the default success path")


class ModelEdit(In):
    name: Name
    description: Text = ""
    definition: DefinitionIn


class DraftIn(In):
    definition: DefinitionIn


class RenameIn(In):
    name: Name


class MergeIn(In):
    into: StageId | None = Field(description="the stage its leads go to; null: they leave the model")


class StageChangesIn(In):
    stage: StageId
    lead_ids: list[UUID] | None = Field(default=None, max_length=10_000, description="these leads (or a filter)")
    filter: Any = Field(default=None, description="leads matching these criteria (the segments' language)")


class MoveIn(In):
    stage: StageId


ERRORS: dict[type[Exception], int] = {
    ModelNotFound: 404,
    StageNotFound: 404,
    RunNotFound: 404,
    LeadNotKnown: 404,
    LifecycleConflict: 409,
    InvalidDefinition: 422,
    InvalidWindow: 422,
    InvalidCursor: 422,
}


def handle_revenue_errors(api: FastAPI) -> None:
    for error, status in ERRORS.items():

        async def handler(_: Request, exc: Exception, status: int = status) -> JSONResponse:
            if status == 422:
                where, _colon, reason = str(exc).partition(": ")
                part = "query" if isinstance(exc, InvalidWindow | InvalidCursor) else "body"
                loc = [part, *where.split(".")] if reason else [part]
                return JSONResponse({"detail": [{"loc": loc, "msg": reason or str(exc), "type": "invalid"}]}, 422)
            return JSONResponse({"detail": str(exc)}, status_code=status)

        api.add_exception_handler(error, handler)

    @api.exception_handler(CannotApprove)
    async def cannot_approve(_: Request, exc: CannotApprove) -> JSONResponse:
        return JSONResponse(
            {"detail": "the model cannot be approved", "problems": [p.as_dict() for p in exc.problems]}, 422
        )


def model_view(model: RevenueModel) -> dict[str, Any]:
    return {
        "model_id": str(model.id),
        "version": model.version,
        "name": model.name,
        "description": model.description,
        "status": model.status,
        "generation": model.generation,
        "definition": model.definition,
        "draft": model.draft,
        "merged": model.merged,
        "approvals": jsonable(model.approvals),
    }


def revenue_router(
    app: AssignmentApplication,
    worker: StoreWorker,
    reads: RevenueReadModel,
    may_see_lead: Callable[[Principal, UUID], Awaitable[None]],
    wake_runs: Callable[[], None] = lambda: None,
) -> APIRouter:
    router = APIRouter(tags=["revenue"])
    revenue = app.revenue

    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await worker.call(fn, *args, **kwargs)

    async def execute(use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await worker.call(app.execute, use_case, *args, **kwargs)

    # -- models ---------------------------------------------------------------------------

    @router.post("/v1/revenue/models", status_code=201)
    async def create_model(body: ModelIn, caller: Writer) -> dict[str, Any]:
        """A new model in draft; without a definition it starts with the default success path."""
        definition = body.definition.as_dict() if body.definition is not None else None
        return model_view(await execute(revenue.create_model, body.name, body.description, definition, caller.subject))

    @router.get("/v1/revenue/models")
    async def list_models(caller: Reader) -> list[dict[str, Any]]:
        return [model_view(m) for m in await call(revenue.models)]

    @router.get("/v1/revenue/models/{model_id}")
    async def get_model(model_id: UUID, caller: Reader) -> dict[str, Any]:
        return model_view(await call(revenue.get_model, model_id))

    @router.put("/v1/revenue/models/{model_id}")
    async def edit_model(model_id: UUID, body: ModelEdit, caller: Writer) -> dict[str, Any]:
        """Edit a draft (anything), or a stage-approved model (not its stages); an approved model
        is edited through its draft."""
        model = await execute(
            revenue.redefine, model_id, body.name, body.description, body.definition.as_dict(), caller.subject
        )
        return model_view(model)

    @router.put("/v1/revenue/models/{model_id}/draft")
    async def save_draft(model_id: UUID, body: DraftIn, caller: Writer) -> dict[str, Any]:
        """An approved model's next definition (its stages may not go: merge them)."""
        return model_view(await execute(revenue.save_draft, model_id, body.definition.as_dict(), caller.subject))

    @router.post("/v1/revenue/models/{model_id}/approve-draft")
    async def approve_draft(model_id: UUID, caller: Writer) -> dict[str, Any]:
        return model_view(await execute(revenue.approve_draft, model_id, caller.subject))

    @router.post("/v1/revenue/models/{model_id}/validate")
    async def validate(model_id: UUID, caller: Reader, draft: bool = False) -> dict[str, Any]:
        """Every problem that stops approval: unreachable stages, a gate without a default, a
        transition or rule naming a missing stage."""
        found = await call(revenue.validate, model_id, draft=draft)
        return {"model_id": str(model_id), "valid": not found, "problems": [p.as_dict() for p in found]}

    @router.post("/v1/revenue/models/{model_id}/approve-stages")
    async def approve_stages(model_id: UUID, caller: Writer) -> dict[str, Any]:
        """Leads start moving through the stages (no activity is logged yet)."""
        return model_view(await execute(revenue.approve_stages, model_id, caller.subject))

    @router.post("/v1/revenue/models/{model_id}/approve")
    async def approve(model_id: UUID, caller: Writer) -> dict[str, Any]:
        """Every stage change is logged from now on. Needs approved stages and leads in the model;
        only one model is approved at a time (409 names the approved one)."""
        return model_view(await execute(revenue.approve, model_id, caller.subject))

    @router.post("/v1/revenue/models/{model_id}/unapprove")
    async def unapprove(model_id: UUID, caller: Writer) -> dict[str, Any]:
        """Back to draft; every lead's history stays (read it with `generation`)."""
        return model_view(await execute(revenue.unapprove, model_id, caller.subject))

    @router.patch("/v1/revenue/models/{model_id}/stages/{stage_id}")
    async def rename_stage(model_id: UUID, stage_id: str, body: RenameIn, caller: Writer) -> dict[str, Any]:
        return model_view(await execute(revenue.rename_stage, model_id, stage_id, body.name, caller.subject))

    @router.post("/v1/revenue/models/{model_id}/stages/{stage_id}/merge", status_code=202)
    async def merge_stage(model_id: UUID, stage_id: str, body: MergeIn, caller: Writer) -> dict[str, Any]:
        """Remove a live model's stage; its leads move to `into` (or leave the model) in a run."""
        run = await execute(revenue.merge_stage, model_id, stage_id, body.into, caller.subject)
        wake_runs()
        return {"run_id": str(run.id), "status_url": f"/v1/revenue/models/{model_id}/stage-changes/{run.id}"}

    # -- moving leads -----------------------------------------------------------------------

    @router.post("/v1/revenue/models/{model_id}/stage-changes", status_code=202)
    async def change_revenue_stage(model_id: UUID, body: StageChangesIn, caller: Mover) -> dict[str, Any]:
        """Change Revenue Stage: every lead matching `filter` (or named in `lead_ids`; neither:
        every lead) goes to `stage`, now, with no cap. Follow the run's progress and per-lead
        results at the returned URL."""
        run = await execute(
            revenue.start_run,
            model_id,
            body.stage,
            lead_ids=body.lead_ids,
            lead_filter=body.filter,
            actor=caller.subject,
        )
        wake_runs()
        return {
            "run_id": str(run.id),
            "total": run.total,
            "status_url": f"/v1/revenue/models/{model_id}/stage-changes/{run.id}",
        }

    @router.get(
        "/v1/revenue/models/{model_id}/stage-changes/{run_id}",
    )
    async def stage_change_run(
        model_id: UUID,
        run_id: UUID,
        caller: Mover,
        outcome: Literal["moved", "skipped", "refused"] | None = None,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """A run's progress (scanned of total, moved, skipped, refused, finished) and its per-lead
        results in pages (`after` = the last `seq` seen)."""
        found = await asyncio.to_thread(reads.run, run_id, outcome=outcome, after=after, limit=limit)
        if found is None or found["model_id"] != str(model_id):
            raise RunNotFound(run_id)
        found["progress_pct"] = round(100.0 * found["scanned"] / found["total"], 1) if found["total"] else 100.0
        found["finished"] = found["finished_at"] is not None
        return found

    @router.post("/v1/revenue/models/{model_id}/leads/{lead_id}/stage")
    async def move_lead(model_id: UUID, lead_id: UUID, body: MoveIn, caller: Mover) -> dict[str, Any]:
        """A manual move of one lead (marked manual, with the acting user)."""
        await may_see_lead(caller, lead_id)
        outcome = await execute(revenue.move_lead, model_id, lead_id, body.stage, caller.subject)
        return {"lead_id": str(lead_id), "stage": body.stage, "outcome": outcome}

    # -- the activity log, the analyzer, a lead's stage --------------------------------------

    @router.get("/v1/revenue/models/{model_id}/activity")
    async def model_activity(
        model_id: UUID,
        caller: Reporter,
        stage: StageId | None = None,
        reason: Reason | None = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        generation: Annotated[int | None, Query(ge=1)] = None,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """The model's logged stage changes, newest first (the current generation unless named)."""
        model = await call(revenue.get_model, model_id)
        return await asyncio.to_thread(
            reads.activity,
            model_id=model_id,
            generation=generation or model.generation,
            stage=stage,
            reason=reason,
            actor=actor,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )

    @router.get("/v1/leads/{lead_id}/revenue-activity")
    async def lead_activity(
        lead_id: UUID,
        caller: LeadReader,
        model_id: UUID | None = None,
        stage: StageId | None = None,
        reason: Reason | None = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        generation: Annotated[int | None, Query(ge=1)] = None,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """The lead's logged revenue stage changes in every model (or one), newest first."""
        await may_see_lead(caller, lead_id)
        return await asyncio.to_thread(
            reads.activity,
            lead_id=lead_id,
            model_id=model_id,
            generation=generation,
            stage=stage,
            reason=reason,
            actor=actor,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )

    async def analysis(
        model_id: UUID, period: str, start: date, end: date, compare_from: date | None, generation: int | None
    ) -> dict[str, Any]:
        model = await call(revenue.get_model, model_id)
        stages = [
            {k: s.get(k) for k in ("id", "name", "type", "path", "phase", "sla_hours")}
            for s in model.definition["stages"]
        ]
        gen = generation or model.generation
        now = app.clock.now()
        found = await asyncio.to_thread(reads.analyze, model_id, gen, stages, period, start, end, now)
        result = {
            "model_id": str(model_id),
            "model_name": model.name,
            "generation": gen,
            "period": period,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "time_zone": "UTC",
            "stages": stages,
            **found,
            "compare": None,
        }
        if compare_from is not None:
            compare_to = compare_from + (end - start)
            other = await asyncio.to_thread(reads.analyze, model_id, gen, stages, period, compare_from, compare_to, now)
            result["compare"] = {"from": compare_from.isoformat(), "to": compare_to.isoformat(), **other}
        return result

    @router.get("/v1/revenue/models/{model_id}/analysis")
    async def analyze(
        model_id: UUID,
        caller: Reporter,
        start: Annotated[date, Query(alias="from", description="first day (UTC)")],
        end: Annotated[date, Query(alias="to", description="day after the last (UTC)")],
        period: Literal["day", "week", "month"] = "week",
        compare_from: date | None = None,
        generation: Annotated[int | None, Query(ge=1)] = None,
    ) -> dict[str, Any]:
        """Success Path Analyzer: per stage and period the start balance, in flow, out flow, end
        balance (= start + in - out), conversion % to a later success stage, average hours in
        the stage, SLA misses (`sla_due`) and leads past their SLA at the period's end
        (`sla_past_due`). `compare_from` adds the same figures for a window of the same length."""
        return await analysis(model_id, period, start, end, compare_from, generation)

    @router.get(
        "/v1/revenue/models/{model_id}/analysis.svg",
        response_class=Response,
        responses={200: {"content": {"image/svg+xml": {}}}},
    )
    async def analyze_picture(
        model_id: UUID,
        caller: Reporter,
        start: Annotated[date, Query(alias="from")],
        end: Annotated[date, Query(alias="to")],
        period: Literal["day", "week", "month"] = "week",
        compare_from: date | None = None,
        generation: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        """The analyzer as a picture: the success path left to right, balances, flows,
        conversion between stages, detours below, SLA misses marked."""
        found = await analysis(model_id, period, start, end, None, generation)
        return Response(render_success_path(found), media_type="image/svg+xml")

    @router.get("/v1/leads/{lead_id}/revenue-stage")
    async def lead_stage(lead_id: UUID, model_id: UUID, caller: LeadReader, as_of: AsOf = None) -> dict[str, Any]:
        """The lead's stage in the model, with date entered, date exited, latest and cumulative
        time in each stage — now, or at `as_of` (rebuilt from the lead's stream)."""
        await may_see_lead(caller, lead_id)
        try:
            found = await call(revenue.position, model_id, lead_id, as_of)
        except DidNotExistYet as exc:
            found = {"model_id": str(model_id), "lead_id": str(lead_id), "stage": None, "stages": {}, "note": str(exc)}
            found["as_of"] = as_of
        return jsonable(found)  # type: ignore[no-any-return]

    return router


__all__ = ["handle_revenue_errors", "revenue_router"]
