"""sequence's Kafka wiring: what it consumes and what it publishes, in one visible map.

Both are empty until the sequence issue adds its use cases and events; the topic it will
publish on is created at start so subscribers can already attach to it.
"""

from __future__ import annotations

from leadflow_shared.relay import Publication
from leadflow_shared.subscriptions import Subscription
from leadflow_shared.topics import SEQUENCES_EVENTS

from ..application import SequenceApplication

PUBLISHED_TOPICS = (SEQUENCES_EVENTS,)


def subscriptions(app: SequenceApplication) -> list[Subscription]:
    return []


def publications() -> list[Publication]:
    return []
