"""Referral routes: receive, read (now, as of a time, its events), answer, work, favorites.

Every change takes `If-Match` with the referral's current ETag (its version, returned as the
`ETag` header by every read and change): a stale one → 412 with the current ETag; PATCH without
one → 428. Without `If-Match`, an answer or action applies to the referral as it is.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from leadflow_shared.auth import Principal
from leadflow_shared.auth.http import require
from leadflow_shared.contracts import InboundReferralV1
from leadflow_shared.contracts.base import Identifier, LongText, ShortText
from leadflow_shared.contracts.referrals import ContactPreference, Money, Person
from leadflow_shared.store import StoreWorker
from leadflow_shared.timetravel import AsOf

from ...application import ReferralApplication
from ...domain import EDITABLE
from ...projections import event_view, referral_view
from .access import check_visible

Sender = Annotated[Principal, Depends(require("referrals:receive"))]
Reader = Annotated[Principal, Depends(require("referrals:read"))]
Worker = Annotated[Principal, Depends(require("referrals:work"))]
TeamAdmin = Annotated[Principal, Depends(require("referrals:team"))]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='the ETag of the referral as the caller read it (e.g. "4")'),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accept(Body):
    deal_name: Identifier
    deal_value: Money
    closing_date: date
    """The estimated closing date (purchase timeframe)."""
    notes: LongText | None = None
    crm_id: ShortText | None = None
    campaign_id: ShortText | None = None
    contacts: Annotated[list[Person], Field(max_length=20)] = Field(default_factory=list)
    """Extra customer contacts."""


class Decline(Body):
    reason: Identifier
    """The id of one of the organisation's decline reasons (GET /v1/settings/referrals/decline-reasons)."""
    notes: LongText | None = None


class Lost(Body):
    reason: Identifier


class TeamMember(Body):
    first_name: Identifier
    last_name: Identifier
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    contact_preference: ContactPreference = ContactPreference.email


class PatchOperation(Body):
    """One RFC 6902 operation (only `replace` and `add` are accepted)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    op: Annotated[str, Field(max_length=20)]
    path: Annotated[str, Field(max_length=200)]
    value: Any = None
    from_: Annotated[str | None, Field(alias="from", max_length=200)] = None


PATCH_VALUES: dict[str, TypeAdapter[Any]] = {
    "deal_name": TypeAdapter(Identifier),
    "closing_date": TypeAdapter(date),
    "deal_value": TypeAdapter(Money),
    "notes": TypeAdapter(LongText | None),
    "crm_id": TypeAdapter(ShortText | None),
    "campaign_id": TypeAdapter(ShortText | None),
}
assert set(PATCH_VALUES) == set(EDITABLE)


def patch_changes(operations: list[PatchOperation]) -> dict[str, Any]:
    """A JSON Patch (RFC 6902) as deal changes: only `replace` and `add`, only on the editable
    paths; anything else is refused naming the operation's place in the patch."""
    changes: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    for i, operation in enumerate(operations):
        if operation.op not in ("replace", "add"):
            problems.append(_problem(i, "op", f"{operation.op!r} is not allowed; use replace or add", operation.op))
            continue
        name = operation.path[1:] if operation.path.startswith("/") else None
        if name not in PATCH_VALUES:
            allowed = ", ".join(f"/{p}" for p in EDITABLE)
            problems.append(
                _problem(i, "path", f"{operation.path!r} cannot be changed; editable: {allowed}", operation.path)
            )
            continue
        try:
            value = PATCH_VALUES[name].validate_python(operation.value)
        except ValidationError as exc:
            problems.append(_problem(i, "value", exc.errors()[0]["msg"], operation.value))
            continue
        changes[name] = PATCH_VALUES[name].dump_python(value, mode="json")
    if problems:
        raise RequestValidationError(problems)
    return changes


def _problem(index: int, field: str, message: str, value: Any) -> dict[str, Any]:
    return {"type": "json_patch", "loc": ("body", index, field), "msg": message, "input": value}


def version_of(if_match: str | None, *, required: bool = False) -> int | None:
    """The version an `If-Match` names (None: none given, or `*`)."""
    if if_match is None:
        if required:
            raise HTTPException(428, detail="If-Match is required: send the ETag of the referral as you read it")
        return None
    value = if_match.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise HTTPException(412, detail=f"If-Match {if_match!r} is not an ETag of this referral")
    return int(value)


def referrals_router(app: ReferralApplication, worker: StoreWorker) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["referrals"])

    async def current(referral_id: UUID, response: Response) -> dict[str, Any]:
        view = referral_view(await worker.call(app.get_referral, referral_id))
        response.headers["ETag"] = view["etag"]
        return view

    async def act(
        referral_id: UUID, response: Response, caller: Principal, use_case: Any, **kwargs: Any
    ) -> dict[str, Any]:
        await check_visible(app, worker, caller, referral_id)
        await worker.call(lambda: app.execute(use_case, referral_id, actor=caller.actor, **kwargs))
        return await current(referral_id, response)

    @router.post("/referrals", status_code=status.HTTP_201_CREATED)
    async def receive(inbound: InboundReferralV1, response: Response, caller: Sender) -> dict[str, Any]:
        """Take in one referral (senders: API keys with scope `referrals:write`, admins). 201 created;
        200 when the sender sent this (sender, external_reference_id) before (nothing changes)."""
        receipt = await worker.call(app.execute, app.receive, inbound, via="http")
        if not receipt.created:
            response.status_code = status.HTTP_200_OK
        return {"created": receipt.created, "referral": await current(receipt.referral_id, response)}

    @router.get("/referrals/{referral_id}")
    async def get_referral(referral_id: UUID, response: Response, caller: Reader, as_of: AsOf = None) -> dict[str, Any]:
        """The referral now (with its `ETag`), or with `as_of` as its stream had recorded it then."""
        await check_visible(app, worker, caller, referral_id)
        if as_of is None:
            return await current(referral_id, response)
        past = referral_view(await worker.call(app.get_referral_as_of, referral_id, as_of))
        return past | {"as_of": as_of.isoformat()}

    @router.get("/referrals/{referral_id}/events")
    async def get_events(referral_id: UUID, caller: Reader) -> list[dict[str, Any]]:
        """The referral's whole stream, in order: what happened, when, who and why."""
        await check_visible(app, worker, caller, referral_id)
        return [event_view(e) for e in await worker.call(app.history, referral_id)]

    @router.post("/referrals/{referral_id}/accept")
    async def accept(
        referral_id: UUID, body: Accept, response: Response, caller: Worker, if_match: IfMatch = None
    ) -> dict[str, Any]:
        """Accept with the deal: name, estimated value and closing date are required → active/accepted.
        intake then makes a lead of it (linked both ways by id)."""
        deal = body.model_dump(mode="json", exclude_none=True)
        if not deal.get("contacts"):
            deal.pop("contacts", None)
        return await act(referral_id, response, caller, app.accept, deal=deal, if_match=version_of(if_match))

    @router.post("/referrals/{referral_id}/decline")
    async def decline(
        referral_id: UUID, body: Decline, response: Response, caller: Worker, if_match: IfMatch = None
    ) -> dict[str, Any]:
        """Decline with one of the organisation's reasons (an unknown one → 422) → closed/declined."""
        return await act(
            referral_id,
            response,
            caller,
            app.decline,
            reason=body.reason,
            notes=body.notes,
            if_match=version_of(if_match),
        )

    @router.patch("/referrals/{referral_id}")
    async def patch(
        referral_id: UUID,
        operations: Annotated[list[PatchOperation], Field(max_length=20)],
        response: Response,
        caller: Worker,
        if_match: IfMatch = None,
    ) -> dict[str, Any]:
        """Edit an accepted referral's deal (JSON Patch: `replace` or `add` on /deal_name,
        /closing_date, /deal_value, /notes, /crm_id, /campaign_id). Needs If-Match."""
        version = version_of(if_match, required=True)
        changes = patch_changes(operations)
        return await act(referral_id, response, caller, app.update, changes=changes, if_match=version)

    @router.post("/referrals/{referral_id}/team-members", status_code=status.HTTP_201_CREATED)
    async def add_team_member(
        referral_id: UUID, body: TeamMember, response: Response, caller: TeamAdmin, if_match: IfMatch = None
    ) -> dict[str, Any]:
        member = body.model_dump(mode="json", exclude_none=True)
        return await act(
            referral_id, response, caller, app.add_team_member, member=member, if_match=version_of(if_match)
        )

    @router.post("/referrals/{referral_id}/won")
    async def won(referral_id: UUID, response: Response, caller: Worker, if_match: IfMatch = None) -> dict[str, Any]:
        return await act(referral_id, response, caller, app.win, if_match=version_of(if_match))

    @router.post("/referrals/{referral_id}/lost")
    async def lost(
        referral_id: UUID, body: Lost, response: Response, caller: Worker, if_match: IfMatch = None
    ) -> dict[str, Any]:
        return await act(referral_id, response, caller, app.lose, reason=body.reason, if_match=version_of(if_match))

    @router.put("/referrals/{referral_id}/favorite")
    async def favorite(referral_id: UUID, caller: Worker) -> dict[str, Any]:
        """Add to the caller's favorites (idempotent; nobody else sees them)."""
        return await _favorite(referral_id, caller, on=True)

    @router.delete("/referrals/{referral_id}/favorite")
    async def unfavorite(referral_id: UUID, caller: Worker) -> dict[str, Any]:
        return await _favorite(referral_id, caller, on=False)

    async def _favorite(referral_id: UUID, caller: Principal, *, on: bool) -> dict[str, Any]:
        await check_visible(app, worker, caller, referral_id)
        await worker.call(app.execute, app.set_favorite, referral_id, user=caller.subject, on=on)
        return {"referral_id": str(referral_id), "favorite": on}

    return router
