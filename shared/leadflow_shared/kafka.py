"""Kafka clients configured the way leadflow needs them."""

from __future__ import annotations

import logging
from typing import Any

import aiokafka
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

log = logging.getLogger(__name__)

PRODUCER_OPTIONS = {
    # Idempotence keeps one partition's messages in order and free of retry duplicates;
    # acks=all waits for every in-sync replica.
    "enable_idempotence": True,
    "acks": "all",
    "linger_ms": 5,
    "max_batch_size": 256 * 1024,
}


def make_broker(bootstrap: str, *, client_id: str) -> KafkaBroker:
    """The service's FastStream broker: its subscribers consume, its publishers relay."""
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        allow_auto_create_topics=False,  # `ensure_topics` creates them, with our partition count
        graceful_timeout=5.0,
        log_level=logging.DEBUG,  # one line per consumed batch is noise at INFO
        **PRODUCER_OPTIONS,  # type: ignore[arg-type]
    )


async def recreate_producer(broker: KafkaBroker) -> None:
    """Replace the broker's producer with a new one.

    After a failed send an idempotent producer may hold sequence state the broker no longer
    accepts; a fresh producer starts clean. FastStream has no public call for this, so it
    goes through the broker's producer wrapper (connect/disconnect are what `start` uses).
    """
    wrapper: Any = broker.config.producer
    serializer = getattr(wrapper, "serializer", None)
    codec = getattr(wrapper, "codec", None)
    await wrapper.disconnect()
    producer = aiokafka.AIOKafkaProducer(**broker._connection_kwargs)
    await wrapper.connect(producer, serializer=serializer, codec=codec)
    log.info("producer recreated")


async def ensure_topics(bootstrap: str, partitions_by_topic: dict[str, int]) -> list[str]:
    """Create the named topics if missing (the broker's auto-create stays off). Returns new ones."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name=topic, num_partitions=count, replication_factor=1)
            for topic, count in partitions_by_topic.items()
            if topic not in existing
        ]
        created: list[str] = []
        for topic in wanted:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # another service created it between list and create
        if created:
            log.info("created topics %s", created)
        return created
    finally:
        await admin.close()
