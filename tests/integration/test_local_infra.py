"""Smoke tests for the shared Kafka and PostgreSQL fixtures."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from leadflow_tools.kafka import _new_cluster_id


@pytest.mark.unit
def test_cluster_ids_never_start_with_a_dash() -> None:
    # A leading "-" makes StorageTool reject "-t <id>"; Kafka's own generator avoids it too.
    ids = [_new_cluster_id() for _ in range(5000)]
    assert not any(cluster_id.startswith("-") for cluster_id in ids)
    assert {len(cluster_id) for cluster_id in ids} == {22}


@pytest.mark.integration
@pytest.mark.asyncio
async def test_kafka_roundtrip_over_three_partitions(kafka_bootstrap: str) -> None:
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        described = await admin.describe_topics([topic])
        assert len(described[0]["partitions"]) == 3
    finally:
        await admin.close()

    sent = {f"key-{i}": f"value-{i}" for i in range(10)}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in sent.items():
            await producer.send_and_wait(topic, value.encode(), key=key.encode())
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"smoke-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: dict[str, str] = {}
    partitions: set[int] = set()
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        assert record.key is not None and record.value is not None
                        received[record.key.decode()] = record.value.decode()
                        partitions.add(record.partition)
    finally:
        await consumer.stop()

    assert received == sent
    # Ten distinct keys hash onto more than one of the three partitions.
    assert len(partitions) > 1


@pytest.mark.integration
def test_postgres_database_accepts_queries(postgres_database: dict[str, Any]) -> None:
    with psycopg.connect(**postgres_database, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE lead (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO lead VALUES (1, 'Zoë')")
        row = conn.execute("SELECT current_database(), name FROM lead WHERE id = 1").fetchone()
    assert row == (postgres_database["dbname"], "Zoë")
