"""Two replicas on one PostgreSQL store: one relay publishes, the other takes over when it goes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from harness import new_prefix, postgres_settings, publishing_broker, read_topic
from test_relay import Counter, relay_of

from leadflow_shared.kafka import ensure_topics
from leadflow_shared.lease import PostgresAdvisoryLease
from leadflow_shared.settings import ServiceSettings
from leadflow_shared.store import ServiceApplication, StoreWorker

pytestmark = pytest.mark.integration


async def test_only_the_lease_holder_publishes_and_another_replica_takes_over(
    kafka_bootstrap: str, postgres_database: dict[str, Any]
) -> None:
    settings = ServiceSettings(
        service_name="leasetest",
        **postgres_settings(postgres_database),
    )
    topic = new_prefix() + "counters.v1"
    await ensure_topics(kafka_bootstrap, {topic: 2})
    broker_context = publishing_broker(kafka_bootstrap)
    broker = await broker_context.__aenter__()
    replicas = []
    for _ in range(2):
        app = ServiceApplication(env=settings.eventsourcing_env())
        lease = PostgresAdvisoryLease(settings.postgres_conninfo(), f"test:{topic}", retry_seconds=0.1)
        relay = relay_of(app, StoreWorker("lease"), broker, topic, batch_size=500, idle_poll_seconds=0.05, lease=lease)
        replicas.append((app, relay, asyncio.create_task(relay.run())))
    try:
        writer = replicas[0][0]
        for _ in range(10):
            writer.save(Counter())
        records = await read_topic(kafka_bootstrap, topic, expect=10, settle=1.0)
        assert len(records) == 10  # not 20: one replica published
        assert sorted(r.published for _, r, _ in replicas) == [0, 10]
        # The publishing replica stops; the other one takes over from the recorded position.
        leader = next(i for i, (_, r, _) in enumerate(replicas) if r.published)
        replicas[leader][1].stop()
        await replicas[leader][2]
        for _ in range(5):
            writer.save(Counter())
        records = await read_topic(kafka_bootstrap, topic, expect=15, settle=1.0)
        assert len(records) == 15
        assert replicas[1 - leader][1].published == 5
    finally:
        for _, relay, _task in replicas:
            relay.stop()
        await asyncio.gather(*(t for _, _, t in replicas), return_exceptions=True)
        await broker_context.__aexit__(None, None, None)
        for app, _, _ in replicas:
            app.close()
