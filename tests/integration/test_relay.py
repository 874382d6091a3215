"""The outbox relay publishes every stored event it maps, in order per key, with each key's previous
version; loses none in a crash; and says exactly where it is stuck when a message cannot go out."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from faststream.kafka import KafkaBroker
from harness import new_prefix, publishing_broker, read_topic

from leadflow_shared.contracts import IntegrationEvent
from leadflow_shared.health import Health
from leadflow_shared.kafka import ensure_topics, recreate_producer
from leadflow_shared.relay import OutboxRelay, Publication
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

    @event("Noted")
    def note(self, text: str) -> None:
        """Stays inside the service: not published."""


class CounterChangedV1(IntegrationEvent):
    cloudevents_type: ClassVar[str] = "test.counter-changed.v1"
    padding: str = ""


def to_integration_event(domain_event: Any) -> IntegrationEvent:
    return CounterChangedV1(aggregate_id=domain_event.originator_id, version=domain_event.originator_version)


CounterEvent: Any = Counter
COUNTERS = Publication(
    topic="counters.v1",
    mappers={CounterEvent.Opened: to_integration_event, CounterEvent.Ticked: to_integration_event},
    contracts=(CounterChangedV1,),
)


def store_events(app: ServiceApplication, counters: int, ticks: int, notes: int = 0) -> list[UUID]:
    ids = []
    for _ in range(counters):
        counter = Counter()
        for i in range(ticks):
            counter.tick()
            if i < notes:
                counter.note("kept inside")
        app.save(counter)
        ids.append(counter.id)
    return ids


def relay_of(
    app: ServiceApplication, worker: StoreWorker, broker: KafkaBroker, topic: str, **options: Any
) -> OutboxRelay:
    return OutboxRelay(
        app=app,
        worker=worker,
        publication=options.pop("publication", COUNTERS),
        topic=topic,
        send=broker.publisher(topic).publish,
        source="test",
        health=options.pop("health", Health()),
        batch_size=options.pop("batch_size", 7),
        **options,
    )


def decoded(records: list[Any]) -> list[CounterChangedV1]:
    return [
        CounterChangedV1.model_validate_json(r.value) for r in sorted(records, key=lambda r: (r.partition, r.offset))
    ]


async def test_relay_publishes_n_events_as_n_messages_in_order_per_key_and_survives_a_crash(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_prefix() + "counters.v1"
    await ensure_topics(kafka_bootstrap, {topic: 3})
    app = ServiceApplication(env=ServiceSettings(service_name="relaytest", run_dir=tmp_path).eventsourcing_env())
    worker = StoreWorker("relaytest")
    async with publishing_broker(kafka_bootstrap) as broker:
        try:
            # Given 5 counters with 10 ticks each: 55 published events, and 10 kept inside,
            store_events(app, counters=5, ticks=10, notes=2)
            # when the relay drains the store,
            assert await relay_of(app, worker, broker, topic).drain() == 55
            # then the topic holds exactly those 55 messages, each key's versions in order, each
            # naming the version published before it (the unpublished notes are skipped over).
            records = await read_topic(kafka_bootstrap, topic, expect=55, settle=1.0)
            assert len(records) == 55
            by_key: dict[UUID, list[tuple[int, int | None]]] = defaultdict(list)
            for e in decoded(records):
                by_key[e.aggregate_id].append((e.version, e.previous_version))
            for chain in by_key.values():
                versions = [v for v, _ in chain]
                assert versions == sorted(versions) and len(versions) == 11
                assert [p for _, p in chain] == [0, *versions[:-1]]
            headers = dict(records[0].headers)
            assert headers["ce_aggregateversion"] and headers["ce_previousversion"]

            # Given 20 more events, a relay that publishes them and crashes before recording,
            store_events(app, counters=2, ticks=9)
            crashed = relay_of(app, worker, broker, topic)
            sent, reached = await crashed.publish_next_batch()
            assert sent == 7 and reached is not None  # published, position not recorded
            # when a new relay starts, it re-sends from the recorded position:
            assert await relay_of(app, worker, broker, topic).drain() == 20
            # nothing is missing (a re-sent message may appear twice, never zero times),
            records = await read_topic(kafka_bootstrap, topic, expect=55 + 7 + 20, settle=1.0)
            assert len(records) == 55 + 7 + 20
            published = {(e.aggregate_id, e.version) for e in decoded(records)}
            stored = {
                (UUID(str(n.originator_id)), n.originator_version)
                for n in app.recorder.select_notifications(1, 1000)
                if not n.topic.endswith(".Noted")
            }
            assert published == stored
            # and a copy carries the same previous version as the original.
            copies = defaultdict(set)
            for e in decoded(records):
                copies[(e.aggregate_id, e.version)].add(e.previous_version)
            assert all(len(previous) == 1 for previous in copies.values())
            assert app.tracked_position(crashed.position_name) == app.recorder.max_notification_id()
        finally:
            worker.shutdown()


async def test_a_message_that_cannot_be_sent_stops_the_relay_at_its_notification_and_says_so(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_prefix() + "counters.v1"
    await ensure_topics(kafka_bootstrap, {topic: 1})
    app = ServiceApplication(env=ServiceSettings(service_name="relaybig", run_dir=tmp_path).eventsourcing_env())
    worker = StoreWorker("relaybig")
    health = Health()
    too_big = {"on": True}

    def sometimes_huge(domain_event: Any) -> IntegrationEvent:
        padding = "x" * 2_000_000 if too_big["on"] and domain_event.originator_version == 2 else ""
        return CounterChangedV1(
            aggregate_id=domain_event.originator_id, version=domain_event.originator_version, padding=padding
        )

    publication = Publication(
        topic="counters.v1",
        mappers={CounterEvent.Opened: sometimes_huge, CounterEvent.Ticked: sometimes_huge},
        contracts=(CounterChangedV1,),
    )
    async with publishing_broker(kafka_bootstrap) as broker:
        relay = relay_of(
            app,
            worker,
            broker,
            topic,
            publication=publication,
            health=health,
            batch_size=100,
            idle_poll_seconds=0.05,
            recreate_producer=lambda: recreate_producer(broker),
        )
        task = asyncio.create_task(relay.run())
        try:
            # Given a stored event whose message is over the producer's limit,
            store_events(app, counters=1, ticks=2)
            second = app.recorder.select_notifications(2, 1)[0].id
            # then the relay stops there and names the notification and the error,
            for _ in range(100):
                if health.problems():
                    break
                await asyncio.sleep(0.05)
            (problem,) = health.problems().values()
            assert f"notification {second}" in problem and "MessageSizeTooLarge" in problem
            assert app.tracked_position(relay.position_name) is None  # nothing skipped past it
            # and once the message fits (a fixed mapper), everything goes out and the report clears.
            too_big["on"] = False
            records = await read_topic(kafka_bootstrap, topic, expect=3, timeout=30, settle=0.5)
            # (version 1 went out before the failure and again after: twice, never zero times)
            assert sorted({e.version for e in decoded(records)}) == [1, 2, 3]
            for _ in range(100):
                if not health.problems():
                    break
                await asyncio.sleep(0.05)
            assert health.problems() == {}
        finally:
            relay.stop()
            await asyncio.wait_for(task, timeout=10)
            worker.shutdown()
