"""The outbox relay publishes every stored event, in order per key, and loses none in a crash."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from harness import new_prefix, read_topic

from leadflow_shared.contracts import IntegrationEvent
from leadflow_shared.kafka import ensure_topics, make_producer
from leadflow_shared.relay import OutboxRelay
from leadflow_shared.settings import ServiceSettings
from leadflow_shared.store import ServiceApplication, StoreWorker

pytestmark = pytest.mark.integration


class Counter(Aggregate):
    @event("Opened")
    def __init__(self) -> None:
        self.count = 0

    @event("Ticked")
    def tick(self) -> None:
        self.count += 1


class CounterChangedV1(IntegrationEvent):
    cloudevents_type: ClassVar[str] = "test.counter-changed.v1"


def to_integration_event(domain_event: Any) -> IntegrationEvent:
    return CounterChangedV1(aggregate_id=domain_event.originator_id, version=domain_event.originator_version)


def store_events(app: ServiceApplication, counters: int, ticks: int) -> list[UUID]:
    ids = []
    for _ in range(counters):
        counter = Counter()
        for _ in range(ticks):
            counter.tick()
        app.save(counter)
        ids.append(counter.id)
    return ids


async def test_relay_publishes_n_events_as_n_messages_in_order_per_key_and_survives_a_crash(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_prefix() + "counters.v1"
    await ensure_topics(kafka_bootstrap, {topic: 3})
    settings = ServiceSettings(service_name="relaytest", run_dir=tmp_path)
    app = ServiceApplication(env=settings.eventsourcing_env())
    worker = StoreWorker("relaytest")
    producer = make_producer(kafka_bootstrap, client_id="relay-test")
    await producer.start()

    def relay() -> OutboxRelay:
        return OutboxRelay(
            app=app,
            worker=worker,
            producer=producer,
            topic=topic,
            to_integration_event=to_integration_event,
            source="test",
            batch_size=7,
        )

    try:
        # Given 5 counters with 10 ticks each: 55 stored events.
        store_events(app, counters=5, ticks=10)
        # When the relay drains the store,
        assert await relay().drain() == 55
        # then the topic holds exactly those 55 messages, each key's versions in order.
        records = await read_topic(kafka_bootstrap, topic, expect=55, settle=1.0)
        assert len(records) == 55
        versions_by_key: dict[bytes, list[int]] = defaultdict(list)
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            assert record.key is not None
            versions_by_key[record.key].append(CounterChangedV1.model_validate_json(record.value).version)
        assert sorted(versions_by_key.values()) == [list(range(1, 12))] * 5

        # Given 20 more events, a relay that publishes them and crashes before recording,
        store_events(app, counters=2, ticks=9)
        crashed = relay()
        sent, last_id = await crashed.publish_next_batch()
        assert sent == 7 and last_id is not None  # published, position not recorded
        # when a new relay starts, it re-sends from the recorded position:
        assert await relay().drain() == 20
        # nothing is missing (a re-sent message may appear twice, never zero times).
        records = await read_topic(kafka_bootstrap, topic, expect=55 + 7 + 20, settle=1.0)
        assert len(records) == 55 + 7 + 20
        published = {(r.key, CounterChangedV1.model_validate_json(r.value).version) for r in records}
        stored = {(n.originator_id.bytes, n.originator_version) for n in app.recorder.select_notifications(1, 1000)}
        assert {(UUID(k.decode()).bytes, v) for k, v in published} == stored
        assert app.tracked_position(relay().position_name) == app.recorder.max_notification_id()
    finally:
        await producer.stop()
        worker.shutdown()
