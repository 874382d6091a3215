"""assignment's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol
from pydantic import ValidationError

from leadflow_shared.cloudevents import EnvelopeError, from_kafka
from leadflow_shared.consumer import Delivery, Handler
from leadflow_shared.contracts import IntegrationEvent, LeadAssignedV1, LeadReceivedV1
from leadflow_shared.deadletters import InvalidMessage
from leadflow_shared.relay import EventMapper
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS

from .application import AssignmentApplication
from .domain import Assignment


def subscriptions(app: AssignmentApplication) -> dict[str, Handler]:
    def on_lead_event(delivery: Delivery) -> None:
        try:
            envelope = from_kafka(delivery.value, delivery.headers)
        except EnvelopeError as exc:
            raise InvalidMessage(str(exc)) from None
        if envelope.type == LeadReceivedV1.cloudevents_type:
            try:
                received = LeadReceivedV1.model_validate(envelope.data)
            except ValidationError as exc:
                raise InvalidMessage.from_validation_error(exc) from None
            app.assign_received_lead(received, tracking=delivery.tracking)
        else:
            # Lead events this service does not act on still move the tracked position.
            app.recorder.insert_tracking(delivery.tracking)

    return {LEADS_EVENTS: on_lead_event}


def to_integration_event(domain_event: DomainEventProtocol[Any]) -> IntegrationEvent | None:
    if isinstance(domain_event, Assignment.Decided):
        e: Any = domain_event
        return LeadAssignedV1(
            aggregate_id=e.originator_id,
            version=e.originator_version,
            lead_id=e.originator_id,
            seller_id=e.seller_id,
            method=e.method,
            decided_at=e.decided_at,
            source=e.source,
            external_id=e.external_id,
        )
    return None


def publications() -> dict[str, EventMapper]:
    return {ASSIGNMENTS_EVENTS: to_integration_event}
