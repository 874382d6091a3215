"""Sequence definitions over HTTP: drafts, activation (422 listing every problem), versions,
deactivation and deletion, segment links, and the preview of due times on a seller's calendar."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import require
from leadflow_shared.calendars import STANDARD_HOURS, BusinessCalendar, InvalidCalendar, zone
from leadflow_shared.contracts.base import Identifier
from leadflow_shared.store import StoreWorker

from ...application import SequenceApplication
from ...domain import SequenceDefinition
from ...domain.definition import MAX_STEPS

Reader = Annotated[Principal, Depends(require("sequences:read"))]
Writer = Annotated[Principal, Depends(require("sequences:write"))]
Steps = Annotated[list[dict[str, Any]], Field(max_length=MAX_STEPS)]
SegmentId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


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


def sequence_view(sequence: SequenceDefinition, segments: list[str]) -> dict[str, Any]:
    return {
        "sequence_id": str(sequence.id),
        "status": sequence.status,
        "segments": segments,
        "active_version": (sequence.active or {}).get("number"),
        "draft_version": (sequence.draft or {}).get("number"),
        "versions": sequence.versions,
    }


def sequences_router(app: SequenceApplication, worker: StoreWorker) -> APIRouter:
    router = APIRouter(prefix="/v1/sequences", tags=["sequences"])

    async def view(sequence_id: UUID) -> dict[str, Any]:
        sequence = await worker.call(app.get_sequence, sequence_id)
        return sequence_view(sequence, await worker.call(app.segments_of, sequence_id))

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
        """No longer active: no new enrolments, and every connected lead is disconnected (cause
        `sequence_deactivated`, page by page in the background)."""
        await worker.call(lambda: app.execute(app.deactivate, sequence_id, actor=caller.actor))
        return await view(sequence_id)

    @router.delete("/{sequence_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete(sequence_id: UUID, caller: Writer) -> None:
        """Gone from the catalog and its segment links; connected leads are disconnected (cause
        `sequence_deleted`). Its events stay (enrolments still show the steps they walked)."""
        await worker.call(app.get_sequence, sequence_id)
        await worker.call(lambda: app.execute(app.delete, sequence_id, actor=caller.actor))

    @router.put("/{sequence_id}/segments/{segment_id}")
    async def link_segment(sequence_id: UUID, segment_id: SegmentId, caller: Writer) -> dict[str, Any]:
        """Leads assignment assigns in this segment are enrolled (LeadAssignedV1.segment_id);
        idempotent."""
        await worker.call(app.get_sequence, sequence_id)
        await worker.call(lambda: app.execute(app.link_segment, sequence_id, segment_id, actor=caller.actor, on=True))
        return await view(sequence_id)

    @router.delete("/{sequence_id}/segments/{segment_id}")
    async def unlink_segment(sequence_id: UUID, segment_id: SegmentId, caller: Writer) -> dict[str, Any]:
        await worker.call(app.get_sequence, sequence_id)
        await worker.call(lambda: app.execute(app.link_segment, sequence_id, segment_id, actor=caller.actor, on=False))
        return await view(sequence_id)

    @router.get("/{sequence_id}/preview")
    async def get_preview(
        sequence_id: UUID,
        caller: Reader,
        start: Annotated[datetime, Query(description="when the lead is enrolled (with a time zone)")],
        seller_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        time_zone: Annotated[
            str | None, Query(max_length=64, description="without seller_id: a Monday-Friday 9-17 calendar here")
        ] = None,
        version: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    ) -> dict[str, Any]:
        """Each step's due time for a lead enrolled at `start`, along the shortest path, on
        `seller_id`'s calendar (working hours, time zone, out of office, as assignment published
        them, with the organisation's holidays); without a seller, Monday to Friday 9:00-17:00 in
        `time_zone` (UTC by default) with the organisation's holidays. Times are shown in the
        calendar's zone."""
        if start.tzinfo is None:
            return _query_error("start", "needs a time zone (e.g. 2026-12-02T10:30:00+01:00)")
        if seller_id is not None:
            calendar = await worker.call(app.calendar_of, seller_id)
        else:
            try:
                calendar = BusinessCalendar.from_data(
                    time_zone=time_zone or "UTC",
                    working_hours=STANDARD_HOURS,
                    holidays=await worker.call(app.holidays),
                )
            except InvalidCalendar as exc:
                return _query_error("time_zone", str(exc))
        local = zone(calendar.time_zone)
        number, timeline = await worker.call(
            lambda: app.preview(sequence_id, start=start, calendar=calendar, version=version)
        )
        return {
            "sequence_id": str(sequence_id),
            "version": number,
            "start": start.isoformat(),
            "seller_id": seller_id,
            "time_zone": calendar.time_zone,
            "steps": [{**item, "due_at": item["due_at"].astimezone(local).isoformat()} for item in timeline],
        }

    return router


def _query_error(field: str, message: str) -> Any:
    return JSONResponse({"detail": [{"loc": ["query", field], "msg": message, "type": "value_error"}]}, 422)
