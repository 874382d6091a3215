"""Lead routes: take in, read, and every lifecycle command."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from leadflow_shared.auth import Principal, Role
from leadflow_shared.auth.http import require
from leadflow_shared.contracts import ContactLifecycleChangedV1, InboundLeadV1
from leadflow_shared.store import StoreWorker
from leadflow_shared.timetravel import AsOf

from ...application import DealNotFound, IntakeApplication, LeadNotFound
from ...domain import Lead
from ...projections import LeadReadModel, contact_view, deal_view, event_view, lead_view
from .visibility import LeadVisibility

LeadEvent: Any = Lead  # the @event decorator makes Lead.FavoriteToggled etc. at runtime

Creator = Annotated[Principal, Depends(require("leads:create"))]
ContactSync = Annotated[Principal, Depends(require("contacts:write"))]
Reader = Annotated[Principal, Depends(require("leads:read"))]
Worker = Annotated[Principal, Depends(require("leads:work"))]
Manager = Annotated[Principal, Depends(require("leads:manage"))]
Eraser = Annotated[Principal, Depends(require("leads:erase"))]
Addresser = Annotated[Principal, Depends(require("leads:contact"))]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reason(Body):
    reason: str | None = Field(default=None, max_length=1000)


class RequiredReason(Body):
    reason: str = Field(min_length=1, max_length=1000)


class Convert(Body):
    link_to_customer_id: UUID | None = None


class FollowUp(Body):
    note: str = Field(min_length=1, max_length=4000)
    channel: Literal["note", "call", "email", "meeting"] = "note"


class Document(Body):
    kind: Literal["quote", "order"]
    number: str = Field(min_length=1, max_length=100)


class StageMove(Body):
    stage_id: str = Field(min_length=1, max_length=100)


class Deal(Body):
    name: str = Field(min_length=1, max_length=200)
    amount: float = Field(ge=0, allow_inf_nan=False)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code; default USD")


class NewLead(InboundLeadV1):
    """A lead posted over HTTP. `owner_id` makes it that seller's from the start (a sales
    manager or admin may name any seller; a seller's own lead is always theirs)."""

    owner_id: str | None = Field(default=None, min_length=1, max_length=100)


class Qualify(Body):
    deal: Deal | None = None


class Disqualify(Body):
    reason_id: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=1000)


class Association(Body):
    kind: Literal["contact", "company"]
    id: str = Field(min_length=1, max_length=200)


class Merge(Body):
    merged_lead_id: UUID


def owner_for(caller: Principal, lead: NewLead) -> str | None:
    """Who owns a lead posted over HTTP from the start: a seller's own lead is theirs; a sales
    manager or admin may name an owner; an integration may not (assignment decides)."""
    if caller.has(Role.ADMIN) or caller.has(Role.SALES_MANAGER):
        return lead.owner_id
    if caller.has(Role.SELLER):
        if lead.owner_id not in (None, caller.subject):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a seller creates leads for themselves: owner_id")
        return caller.subject
    if lead.owner_id is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "owner_id needs a sales manager or admin")
    return None


def leads_router(
    app: IntakeApplication, worker: StoreWorker, read_model: LeadReadModel, *, self_assignment: bool = False
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["leads"])

    async def view(lead_id: UUID, viewer: str | None = None) -> dict[str, Any]:
        """The lead; with `viewer`, also whether it is in the viewer's own favorites."""
        return lead_view(await worker.call(app.get_lead, lead_id), viewer)

    visibility = LeadVisibility(app, worker, read_model, self_assignment=self_assignment)

    async def may(caller: Principal, lead_id: UUID) -> None:
        """A lead the caller may not see is answered exactly like one that does not exist."""
        if not await visibility.sees(caller, lead_id):
            raise LeadNotFound(lead_id)

    @router.post("/leads", status_code=status.HTTP_201_CREATED)
    async def post_lead(inbound: NewLead, response: Response, caller: Creator) -> dict[str, Any]:
        """Take in one lead. 201 created; 200 when it updated an existing lead or was a re-send.
        A lead a seller creates is theirs (assignment records a manual assignment); a sales
        manager or admin may give it an owner with `owner_id`."""
        receipt = await worker.call(
            app.execute, app.receive_lead, inbound, via="http", owner_id=owner_for(caller, inbound), actor=caller.actor
        )
        if not receipt.created:
            response.status_code = status.HTTP_200_OK
        return {"created": receipt.created, "outcome": receipt.outcome, "lead": await view(receipt.lead_id)}

    @router.post("/contacts/lifecycle-changes", tags=["contacts"])
    async def contact_lifecycle_changed(change: ContactLifecycleChangedV1, caller: ContactSync) -> dict[str, Any]:
        """An upstream contact's lifecycle stage changed; may auto-create a lead (once)."""
        lead_id = await worker.call(app.execute, app.on_contact_lifecycle_changed, change)
        return {"lead_id": str(lead_id) if lead_id else None}

    @router.get("/leads/{lead_id}")
    async def get_lead(lead_id: UUID, caller: Reader, as_of: AsOf = None) -> dict[str, Any]:
        """The lead now, or with `as_of` as its stream had recorded it then (status, owner,
        stage, type, qualification, voided, merged…), rebuilt from its events."""
        await may(caller, lead_id)
        if as_of is None:
            return await view(lead_id, caller.actor)
        lead_then = await worker.call(app.get_lead_as_of, lead_id, as_of)
        return lead_view(lead_then, caller.actor) | {"as_of": as_of.isoformat()}

    @router.get("/leads/{lead_id}/contact")
    async def get_lead_contact(lead_id: UUID, caller: Addresser) -> dict[str, Any]:
        """The lead's fields to address and render a message to its person (sequence's mailer,
        with an API key of scope `leads:contact`): email, names, phone, job title, company name
        — the personal data `leads.events.v1` never carries — and the non-personal fields a
        template may use. A deleted lead, or one whose personal data was erased, is 404."""
        return contact_view(await worker.call(app.get_lead_to_contact, lead_id))

    @router.get("/leads/{lead_id}/events")
    async def get_lead_events(lead_id: UUID, caller: Reader) -> list[dict[str, Any]]:
        """The lead's whole stream, in order: what happened, when, who and why. Favorites are
        each user's own: another user's FavoriteToggled is left out."""
        await may(caller, lead_id)
        history = await worker.call(app.lead_history, lead_id)
        return [event_view(e) for e in history if _shown_to(caller, e)]

    @router.post("/leads/{lead_id}/convert")
    async def convert(lead_id: UUID, body: Convert, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        customer_id = await worker.call(
            app.execute, app.convert, lead_id, actor=actor, link_to_customer=body.link_to_customer_id
        )
        return {"customer_id": str(customer_id), "lead": await view(lead_id)}

    @router.post("/leads/{lead_id}/recycle")
    async def recycle(lead_id: UUID, body: Reason, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.recycle, lead_id, actor=actor, reason=body.reason)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/close-invalid")
    async def close_invalid(lead_id: UUID, body: RequiredReason, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.close_invalid, lead_id, actor=actor, reason=body.reason)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/void")
    async def void(lead_id: UUID, body: Reason, caller: Manager) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.void, lead_id, actor=actor, reason=body.reason)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/unvoid")
    async def unvoid(lead_id: UUID, caller: Manager) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.unvoid, lead_id, actor=actor)
        return await view(lead_id)

    @router.delete("/leads/{lead_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete(lead_id: UUID, caller: Manager, reason: str | None = None) -> Response:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.delete, lead_id, actor=actor, reason=reason)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post("/leads/{lead_id}/follow-ups", status_code=status.HTTP_201_CREATED)
    async def follow_up(lead_id: UUID, body: FollowUp, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.follow_up, lead_id, actor=actor, note=body.note, channel=body.channel)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/documents", status_code=status.HTTP_201_CREATED)
    async def link_document(lead_id: UUID, body: Document, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.link_document, lead_id, actor=actor, kind=body.kind, number=body.number)
        return await view(lead_id)

    # `:path`: a number may hold a slash (`O/7`, sent as O%2F7), which the router sees decoded.
    @router.delete("/leads/{lead_id}/documents/{number:path}")
    async def unlink_document(
        lead_id: UUID, number: Annotated[str, Path(min_length=1, max_length=100)], caller: Worker
    ) -> dict[str, Any]:
        """Unlink a quote or order (event DocumentUnlinked); 404 when no document with this
        number is linked to the lead."""
        await may(caller, lead_id)
        await worker.call(app.execute, app.unlink_document, lead_id, actor=caller.actor, number=number)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/stage")
    async def move_stage(lead_id: UUID, body: StageMove, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.move_stage, lead_id, actor=actor, stage_id=body.stage_id)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/qualify")
    async def qualify(lead_id: UUID, body: Qualify, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        deal = body.deal.model_dump() if body.deal else None
        await worker.call(app.execute, app.qualify, lead_id, actor=actor, deal=deal)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/reopen")
    async def reopen(lead_id: UUID, body: Reason, caller: Worker) -> dict[str, Any]:
        """A qualified or disqualified lead back to the open status it left (an event);
        assignment decides its owner again (the previous one if they still have room)."""
        await may(caller, lead_id)
        await worker.call(app.execute, app.reopen, lead_id, actor=caller.actor, reason=body.reason)
        return await view(lead_id)

    @router.get("/deals/{deal_id}", tags=["deals"])
    async def get_deal(deal_id: UUID, caller: Reader) -> dict[str, Any]:
        """A deal created by qualifying a lead: name, amount, currency, lead, owner, who created it."""
        deal = await worker.call(app.get_deal, deal_id)
        try:
            await may(caller, deal.lead_id)
        except LeadNotFound:
            raise DealNotFound(deal_id) from None
        return deal_view(deal)

    @router.post("/leads/{lead_id}/disqualify")
    async def disqualify(lead_id: UUID, body: Disqualify, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.disqualify, lead_id, actor=actor, reason_id=body.reason_id, note=body.note)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/associations", status_code=status.HTTP_201_CREATED)
    async def associate(lead_id: UUID, body: Association, caller: Worker) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.associate, lead_id, actor=actor, kind=body.kind, target_id=body.id)
        return await view(lead_id)

    @router.post("/leads/{lead_id}/merge")
    async def merge(lead_id: UUID, body: Merge, caller: Manager) -> dict[str, Any]:
        """Merge `merged_lead_id` into this lead. Both streams stay; unmerge restores both."""
        await may(caller, lead_id)
        await may(caller, body.merged_lead_id)
        actor = caller.actor
        await worker.call(app.execute, app.merge, lead_id, body.merged_lead_id, actor=actor)
        return {"survivor": await view(lead_id), "merged": await view(body.merged_lead_id)}

    @router.post("/leads/{lead_id}/unmerge")
    async def unmerge(lead_id: UUID, caller: Manager) -> dict[str, Any]:
        await may(caller, lead_id)
        actor = caller.actor
        survivor_id = await worker.call(app.execute, app.unmerge, lead_id, actor=actor)
        return {"survivor": await view(survivor_id), "merged": await view(lead_id)}

    @router.post("/leads/{lead_id}/erasure")
    async def erase(lead_id: UUID, caller: Eraser, body: Reason | None = None) -> dict[str, Any]:
        """Erase the lead's personal data (admin): its data key is destroyed, so its contact
        details, company name and notes are unreadable in every stored event, snapshot and dead
        letter; the read models are scrubbed. Its non-personal history stays and still loads,
        deleted leads included. Erasing again changes nothing (`already_erased`)."""
        erasure = await worker.call(
            app.execute, app.erase, lead_id, actor=caller.actor, reason=body.reason if body else None
        )
        return {
            "lead_id": str(lead_id),
            "erased_at": erasure.erased_at.isoformat(),
            "already_erased": erasure.already_erased,
        }

    @router.put("/leads/{lead_id}/favorite")
    async def favorite(lead_id: UUID, caller: Worker) -> dict[str, Any]:
        """Put the lead in the caller's favorites. Idempotent: again, it changes nothing and
        records nothing. Nobody else sees whose favorite a lead is."""
        return await set_favorite(lead_id, caller, on=True)

    @router.delete("/leads/{lead_id}/favorite")
    async def unfavorite(lead_id: UUID, caller: Worker) -> dict[str, Any]:
        """Take the lead out of the caller's favorites (idempotent)."""
        return await set_favorite(lead_id, caller, on=False)

    async def set_favorite(lead_id: UUID, caller: Principal, *, on: bool) -> dict[str, Any]:
        await may(caller, lead_id)
        await worker.call(app.execute, app.set_favorite, lead_id, user_id=caller.actor, on=on)
        return {"lead_id": str(lead_id), "favorite": on}

    return router


def _shown_to(caller: Principal, event: Any) -> bool:
    """Favorites are per user: a FavoriteToggled is shown only to the user it is about."""
    return not isinstance(event, LeadEvent.FavoriteToggled) or event.user_id == caller.actor
