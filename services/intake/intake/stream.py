"""intake's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from pydantic import BaseModel, ValidationError

from leadflow_shared.cloudevents import EnvelopeError, from_kafka
from leadflow_shared.consumer import Delivery, Handler
from leadflow_shared.contracts import (
    MAX_INBOUND_BYTES,
    Company,
    Contact,
    ContactLifecycleChangedV1,
    InboundLeadV1,
    IntegrationEvent,
    LeadAssignedV1,
    LeadChangedV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadStatus,
    LeadStatusChangedV1,
    LeadUpdatedV1,
)
from leadflow_shared.deadletters import InvalidMessage
from leadflow_shared.relay import EventMapper
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, LEADS_INBOUND

from .application import IntakeApplication
from .domain import Lead

INBOUND_TYPES: dict[str, type[BaseModel]] = {
    InboundLeadV1.cloudevents_type: InboundLeadV1,
    ContactLifecycleChangedV1.cloudevents_type: ContactLifecycleChangedV1,
}


def parse_inbound_message(value: bytes | None, headers: list[tuple[str, bytes]]) -> BaseModel:
    """A binary or structured CloudEvent of an inbound type, or a bare InboundLeadV1 object."""
    if value is not None and len(value) > MAX_INBOUND_BYTES:
        raise InvalidMessage(f"payload of {len(value)} bytes exceeds {MAX_INBOUND_BYTES}")
    try:
        envelope = from_kafka(value, headers)
    except EnvelopeError as exc:
        raise InvalidMessage(str(exc)) from None
    model = INBOUND_TYPES.get(envelope.type or InboundLeadV1.cloudevents_type)
    if model is None:
        raise InvalidMessage(f"unexpected CloudEvents type {envelope.type!r}; accepted: {', '.join(INBOUND_TYPES)}")
    try:
        return model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidMessage.from_validation_error(exc) from None


def parse_inbound(value: bytes | None, headers: list[tuple[str, bytes]]) -> InboundLeadV1:
    message = parse_inbound_message(value, headers)
    if not isinstance(message, InboundLeadV1):
        raise InvalidMessage(f"expected {InboundLeadV1.cloudevents_type}")
    return message


def subscriptions(app: IntakeApplication) -> dict[str, Handler]:
    def on_inbound(delivery: Delivery) -> None:
        message = parse_inbound_message(delivery.value, delivery.headers)
        if isinstance(message, ContactLifecycleChangedV1):
            app.on_contact_lifecycle_changed(message, tracking=delivery.tracking)
        else:
            assert isinstance(message, InboundLeadV1)
            app.receive_lead(message, via="kafka", tracking=delivery.tracking)

    def on_assignment(delivery: Delivery) -> None:
        try:
            envelope = from_kafka(delivery.value, delivery.headers)
        except EnvelopeError as exc:
            raise InvalidMessage(str(exc)) from None
        if envelope.type != LeadAssignedV1.cloudevents_type:
            app.recorder.insert_tracking(delivery.tracking)  # other assignment events are not intake's
            return
        try:
            decision = LeadAssignedV1.model_validate(envelope.data)
        except ValidationError as exc:
            raise InvalidMessage.from_validation_error(exc) from None
        app.on_assignment_decided(decision, tracking=delivery.tracking)

    return {LEADS_INBOUND: on_inbound, ASSIGNMENTS_EVENTS: on_assignment}


def _snapshot(e: Any, snapshot: dict[str, Any]) -> dict[str, Any]:
    details = snapshot.get("details") or {}
    return {
        "aggregate_id": e.originator_id,
        "version": e.originator_version,
        "lead_id": e.originator_id,
        "type": snapshot["lead_type"],
        "contact": Contact.model_validate(snapshot["contact"]),
        "company": Company.model_validate(snapshot["company"]),
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


def to_integration_event(domain_event: DomainEventProtocol[Any]) -> IntegrationEvent | None:
    """Every change to a lead becomes an event on leads.events.v1 (favorites are per-user, not lead changes)."""
    e: Any = domain_event
    match domain_event:
        case Lead.Received():
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
            )
        case Lead.UpstreamUpdated():
            return (
                None
                if not e.changes
                else LeadUpdatedV1(
                    **_snapshot(e, e.snapshot),
                    source=e.snapshot["source"],
                    external_id=e.snapshot["external_id"],
                    occurred_at=e.occurred_at,
                    changed_fields=sorted(e.changes),
                    updated_at=e.at,
                )
            )
        case Lead.Assigned():
            return _status(
                e,
                "assigned",
                e.status_before,
                "assigned",
                owner_id=e.owner_id,
                team_id=e.team_id,
                previous_owner_id=e.previous_owner_id,
                previous_team_id=e.previous_team_id,
                reason=e.method,
            )
        case Lead.Converted():
            return _status(
                e,
                "converted",
                "assigned",
                "converted",
                owner_id=e.owner_id,
                team_id=e.team_id,
                previous_owner_id=e.owner_id,
            )
        case Lead.Recycled():
            return _status(
                e,
                "recycled",
                "assigned",
                "unassigned",
                previous_owner_id=e.previous_owner_id,
                previous_team_id=e.previous_team_id,
                reason=e.reason,
            )
        case Lead.ClosedInvalid():
            return _status(
                e,
                "closed_invalid",
                e.status_before,
                "closed_invalid",
                previous_owner_id=e.previous_owner_id,
                reason=e.reason,
            )
        case Lead.Voided():
            return _status(e, "voided", e.status_before, "voided", reason=e.reason)
        case Lead.Unvoided():
            return _status(e, "unvoided", "voided", e.restored_status)
        case Lead.MergedInto():
            return _status(e, "merged", e.status, e.status, related_lead_id=e.survivor_id)
        case Lead.Unmerged():
            return _status(e, "unmerged", e.status, e.status, related_lead_id=e.survivor_id)
        case Lead.Deleted():
            return LeadDeletedV1(
                aggregate_id=e.originator_id,
                version=e.originator_version,
                lead_id=e.originator_id,
                previous_owner_id=e.previous_owner_id,
                reason=e.reason,
                actor=e.actor,
                occurred_at=e.at,
            )
        case Lead.StageMoved():
            return _changed(e, "stage_moved", {"from_stage": e.from_stage, "to_stage": e.to_stage, "reason": e.reason})
        case Lead.Qualified():
            return _changed(e, "qualified", {"deal": e.deal})
        case Lead.Disqualified():
            return _changed(e, "disqualified", {"reason_id": e.reason_id, "reason": e.reason_label, "note": e.note})
        case Lead.FollowedUp():
            return _changed(e, "followed_up", {"note_length": len(e.note)})
        case Lead.DocumentLinked():
            return _changed(e, "document_linked", {"kind": e.kind, "number": e.number})
        case Lead.MarkedPossibleDuplicate():
            return _changed(e, "marked_possible_duplicate", {"lead_ids": e.lead_ids, "customer_ids": e.customer_ids})
        case Lead.Associated():
            return _changed(e, "associated", {"kind": e.kind, "id": e.target_id, "lifecycle_stage": e.lifecycle_stage})
        case Lead.Absorbed():
            return _changed(e, "absorbed", {"merged_lead_id": str(e.merged_id)})
        case Lead.Released():
            return _changed(e, "released", {"merged_lead_id": str(e.merged_id)})
    return None


def with_lead_identity(app: IntakeApplication) -> EventMapper:
    """Every published lead event names the lead's upstream source and external id.

    Only Received/Updated carry them in the domain event; for the rest the (immutable)
    identity is looked up once per lead. Runs on the store thread, as the relay maps there.
    """

    @functools.lru_cache(maxsize=100_000)
    def identity(lead_id: UUID) -> tuple[str, str]:
        lead: Any = app.repository.get(lead_id)
        return lead.source, lead.external_id

    def mapper(domain_event: DomainEventProtocol[Any]) -> IntegrationEvent | None:
        event = to_integration_event(domain_event)
        if event is None or "source" not in type(event).model_fields or getattr(event, "source", None):
            return event
        source, external_id = identity(event.aggregate_id)
        return event.model_copy(update={"source": source, "external_id": external_id})

    return mapper


def publications(app: IntakeApplication) -> dict[str, EventMapper]:
    return {LEADS_EVENTS: with_lead_identity(app)}
