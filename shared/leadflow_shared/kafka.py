"""Kafka clients configured the way leadflow needs them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiokafka
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

if TYPE_CHECKING:
    from .settings import ServiceSettings

log = logging.getLogger(__name__)

PRODUCER_OPTIONS = {
    # Idempotence keeps one partition's messages in order and free of retry duplicates;
    # acks=all waits for every in-sync replica.
    "enable_idempotence": True,
    "acks": "all",
    "linger_ms": 5,
    "max_batch_size": 256 * 1024,
}


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The broker connection's security from the settings: TLS (with the given CA, and a client
    certificate if set) and SASL/SCRAM credentials, for every client the service makes."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        context = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
            certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
            keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    sasl = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
    return sasl[settings.kafka_sasl_mechanism](  # type: ignore[no-any-return]
        settings.kafka_sasl_username or "",
        settings.kafka_sasl_password or "",
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def client_options(security: BaseSecurity | None) -> dict[str, Any]:
    """aiokafka keyword arguments for the same security (admin clients, tools)."""
    return parse_security(security)


def make_broker(
    bootstrap: str, *, client_id: str, security: BaseSecurity | None = None, middlewares: Sequence[Any] = ()
) -> KafkaBroker:
    """The service's FastStream broker: its subscribers consume, its publishers relay."""
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        security=security,
        middlewares=tuple(middlewares),
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


class TopicsNotReady(RuntimeError):
    """Production mode: a topic the service uses is missing or below the configured shape."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Kafka topics are not as configured: " + "; ".join(problems))
        self.problems = problems


async def ensure_topics(
    bootstrap: str,
    partitions_by_topic: dict[str, int],
    security: BaseSecurity | None = None,
    *,
    configs: dict[str, dict[str, str]] | None = None,
    create: bool = True,
    min_replication: int = 1,
) -> list[str]:
    """Check the topics a service uses; returns the ones it created.

    `create=True` (local mode): missing topics are created (the broker's auto-create stays off)
    with their partition count, `configs` (e.g. retention) and a replication factor of
    `min_replication` or the number of brokers, whichever is smaller.
    `create=False` (production mode: topics are made by the platform, e.g. Strimzi KafkaTopics or
    the compose topic-init job): raises `TopicsNotReady` naming every topic that is missing, has
    fewer partitions than asked or a partition with fewer than `min_replication` replicas —
    consuming a half-made topic would silently lose ordering or durability.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-topics", **client_options(security))
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(list(partitions_by_topic))}
        if create:  # local mode: as many replicas as asked, or as there are brokers
            min_replication = max(1, min(min_replication, len((await admin.describe_cluster())["brokers"])))
        problems: list[str] = []
        missing: list[str] = []
        for topic, wanted in partitions_by_topic.items():
            found = described.get(topic)
            if found is None or found.get("error_code") or not found.get("partitions"):
                missing.append(topic)
                continue
            partitions = found["partitions"]
            if len(partitions) < wanted:
                problems.append(f"{topic} has {len(partitions)} partitions, fewer than the {wanted} configured")
            replicas = min(len(p["replicas"]) for p in partitions)
            if replicas < min_replication:
                problems.append(f"{topic} has replication factor {replicas}, below the required {min_replication}")
        if not create:
            problems += [f"{topic} is missing" for topic in missing]
            if problems:
                raise TopicsNotReady(problems)
            return []
        for problem in problems:
            log.warning("topic check: %s", problem)
        created: list[str] = []
        for topic in missing:
            new_topic = NewTopic(
                name=topic,
                num_partitions=partitions_by_topic[topic],
                replication_factor=min_replication,
                topic_configs=(configs or {}).get(topic),
            )
            try:
                await admin.create_topics([new_topic])
                created.append(topic)
            except TopicAlreadyExistsError:
                pass  # another service created it between the check and the create
        if created:
            log.info("created topics %s", created)
        return created
    finally:
        await admin.close()
