"""sequence's HTTP API: sequence definitions (drafts, activation with every problem listed,
versions, deactivation, the preview of due times), health and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import Authenticator, require
from leadflow_shared.auth.setup import secure
from leadflow_shared.calendars import STANDARD_HOURS, BusinessCalendar, InvalidCalendar, zone
from leadflow_shared.contracts.base import Identifier
from leadflow_shared.http import BodySizeLimit, Check, health_router, refuse_invalid_values
from leadflow_shared.store import StoreWorker

from ..application import SequenceApplication
from ..domain import CannotActivate, NotADraft, SequenceDefinition, TooManyActive
from ..domain.definition import MAX_STEPS

MAX_BODY_BYTES = 64 * 1024
Reader = Annotated[Principal, Depends(require("sequences:read"))]
Writer = Annotated[Principal, Depends(require("sequences:write"))]
Steps = Annotated[list[dict[str, Any]], Field(max_length=MAX_STEPS)]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    skip_non_working_days: bool = True
    exit_on_reply: bool = True
    branch_on_signal_at_once: bool = True
    """A condition on an e-mail signal takes its Yes branch as soon as the signal arrives (else at
    its time limit)."""


class NewSequence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier
    description: Annotated[str, Field(max_length=2000)] = ""
    steps: Steps = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)


class DraftChanges(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    steps: Steps | None = None
    settings: Settings | None = None


def sequence_view(sequence: SequenceDefinition) -> dict[str, Any]:
    return {
        "sequence_id": str(sequence.id),
        "status": sequence.status,
        "active_version": (sequence.active or {}).get("number"),
        "draft_version": (sequence.draft or {}).get("number"),
        "versions": sequence.versions,
    }


def create_api(
    app: SequenceApplication, worker: StoreWorker, checks: dict[str, Check], authenticator: Authenticator
) -> FastAPI:
    api = FastAPI(
        title="leadflow sequence",
        version="0.2.0",
        description="Dynamics 365-style sequences of follow-up steps. Definitions first; enrolment, "
        "due work and e-mail delivery follow.",
    )
    api.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    _errors(api)
    refuse_invalid_values(api)
    secure(api, authenticator, app, worker)
    api.include_router(health_router(checks))
    api.include_router(sequences_router(app, worker))
    return api


def _errors(api: FastAPI) -> None:
    @api.exception_handler(LookupError)
    async def not_found(_: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @api.exception_handler(CannotActivate)
    async def cannot_activate(_: Request, exc: CannotActivate) -> JSONResponse:
        return JSONResponse(
            {"detail": "the draft cannot be activated", "problems": [p.as_dict() for p in exc.problems]},
            status_code=422,
        )

    @api.exception_handler(NotADraft)
    async def not_a_draft(_: Request, exc: NotADraft) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @api.exception_handler(TooManyActive)
    async def too_many(_: Request, exc: TooManyActive) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)


def sequences_router(app: SequenceApplication, worker: StoreWorker) -> APIRouter:
    router = APIRouter(prefix="/v1/sequences", tags=["sequences"])

    async def view(sequence_id: UUID) -> dict[str, Any]:
        return sequence_view(await worker.call(app.get_sequence, sequence_id))

    @router.post("", status_code=status.HTTP_201_CREATED)
    async def create(body: NewSequence, caller: Writer) -> dict[str, Any]:
        """A new sequence, as draft version 1 (nothing is checked until it is activated)."""
        sequence_id = await worker.call(
            lambda: app.execute(
                app.create,
                name=body.name,
                description=body.description,
                steps=body.steps,
                settings=body.settings.model_dump(),
                actor=caller.actor,
            )
        )
        return await view(sequence_id)

    @router.get("")
    async def list_sequences(caller: Reader) -> dict[str, Any]:
        catalog = await worker.call(app.catalog)
        return {"items": [{"sequence_id": i, **entry} for i, entry in sorted(catalog.items())]}

    @router.get("/{sequence_id}")
    async def get_sequence(sequence_id: UUID, caller: Reader) -> dict[str, Any]:
        return await view(sequence_id)

    @router.patch("/{sequence_id}")
    async def edit(sequence_id: UUID, body: DraftChanges, caller: Writer) -> dict[str, Any]:
        """Change the draft; an active sequence is changed through a new version (409)."""
        changes = body.model_dump(exclude_none=True)
        await worker.call(lambda: app.execute(app.edit, sequence_id, changes=changes, actor=caller.actor))
        return await view(sequence_id)

    @router.post("/{sequence_id}/activate")
    async def activate(sequence_id: UUID, caller: Writer) -> dict[str, Any]:
        """Check the draft and make it the active version: 422 lists every problem (step id and
        reason); leads enrolled on an earlier version stay on it."""
        await worker.call(lambda: app.execute(app.activate, sequence_id, actor=caller.actor))
        return await view(sequence_id)

    @router.post("/{sequence_id}/versions", status_code=status.HTTP_201_CREATED)
    async def new_version(sequence_id: UUID, caller: Writer) -> dict[str, Any]:
        """A new draft version, copied from the active one (the existing draft if there is one)."""
        await worker.call(lambda: app.execute(app.new_version, sequence_id, actor=caller.actor))
        return await view(sequence_id)

    @router.post("/{sequence_id}/deactivate")
    async def deactivate(sequence_id: UUID, caller: Writer) -> dict[str, Any]:
        await worker.call(lambda: app.execute(app.deactivate, sequence_id, actor=caller.actor))
        return await view(sequence_id)

    @router.get("/{sequence_id}/preview")
    async def get_preview(
        sequence_id: UUID,
        caller: Reader,
        start: Annotated[datetime, Query(description="when the lead is enrolled (with a time zone)")],
        time_zone: Annotated[str, Query(max_length=64, description="the calendar's IANA zone")] = "UTC",
        version: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    ) -> dict[str, Any]:
        """Each step's due time (in `time_zone`) for a lead enrolled at `start`, along the shortest path, with a
        Monday-to-Friday 9:00-17:00 calendar in `time_zone` (sellers' own calendars come with the
        seller-profile projection)."""
        if start.tzinfo is None:
            return _query_error("start", "needs a time zone (e.g. 2026-12-02T10:30:00+01:00)")
        try:
            calendar = BusinessCalendar.from_data(time_zone=time_zone, working_hours=STANDARD_HOURS)
        except InvalidCalendar as exc:
            return _query_error("time_zone", str(exc))
        local = zone(time_zone)
        number, timeline = await worker.call(
            lambda: app.preview(sequence_id, start=start, calendar=calendar, version=version)
        )
        return {
            "sequence_id": str(sequence_id),
            "version": number,
            "start": start.isoformat(),
            "time_zone": time_zone,
            "steps": [{**item, "due_at": item["due_at"].astimezone(local).isoformat()} for item in timeline],
        }

    return router


def _query_error(field: str, message: str) -> Any:
    return JSONResponse({"detail": [{"loc": ["query", field], "msg": message, "type": "value_error"}]}, 422)
