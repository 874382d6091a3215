"""Kafka clients configured the way leadflow needs them."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


def make_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer that waits for every in-sync replica (acks=all).

    Idempotence keeps one partition's messages in order and free of retry duplicates.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


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
