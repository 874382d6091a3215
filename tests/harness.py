"""Test helpers: run services in-process on the session's real broker, talk Kafka plainly."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker

from leadflow_shared.kafka import make_broker
from leadflow_shared.runtime import Service
from leadflow_shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


@contextlib.asynccontextmanager
async def publishing_broker(bootstrap: str) -> AsyncIterator[KafkaBroker]:
    """A FastStream broker with leadflow's producer settings, connected (no subscribers)."""
    broker = make_broker(bootstrap, client_id="test")
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()


def new_prefix() -> str:
    """A topic prefix of its own keeps each test's topics apart on the shared broker."""
    return f"t{uuid.uuid4().hex[:10]}."


def settings_for(cls: type[S], *, tmp_path: Path, bootstrap: str, prefix: str, **overrides: Any) -> S:
    name = cls.model_fields["service_name"].default
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "topic_prefix": prefix,
        "run_dir": tmp_path,
        "sqlite_path": tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.sqlite",
        "lead_topic_partitions": 3,
        "consumer_group": f"{prefix}{name}",
        "relay_idle_poll_seconds": 0.05,
    }
    values.update(overrides)
    return cls(**values)


def postgres_settings(database: dict[str, Any]) -> dict[str, Any]:
    """ServiceSettings fields for a database from the `postgres_database` fixture."""
    return {
        "postgres_host": database["host"],
        "postgres_port": database["port"],
        "postgres_user": database["user"],
        "postgres_password": database["password"],
        "postgres_dbname": database["dbname"],
    }


@contextlib.asynccontextmanager
async def started(service: Service) -> AsyncIterator[Service]:
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def produce(
    bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0, settle: float = 0.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning until `expect` records arrived (then `settle` more seconds)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        partitions = await _partitions(consumer, topic, timeout)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= expect:
                if settle_until is None:
                    settle_until = time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str, timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return partitions
        await consumer._client.force_metadata_update()  # topic may have just been created
        await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} does not exist")


T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], *, until: Callable[[T], bool], timeout: float = 15.0, interval: float = 0.1
) -> T:
    """Poll `probe` until `until(result)`; fail with the last result after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result: {result!r}")
        await asyncio.sleep(interval)


def inbound_lead(external_id: str, **overrides: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "source": "web-form",
        "external_id": external_id,
        "type": "customer_inquiry",
        "contact": {"first_name": "Ada", "last_name": "Lovelace", "email": f"ada+{external_id}@example.com"},
        "company": {"name": "Analytical Engines", "country": "GB"},
        "score": 42,
        "campaign_id": "spring",
        "occurred_at": "2026-11-01T10:00:00+00:00",
    }
    lead.update(overrides)
    return lead


def as_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, bytes]:
    return dict(record.headers or ())


async def moment() -> str:
    """Now as RFC 3339, strictly between what was recorded before and what will be after."""
    await asyncio.sleep(0.002)
    from datetime import UTC, datetime

    now = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.002)
    return now


@dataclass(frozen=True)
class OpenedDeadLetter:
    """A sealed dead letter opened with the service's keys: the original key, value and headers,
    with the headers leadflow published beside it (leadflow_error, leadflow_origin, …)."""

    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


def opened(app: Any, record: ConsumerRecord[bytes, bytes]) -> OpenedDeadLetter:
    from leadflow_shared.deadletters import open_sealed

    original = open_sealed(app.data_keys, record.value or b"")
    assert original is not None, "the dead letter's key is gone"
    unb64 = lambda v: None if v is None else base64.b64decode(v)  # noqa: E731
    headers = {name: unb64(v) or b"" for name, v in original["headers"]} | headers_of(record)
    return OpenedDeadLetter(unb64(original["key"]), unb64(original["value"]), headers)
