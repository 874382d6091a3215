"""intake's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol
from pydantic import ValidationError

from leadflow_shared.cloudevents import EnvelopeError, from_kafka
from leadflow_shared.consumer import Delivery, Handler
from leadflow_shared.contracts import (
    MAX_INBOUND_BYTES,
    Company,
    Contact,
    InboundLeadV1,
    IntegrationEvent,
    LeadReceivedV1,
)
from leadflow_shared.deadletters import InvalidMessage
from leadflow_shared.relay import EventMapper
from leadflow_shared.topics import LEADS_EVENTS, LEADS_INBOUND

from .application import IntakeApplication
from .domain import Lead


def parse_inbound(value: bytes | None, headers: list[tuple[str, bytes]]) -> InboundLeadV1:
    """Binary or structured CloudEvent of type lead.inbound.v1, or the bare object."""
    if value is not None and len(value) > MAX_INBOUND_BYTES:
        raise InvalidMessage(f"payload of {len(value)} bytes exceeds {MAX_INBOUND_BYTES}")
    try:
        envelope = from_kafka(value, headers)
    except EnvelopeError as exc:
        raise InvalidMessage(str(exc)) from None
    if envelope.type is not None and envelope.type != InboundLeadV1.cloudevents_type:
        raise InvalidMessage(f"unexpected CloudEvents type {envelope.type!r}")
    try:
        return InboundLeadV1.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidMessage.from_validation_error(exc) from None


def subscriptions(app: IntakeApplication) -> dict[str, Handler]:
    def on_inbound_lead(delivery: Delivery) -> None:
        inbound = parse_inbound(delivery.value, delivery.headers)
        app.receive_lead(inbound, via="kafka", tracking=delivery.tracking)

    return {LEADS_INBOUND: on_inbound_lead}


def to_integration_event(domain_event: DomainEventProtocol[Any]) -> IntegrationEvent | None:
    if isinstance(domain_event, Lead.Received):
        e: Any = domain_event
        return LeadReceivedV1(
            aggregate_id=e.originator_id,
            version=e.originator_version,
            lead_id=e.originator_id,
            source=e.source,
            external_id=e.external_id,
            type=e.lead_type,
            contact=Contact.model_validate(e.contact),
            company=Company.model_validate(e.company),
            score=e.score,
            campaign_id=e.campaign_id,
            occurred_at=e.occurred_at,
            received_at=e.received_at,
        )
    return None


def publications() -> dict[str, EventMapper]:
    return {LEADS_EVENTS: to_integration_event}
