"""assignment's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.domain import DomainEventProtocol
from pydantic import ValidationError

from leadflow_shared.cloudevents import EnvelopeError, from_kafka
from leadflow_shared.consumer import Delivery, Handler
from leadflow_shared.contracts import (
    IntegrationEvent,
    LeadAssignedV1,
    LeadAwaitingAssignmentV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadStatusChangedV1,
    LeadUpdatedV1,
)
from leadflow_shared.deadletters import InvalidMessage
from leadflow_shared.relay import EventMapper
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS

from .application import AssignmentApplication
from .domain import Assignment


def lead_event_handlers(app: AssignmentApplication) -> dict[str, tuple[type[IntegrationEvent], Callable[..., None]]]:
    """CloudEvents type on `leads.events.v1` → (contract, use case)."""
    return {
        LeadReceivedV1.cloudevents_type: (LeadReceivedV1, app.assign_received_lead),
        LeadUpdatedV1.cloudevents_type: (LeadUpdatedV1, app.update_lead),
        LeadStatusChangedV1.cloudevents_type: (LeadStatusChangedV1, app.apply_status_change),
        LeadDeletedV1.cloudevents_type: (LeadDeletedV1, app.close_deleted_lead),
    }


def subscriptions(app: AssignmentApplication) -> dict[str, Handler]:
    handlers = lead_event_handlers(app)

    def on_lead_event(delivery: Delivery) -> None:
        try:
            envelope = from_kafka(delivery.value, delivery.headers)
        except EnvelopeError as exc:
            raise InvalidMessage(str(exc)) from None
        handler = handlers.get(envelope.type or "")
        if handler is None:
            # Lead events this service does not act on still move the tracked position.
            app.recorder.insert_tracking(delivery.tracking)
            return
        contract, use_case = handler
        try:
            event = contract.model_validate(envelope.data)
        except ValidationError as exc:
            raise InvalidMessage.from_validation_error(exc) from None
        use_case(event, tracking=delivery.tracking)

    return {LEADS_EVENTS: on_lead_event}


def to_integration_event(domain_event: DomainEventProtocol[Any]) -> IntegrationEvent | None:
    e: Any = domain_event
    if isinstance(domain_event, Assignment.Decided):
        return LeadAssignedV1(
            aggregate_id=e.originator_id,
            version=e.originator_version,
            lead_id=e.originator_id,
            seller_id=e.seller_id,
            team_id=e.team_id,
            method=e.method,
            decided_at=e.decided_at,
            source=e.source,
            external_id=e.external_id,
            reason=e.reason,
            explanation=e.explanation,
            previous_seller_id=e.previous_seller_id,
            ruleset_version=e.explanation.get("ruleset_version"),
        )
    if isinstance(domain_event, Assignment.Waited):
        return LeadAwaitingAssignmentV1(
            aggregate_id=e.originator_id,
            version=e.originator_version,
            lead_id=e.originator_id,
            reason=e.reason,
            queue_id=e.queue_id,
            waiting_since=e.since,
            source=e.source,
            external_id=e.external_id,
            explanation=e.explanation,
            ruleset_version=e.explanation.get("ruleset_version"),
        )
    return None


def publications() -> dict[str, EventMapper]:
    return {ASSIGNMENTS_EVENTS: to_integration_event}


__all__ = ["lead_event_handlers", "publications", "subscriptions", "to_integration_event"]
