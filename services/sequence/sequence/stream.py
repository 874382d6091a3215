"""sequence's Kafka wiring: consumed topic → handler, published topic → mapper.

The maps are empty until the sequence issue adds its handlers and events; the relay for
`SEQUENCES_EVENTS` is wired so those events flow as soon as they exist.
"""

from __future__ import annotations

from typing import Any

from leadflow_shared.consumer import Handler
from leadflow_shared.contracts import IntegrationEvent
from leadflow_shared.relay import EventMapper
from leadflow_shared.topics import SEQUENCES_EVENTS

from .application import SequenceApplication


def subscriptions(app: SequenceApplication) -> dict[str, Handler]:
    return {}


def to_integration_event(domain_event: Any) -> IntegrationEvent | None:
    return None


def publications() -> dict[str, EventMapper]:
    return {SEQUENCES_EVENTS: to_integration_event}
