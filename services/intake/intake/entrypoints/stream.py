"""intake's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from leadflow_shared.contracts import (
    MAX_INBOUND_BYTES,
    Company,
    Contact,
    ContactLifecycleChangedV1,
    InboundLeadV1,
    IntegrationEvent,
    LeadAssignedV1,
    LeadAwaitingAssignmentV1,
    LeadChangedV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadStatus,
    LeadStatusChangedV1,
    LeadUpdatedV1,
    ReferralAcceptedV1,
    TeamMembershipChangedV1,
)
from leadflow_shared.relay import Mapper, Publication
from leadflow_shared.subscriptions import Route, Subscription
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, LEADS_INBOUND, REFERRALS_EVENTS, SELLERS_EVENTS

from ..application import IntakeApplication
from ..domain import Lead, LeadError, lead_id_for, team_id_for

LeadEvent: Any = Lead  # the @event decorator makes Lead.Received etc. at runtime


def subscriptions(app: IntakeApplication) -> list[Subscription]:
    return [
        Subscription(
            topic=LEADS_INBOUND,
            description="Leads from upstream marketing systems: CloudEvents (binary or structured mode) of type "
            "lead.inbound.v1 or contact.lifecycle-changed.v1, or a bare InboundLeadV1 JSON object.",
            routes={
                InboundLeadV1.cloudevents_type: Route(
                    InboundLeadV1, functools.partial(app.receive_lead, via="kafka"), aggregates=app.looked_up_by
                ),
                ContactLifecycleChangedV1.cloudevents_type: Route(
                    ContactLifecycleChangedV1, app.on_contact_lifecycle_changed
                ),
            },
            bare_type=InboundLeadV1.cloudevents_type,
            ordered=False,
            max_bytes=MAX_INBOUND_BYTES,
            unknown_types="dead_letter",
            refusals=(LeadError,),
            # Upstream input can be sent again once whatever kept failing on it is fixed: after the
            # retry limit, a message that keeps failing (not the store, not the broker) is parked in
            # the dead-letter topic with the error, and the leads after it go on.
            when_stuck="dead_letter",
            personal_data=inbound_subject,
        ),
        Subscription(
            topic=ASSIGNMENTS_EVENTS,
            description="assignment's decisions: intake records each lead's owner (and its return to the "
            "unassigned pool when assignment, deciding again, found nobody).",
            routes={
                LeadAssignedV1.cloudevents_type: Route(
                    LeadAssignedV1, app.on_assignment_decided, lambda decision: [decision.lead_id]
                ),
                LeadAwaitingAssignmentV1.cloudevents_type: Route(
                    LeadAwaitingAssignmentV1, app.on_assignment_waiting, lambda waiting: [waiting.lead_id]
                ),
            },
            refusals=(LeadError,),
        ),
        Subscription(
            topic=SELLERS_EVENTS,
            description="assignment's team membership: intake keeps who is in which team, so a sales "
            "manager sees the leads their team members own.",
            routes={
                TeamMembershipChangedV1.cloudevents_type: Route(
                    TeamMembershipChangedV1,
                    app.on_team_membership_changed,
                    lambda change: [team_id_for(change.team_id)],
                )
            },
        ),
        Subscription(
            topic=REFERRALS_EVENTS,
            description="referral's accepted partner referrals: intake makes a lead of each (the push-down; "
            "source `referral`, external id = the referral id).",
            routes={
                ReferralAcceptedV1.cloudevents_type: Route(
                    ReferralAcceptedV1, app.on_referral_accepted, app.made_of_referral
                )
            },
            # Only the acceptance matters here and it comes once per referral; taking it in twice
            # is recognised as a re-send, so the other referral events need no ordering.
            ordered=False,
            refusals=(LeadError,),
        ),
    ]


def inbound_subject(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> UUID | None:
    """The lead an upstream message is about, read as leniently as possible (its dead letter is
    sealed with that lead's key): a bare lead, a structured or a binary-mode CloudEvent."""
    body = json.loads(value or b"null")
    ce_type: Any = (dict(headers).get("ce_type") or b"").decode("utf-8", "replace")
    if isinstance(body, dict) and "specversion" in body:
        ce_type, body = body.get("type"), body.get("data")
    if not isinstance(body, dict) or not isinstance(body.get("source"), str):
        return None
    if ce_type == ContactLifecycleChangedV1.cloudevents_type:
        contact_id = body.get("contact_id")
        return lead_id_for(body["source"], f"contact:{contact_id}") if isinstance(contact_id, str) else None
    external_id = body.get("external_id")
    return lead_id_for(body["source"], external_id) if isinstance(external_id, str) else None


def _snapshot(e: Any, snapshot: dict[str, Any]) -> dict[str, Any]:
    details = snapshot.get("details") or {}
    return {
        "aggregate_id": e.originator_id,
        "version": e.originator_version,
        "lead_id": e.originator_id,
        "type": snapshot["lead_type"],
        # Personal data stays in intake (encrypted with the lead's key, docs/security.md): no
        # contact details and no company name go out; a subscriber that needs them reads the lead
        # by id. The rest was validated on the way in and is not validated again.
        "contact": Contact(),
        "company": Company.model_construct(**{k: v for k, v in snapshot["company"].items() if k != "name"}),
        "score": snapshot.get("score"),
        "campaign_id": snapshot.get("campaign_id"),
        "lifecycle_stage": details.get("lifecycle_stage"),
        "product_interest": details.get("product_interest"),
        "contact_requested": details.get("contact_requested", False),
        "attributes": details.get("attributes", {}),
    }


def _status(e: Any, action: str, before: str, after: str, **fields: Any) -> LeadStatusChangedV1:
    return LeadStatusChangedV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        lead_id=e.originator_id,
        action=action,
        status_before=LeadStatus(before),
        status_after=LeadStatus(after),
        actor=getattr(e, "actor", None),
        occurred_at=e.at,
        **fields,
    )


def _changed(e: Any, change: str, data: dict[str, Any]) -> LeadChangedV1:
    return LeadChangedV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        lead_id=e.originator_id,
        change=change,
        data=data,
        actor=getattr(e, "actor", None),
        occurred_at=e.at,
    )


def _received(e: Any) -> IntegrationEvent:
    snapshot = {
        "lead_type": e.lead_type,
        "contact": e.contact,
        "company": e.company,
        "score": e.score,
        "campaign_id": e.campaign_id,
        "details": e.details,
    }
    return LeadReceivedV1(
        **_snapshot(e, snapshot),
        source=e.source,
        external_id=e.external_id,
        occurred_at=e.occurred_at,
        received_at=e.received_at,
        owner_id=getattr(e, "owner_id", None),
        created_by=getattr(e, "actor", None),
    )


def _updated(e: Any) -> IntegrationEvent:
    return LeadUpdatedV1(
        **_snapshot(e, e.snapshot),
        source=e.snapshot["source"],
        external_id=e.snapshot["external_id"],
        occurred_at=e.occurred_at,
        changed_fields=sorted(e.changes),
        updated_at=e.at,
    )


def _deleted(e: Any) -> IntegrationEvent:
    return LeadDeletedV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        lead_id=e.originator_id,
        previous_owner_id=e.previous_owner_id,
        reason=e.reason,
        actor=e.actor,
        occurred_at=e.at,
    )


LEAD_EVENTS: dict[type[Any], Mapper] = {
    LeadEvent.Received: _received,
    LeadEvent.UpstreamUpdated: _updated,
    LeadEvent.Assigned: lambda e: _status(
        e,
        "assigned",
        e.status_before,
        "assigned",
        owner_id=e.owner_id,
        team_id=e.team_id,
        previous_owner_id=e.previous_owner_id,
        previous_team_id=e.previous_team_id,
        reason=e.method,
    ),
    LeadEvent.Converted: lambda e: _status(
        e, "converted", "assigned", "converted", owner_id=e.owner_id, team_id=e.team_id, previous_owner_id=e.owner_id
    ),
    LeadEvent.Recycled: lambda e: _status(
        e,
        "recycled",
        "assigned",
        "unassigned",
        previous_owner_id=e.previous_owner_id,
        previous_team_id=e.previous_team_id,
        reason=e.reason,
    ),
    LeadEvent.ClosedInvalid: lambda e: _status(
        e, "closed_invalid", e.status_before, "closed_invalid", previous_owner_id=e.previous_owner_id, reason=e.reason
    ),
    LeadEvent.Voided: lambda e: _status(e, "voided", e.status_before, "voided", reason=e.reason),
    LeadEvent.Unvoided: lambda e: _status(e, "unvoided", "voided", e.restored_status),
    LeadEvent.MergedInto: lambda e: _status(e, "merged", e.status, e.status, related_lead_id=e.survivor_id),
    LeadEvent.Unmerged: lambda e: _status(e, "unmerged", e.status, e.status, related_lead_id=e.survivor_id),
    LeadEvent.Deleted: _deleted,
    LeadEvent.StageMoved: lambda e: _changed(
        e, "stage_moved", {"from_stage": e.from_stage, "to_stage": e.to_stage, "reason": e.reason}
    ),
    LeadEvent.Unassigned: lambda e: _status(
        e,
        "unassigned",
        "assigned",
        "unassigned",
        previous_owner_id=e.previous_owner_id,
        previous_team_id=e.previous_team_id,
        reason=e.reason,
    ),
    LeadEvent.Qualified: lambda e: _changed(
        e,
        "qualified",
        {
            "deal": e.deal,
            "deal_id": str(e.deal_id) if e.deal_id else None,
            "status_before": e.status_before,
            "status_after": "qualified" if e.status_before else None,
        },
    ),
    LeadEvent.Disqualified: lambda e: _changed(
        e,
        "disqualified",
        {
            "reason_id": e.reason_id,
            "reason": e.reason_label,
            "note_length": len(e.note or ""),
            "status_before": e.status_before,
            "status_after": "disqualified" if e.status_before else None,
        },
    ),
    LeadEvent.Reopened: lambda e: _changed(
        e, "reopened", {"from_status": e.from_status, "restored_status": e.restored_status, "reason": e.reason}
    ),
    LeadEvent.FollowedUp: lambda e: _changed(e, "followed_up", {"note_length": len(e.note)}),
    LeadEvent.DocumentLinked: lambda e: _changed(e, "document_linked", {"kind": e.kind, "number": e.number}),
    LeadEvent.DocumentUnlinked: lambda e: _changed(e, "document_unlinked", {"kind": e.kind, "number": e.number}),
    LeadEvent.MarkedPossibleDuplicate: lambda e: _changed(
        e, "marked_possible_duplicate", {"lead_ids": e.lead_ids, "customer_ids": e.customer_ids}
    ),
    LeadEvent.Associated: lambda e: _changed(
        e, "associated", {"kind": e.kind, "id": e.target_id, "lifecycle_stage": e.lifecycle_stage}
    ),
    LeadEvent.Absorbed: lambda e: _changed(e, "absorbed", {"merged_lead_id": str(e.merged_id)}),
    LeadEvent.Released: lambda e: _changed(e, "released", {"merged_lead_id": str(e.merged_id)}),
    LeadEvent.Erased: lambda e: _changed(e, "erased", {}),
}
"""Every change to a lead goes out on leads.events.v1, except favorites (per-user, not a change
to the lead) and ignored upstream re-sends (nothing changed)."""


class LeadIdentities:
    """Every published lead event names the lead's upstream source and external id.

    Only Received/Updated carry them in the domain event; for the rest the (immutable) identity
    is remembered from those, or looked up once per lead. Runs on the store thread.
    """

    def __init__(self, app: IntakeApplication, remembered: int = 20_000) -> None:
        self._app = app
        self._known: OrderedDict[UUID, tuple[str, str]] = OrderedDict()
        self._remembered = remembered

    def __call__(self, event: IntegrationEvent) -> IntegrationEvent:
        source = getattr(event, "source", None)
        if source is not None:
            self._remember(event.aggregate_id, (source, getattr(event, "external_id", "")))
            return event
        if "source" not in type(event).model_fields:
            return event
        known = self._known.get(event.aggregate_id)
        if known is None:
            # The identity is set once, by the event that created the lead: read that one alone.
            created: Any = next(iter(self._app.events.get(event.aggregate_id, lte=1)))
            known = (created.source, created.external_id)
            self._remember(event.aggregate_id, known)
        return event.model_copy(update={"source": known[0], "external_id": known[1]})

    def _remember(self, lead_id: UUID, identity: tuple[str, str]) -> None:
        self._known[lead_id] = identity
        self._known.move_to_end(lead_id)
        if len(self._known) > self._remembered:
            self._known.popitem(last=False)


def publications(app: IntakeApplication) -> list[Publication]:
    return [
        Publication(
            topic=LEADS_EVENTS,
            mappers=LEAD_EVENTS,
            contracts=(LeadReceivedV1, LeadUpdatedV1, LeadStatusChangedV1, LeadDeletedV1, LeadChangedV1),
            description="Every change to a lead (key and subject = lead id; in order per lead).",
            enrich=LeadIdentities(app),
        )
    ]


def to_integration_event(domain_event: Any) -> IntegrationEvent | None:
    """The integration event a stored Lead event becomes on leads.events.v1, before the relay adds
    the identifiers it lacks (tests, tools); None for events that stay inside the service."""
    mapper = LEAD_EVENTS.get(type(domain_event))
    return mapper(domain_event) if mapper is not None else None
