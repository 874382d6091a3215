"""Enrolments over HTTP: connect a lead by hand, disconnect it, read one enrolment or a lead's,
the seller's actions on the current step, and e-mail signals.

Who may: admins every enrolment; sales managers those of leads placed in their teams; sellers
those of their own leads (`lead_visible`, the one policy). Anything else is answered 404, as if
it did not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import require
from leadflow_shared.auth.policy import lead_visible
from leadflow_shared.contracts import EmailSignal
from leadflow_shared.store import StoreWorker

from ...application import EnrolmentNotFound, SequenceApplication
from ...domain import Enrolment, Plan
from ...projections import SequenceReadModel

Enroller = Annotated[Principal, Depends(require("sequences:enrol"))]
Worker = Annotated[Principal, Depends(require("sequences:work"))]
Signaller = Annotated[Principal, Depends(require("sequences:signal"))]
StepId = Annotated[str, Path(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=4000)]


class NewEnrolment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lead_id: UUID


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    note: Note | None = None
    outcome: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """For calls: e.g. connected, left_voicemail, no_answer (a call_outcome condition compares it)."""


class Snooze(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    until: AwareDatetime


class Signal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step_id: Annotated[str, Field(min_length=1, max_length=200)]
    kind: EmailSignal
    occurred_at: AwareDatetime | None = None
    """When the customer did it (default: now)."""


def enrolment_view(enrolment: Enrolment, plan: Plan) -> dict[str, Any]:
    """One enrolment: where it stands, what comes next, and what was done."""
    current = enrolment.current
    upcoming = None
    if current is not None:
        following = current.get("then") or (plan.after(current["step_id"]) if current["type"] != "condition" else None)
        if following is not None:
            # a running wait names the step after it (`then`); otherwise the plan's next step
            upcoming = {"step_id": following.get("step_id") or following["id"], "type": following["type"]}
    return {
        "enrolment_id": str(enrolment.id),
        "lead_id": str(enrolment.lead_id),
        "sequence_id": str(enrolment.sequence_id),
        "sequence_version": enrolment.sequence_version,
        "owner_id": enrolment.owner_id,
        "via": enrolment.via,
        "segment_id": enrolment.segment_id,
        "status": enrolment.status,
        "exit_cause": enrolment.exit_cause,
        "advanced_to": enrolment.advanced_to,
        "enrolled_at": enrolment.enrolled_at.isoformat(),
        "ended_at": enrolment.ended_at.isoformat() if enrolment.ended_at else None,
        "current_step": _current(current),
        "upcoming_step": upcoming,
        "completed_steps": [_done(h) for h in enrolment.history if h["action"] in ("completed", "skipped")],
        "history": [_done(h) for h in enrolment.history],
        "signals": {
            step_id: {kind: at.isoformat() for kind, at in kinds.items()}
            for step_id, kinds in enrolment.signals.items()
        },
        "emails": {step_id: _jsonable(e) for step_id, e in enrolment.emails.items()},
        "version": enrolment.version,
    }


def _current(current: dict[str, Any] | None) -> dict[str, Any] | None:
    if current is None:
        return None
    return {
        "step_id": current["step_id"],
        "type": current["type"],
        "due_at": current["due_at"].isoformat(),
        "is_due": current["due"],
        "since": current["since"].isoformat(),
        "snoozed_until": current["snoozed_until"].isoformat() if current.get("snoozed_until") else None,
    }


def _done(entry: dict[str, Any]) -> dict[str, Any]:
    return _jsonable({k: v for k, v in entry.items() if k != "note"} | {"has_note": bool(entry.get("note"))})


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def enrolments_router(app: SequenceApplication, worker: StoreWorker, read_model: SequenceReadModel) -> APIRouter:
    router = APIRouter(tags=["enrolments"])

    async def visible(caller: Principal, enrolment_id: UUID) -> Enrolment:
        enrolment: Enrolment = await worker.call(app.get_enrolment, enrolment_id)
        owner, team = await worker.call(app.owner_of, enrolment.lead_id)
        if not lead_visible(caller, enrolment.owner_id or owner, team):
            raise EnrolmentNotFound(enrolment_id)
        return enrolment

    async def view(enrolment_id: UUID) -> dict[str, Any]:
        enrolment: Enrolment = await worker.call(app.get_enrolment, enrolment_id)
        plan = await worker.call(app.plan_of, enrolment)
        return enrolment_view(enrolment, plan)

    @router.post("/v1/sequences/{sequence_id}/enrolments", status_code=status.HTTP_201_CREATED)
    async def enrol(sequence_id: UUID, body: NewEnrolment, caller: Enroller) -> dict[str, Any]:
        """Connect a lead to the sequence's active version (409: the sequence is not active, or
        the lead is in it already). Its owner is the lead's owner as assignment last said."""
        owner, team = await worker.call(app.owner_of, body.lead_id)
        if not lead_visible(caller, owner, team):
            raise LookupError(f"lead {body.lead_id} not found")
        enrolment_id = await worker.call(
            lambda: app.execute(app.enrol, body.lead_id, sequence_id, actor=caller.actor, via="manual")
        )
        return await view(enrolment_id)

    @router.get("/v1/enrolments/{enrolment_id}")
    async def get_enrolment(enrolment_id: UUID, caller: Worker) -> dict[str, Any]:
        await visible(caller, enrolment_id)
        return await view(enrolment_id)

    @router.delete("/v1/enrolments/{enrolment_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def disconnect(enrolment_id: UUID, caller: Enroller) -> None:
        """Disconnect the lead (cause `disconnected`); an ended enrolment is left as it is."""
        await visible(caller, enrolment_id)
        await worker.call(lambda: app.execute(app.disconnect, enrolment_id, actor=caller.actor))

    @router.get("/v1/leads/{lead_id}/enrolments")
    async def of_lead(lead_id: UUID, caller: Worker) -> dict[str, Any]:
        """Every enrolment of the lead, current ones first: current step, upcoming step, completed steps."""
        owner, team = await worker.call(app.owner_of, lead_id)
        if not lead_visible(caller, owner, team):
            raise LookupError(f"lead {lead_id} not found")
        items = [await view(i) for i in await worker.call(app.enrolment_ids_of, lead_id)]
        items.sort(key=lambda v: (v["status"] != "active", v["enrolled_at"]))
        return {"lead_id": str(lead_id), "items": items}

    @router.post("/v1/enrolments/{enrolment_id}/steps/{step_id}/complete")
    async def complete(enrolment_id: UUID, step_id: StepId, body: Completion, caller: Worker) -> dict[str, Any]:
        """Mark the current manual step done (a call's `outcome`; a note) and go on."""
        await visible(caller, enrolment_id)
        await worker.call(
            lambda: app.execute(
                app.complete, enrolment_id, step_id, actor=caller.actor, outcome=body.outcome, note=body.note
            )
        )
        return await view(enrolment_id)

    @router.post("/v1/enrolments/{enrolment_id}/steps/{step_id}/skip")
    async def skip(enrolment_id: UUID, step_id: StepId, caller: Worker) -> dict[str, Any]:
        """Skip the current step (conditions about it take their No path)."""
        await visible(caller, enrolment_id)
        await worker.call(lambda: app.execute(app.skip, enrolment_id, step_id, actor=caller.actor))
        return await view(enrolment_id)

    @router.post("/v1/enrolments/{enrolment_id}/steps/{step_id}/snooze")
    async def snooze(enrolment_id: UUID, step_id: StepId, body: Snooze, caller: Worker) -> dict[str, Any]:
        """Due again at `until` (e-mail, SMS and call steps; not tasks; at most 30 days)."""
        await visible(caller, enrolment_id)
        await worker.call(lambda: app.execute(app.snooze, enrolment_id, step_id, until=body.until, actor=caller.actor))
        return await view(enrolment_id)

    @router.post("/v1/enrolments/{enrolment_id}/steps/{step_id}/skip-wait")
    async def skip_wait(enrolment_id: UUID, step_id: StepId, caller: Worker) -> dict[str, Any]:
        """End the current wait now: the next step falls due at once."""
        await visible(caller, enrolment_id)
        await worker.call(lambda: app.execute(app.skip_wait, enrolment_id, step_id, actor=caller.actor))
        return await view(enrolment_id)

    @router.post("/v1/enrolments/{enrolment_id}/signals", status_code=status.HTTP_202_ACCEPTED)
    async def signal(enrolment_id: UUID, body: Signal, caller: Signaller) -> dict[str, Any]:
        """An e-mail signal, as on sequences.signals.v1 (422 when the enrolment cannot use it)."""
        occurred_at = body.occurred_at or app.clock.now()
        await worker.call(
            lambda: app.execute(
                app.signal,
                enrolment_id,
                kind=body.kind.value,
                step_id=body.step_id,
                occurred_at=occurred_at,
                source=f"http:{caller.actor}",
            )
        )
        return await view(enrolment_id)

    return router
