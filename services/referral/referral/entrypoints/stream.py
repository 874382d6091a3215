"""referral's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from leadflow_shared.contracts import (
    REFERRAL_EVENTS,
    InboundReferralV1,
    IntegrationEvent,
    LeadReceivedV1,
    ReferralAcceptedV1,
    ReferralContactFlagChangedV1,
    ReferralDeclinedV1,
    ReferralExpiredV1,
    ReferralLostV1,
    ReferralReceivedV1,
    ReferralTeamMemberAddedV1,
    ReferralUpdatedV1,
    ReferralWonV1,
)
from leadflow_shared.contracts.referrals import MAX_REFERRAL_BYTES
from leadflow_shared.relay import Mapper, Publication
from leadflow_shared.subscriptions import Route, Subscription
from leadflow_shared.topics import LEADS_EVENTS, REFERRALS_EVENTS, REFERRALS_INBOUND

from ..application import ReferralApplication
from ..domain import Referral, ReferralError, referral_id_for

ReferralEvent: Any = Referral
PUBLISHED_TOPICS = (REFERRALS_EVENTS,)


def subscriptions(app: ReferralApplication) -> list[Subscription]:
    return [
        Subscription(
            topic=REFERRALS_INBOUND,
            description="Referrals from their senders: CloudEvents (binary or structured mode) of type "
            "referral.inbound.v1, or a bare InboundReferralV1 JSON object.",
            routes={
                InboundReferralV1.cloudevents_type: Route(
                    InboundReferralV1,
                    lambda uow, inbound: app.receive(uow, inbound, via="kafka"),
                    aggregates=app.looked_up_by,
                )
            },
            bare_type=InboundReferralV1.cloudevents_type,
            ordered=False,
            max_bytes=MAX_REFERRAL_BYTES,
            unknown_types="dead_letter",
            refusals=(ReferralError,),
            when_stuck="dead_letter",
            personal_data=inbound_subject,
        ),
        Subscription(
            topic=LEADS_EVENTS,
            description="intake's new leads: a lead made of an accepted referral (source `referral`) is "
            "linked to it (the referral records the lead's id).",
            routes={
                LeadReceivedV1.cloudevents_type: Route(LeadReceivedV1, app.on_lead_received, app.linked_by),
            },
            ordered=False,
            refusals=(ReferralError,),
        ),
    ]


def inbound_subject(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> UUID | None:
    """The referral an inbound message is about, read leniently (its dead letter is sealed with
    that referral's key)."""
    body = json.loads(value or b"null")
    if isinstance(body, dict) and "specversion" in body:
        body = body.get("data")
    if not isinstance(body, dict):
        return None
    sender, reference = body.get("sender"), body.get("external_reference_id")
    if isinstance(sender, str) and isinstance(reference, str):
        return referral_id_for(sender, reference)
    return None


def _base(e: Any, status: str, substatus: str) -> dict[str, Any]:
    """What every referral event carries; sender and target are added by `ReferralIdentities`."""
    return {
        "aggregate_id": e.originator_id,
        "version": e.originator_version,
        "referral_id": e.originator_id,
        "target_org": "",
        "sender": "",
        "external_reference_id": "",
        "status": status,
        "substatus": substatus,
        "occurred_at": getattr(e, "at", None),
    }


def _received(e: Any) -> IntegrationEvent:
    return ReferralReceivedV1(
        **{
            **_base(e, "new", "received"),
            "target_org": e.target_org,
            "sender": e.sender,
            "external_reference_id": e.external_reference_id,
        },
        qualification=e.details.get("qualification", "direct"),
        type=e.details.get("type", "independent"),
        expires_at=e.expires_at,
        contact_requested=e.contact_requested,
    )


def _accepted(e: Any) -> IntegrationEvent:
    deal = e.deal
    return ReferralAcceptedV1.model_construct(
        **_base(e, "active", "accepted"),
        previous_version=None,
        qualification="direct",
        deal_name=deal["deal_name"],
        deal_value=deal["deal_value"],
        closing_date=deal["closing_date"],
        crm_id=deal.get("crm_id"),
        campaign_id=deal.get("campaign_id"),
        customer={},
        contact_requested=False,
        actor=e.actor,
    )


def _closed(e: Any) -> IntegrationEvent:
    base = _base(e, "closed", e.substatus)
    if e.substatus == "declined":
        return ReferralDeclinedV1(
            **base, reason=e.reason, reason_label=e.reason, has_notes=bool(e.notes), actor=e.actor
        )
    if e.substatus == "won":
        return ReferralWonV1(**base, actor=e.actor)
    if e.substatus == "lost":
        return ReferralLostV1(**base, reason=e.reason, actor=e.actor)
    return ReferralExpiredV1(**base, expires_at=e.at)


def _updated(e: Any) -> IntegrationEvent:
    fields = {k: v for k, v in e.changes.items() if k != "notes"}
    return ReferralUpdatedV1(**_base(e, "active", "accepted"), changed=sorted(e.changes), **fields, actor=e.actor)


REFERRAL_MAPPERS: dict[type[Any], Mapper] = {
    ReferralEvent.Received: _received,
    ReferralEvent.Accepted: _accepted,
    ReferralEvent.Closed: _closed,
    ReferralEvent.Updated: _updated,
    ReferralEvent.TeamMemberAdded: lambda e: ReferralTeamMemberAddedV1(
        **_base(e, "active", "accepted"), team_size=0, actor=e.actor
    ),
    ReferralEvent.ContactFlagChanged: lambda e: ReferralContactFlagChangedV1(**_base(e, "", ""), urgent=e.urgent),
}
"""Every change to a referral goes out on referrals.events.v1; deadlines, favorites and the link to
intake's lead stay inside the service."""


class ReferralFacts:
    """Completes each outgoing event from the referral as stored: its identity (sender, external
    reference, organisation), its status, and what an event needs beyond its own data (the accepted
    referral's customer and qualification, the decline reason's label, the team's size). Runs on the
    store thread."""

    def __init__(self, app: ReferralApplication) -> None:
        self._app = app

    def __call__(self, event: IntegrationEvent) -> IntegrationEvent:
        if isinstance(event, ReferralReceivedV1):
            return event  # made whole from its own domain event: nothing to load
        referral: Referral = self._app.repository.get(event.aggregate_id, version=event.version)
        update: dict[str, Any] = {
            "target_org": referral.target_org,
            "sender": referral.sender,
            "external_reference_id": referral.external_reference_id,
            "status": referral.status,
            "substatus": referral.substatus,
        }
        if isinstance(event, ReferralAcceptedV1):
            update.update(
                qualification=referral.qualification,
                customer=referral.customer,
                contact_requested=referral.contact_requested,
            )
            # the mapper made it without validation (it lacked these): validated here, whole
            return ReferralAcceptedV1.model_validate({**event.__dict__, **update})
        if isinstance(event, ReferralDeclinedV1):
            reasons = {r["id"]: r["label"] for r in self._app.decline_reasons(referral.target_org)}
            update["reason_label"] = reasons.get(event.reason, event.reason)
        if isinstance(event, ReferralTeamMemberAddedV1):
            update["team_size"] = len(referral.team_members)
        return event.model_copy(update=update)


def publications(app: ReferralApplication) -> list[Publication]:
    return [
        Publication(
            topic=REFERRALS_EVENTS,
            mappers=REFERRAL_MAPPERS,
            contracts=REFERRAL_EVENTS,
            description="Every change to a referral (key and subject = referral id; in order per referral). "
            "Only referral.accepted.v1 carries personal data (the customer, for the push-down to intake).",
            enrich=ReferralFacts(app),
        )
    ]
