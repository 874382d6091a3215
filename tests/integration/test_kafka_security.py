"""Kafka SASL/SCRAM over TLS (issue 9): the local broker started with a SASL_SSL listener (a
throwaway CA and broker certificate), a service that takes leads in and publishes its events
through it with credentials, and clients without them refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from harness import as_bytes, eventually, inbound_lead, new_prefix, started

from intake.bootstrap import bootstrap as intake_service
from intake.settings import IntakeSettings
from leadflow_shared.kafka import client_options, kafka_security
from leadflow_shared.topics import LEADS_EVENTS, LEADS_INBOUND
from leadflow_tools import LocalKafka, free_port
from leadflow_tools.kafka import SaslSslListener
from leadflow_tools.tls import LocalTls, throwaway_tls

pytestmark = pytest.mark.integration
USER, PASSWORD = "leadflow-intake", "correct horse battery staple"


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LocalTls]]:
    folder = tmp_path_factory.mktemp("secure-kafka")
    tls = throwaway_tls(folder / "tls")
    listener = SaslSslListener(port=free_port(), keystore=tls.keystore, username=USER, password=PASSWORD)
    kafka = LocalKafka(port=free_port(), controller_port=free_port(), run_dir=folder / "kafka", sasl_ssl=listener)
    kafka.start(timeout=90)
    try:
        yield f"127.0.0.1:{listener.port}", tls
    finally:
        kafka.stop()


def settings(bootstrap: str, tls: LocalTls, tmp_path: Path, prefix: str, **overrides: object) -> IntakeSettings:
    values: dict[str, object] = {
        "kafka_bootstrap": bootstrap,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": USER,
        "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": tls.ca_file,
        "topic_prefix": prefix,
        "run_dir": tmp_path,
        "sqlite_path": tmp_path / "intake.sqlite",
        "lead_topic_partitions": 1,
        "consumer_group": f"{prefix}intake",
        "relay_idle_poll_seconds": 0.05,
    }
    return IntakeSettings(**{**values, **overrides})


async def test_a_service_works_through_sasl_ssl_and_a_client_without_credentials_is_refused(
    secure_kafka: tuple[str, LocalTls], tmp_path: Path
) -> None:
    bootstrap, tls = secure_kafka
    prefix = new_prefix()
    config = settings(bootstrap, tls, tmp_path, prefix)
    options = client_options(kafka_security(config))
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    async with started(intake_service(config)):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **options)
        await producer.start()
        lead = inbound_lead(f"secure-{uuid.uuid4().hex[:6]}")
        await producer.send_and_wait(prefix + LEADS_INBOUND, as_bytes(lead), key=b"k")
        await producer.stop()
        consumer = AIOKafkaConsumer(
            prefix + LEADS_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest", **options
        )
        await consumer.start()
        try:
            received = await eventually(lambda: consumer.getmany(timeout_ms=500), until=lambda batch: bool(batch))
            assert any(lead["external_id"].encode() in r.value for rs in received.values() for r in rs)
        finally:
            await consumer.stop()

    refused = {
        "no TLS, no SASL": {},
        "TLS, no SASL": {"security_protocol": "SSL", "ssl_context": options["ssl_context"]},
        "a wrong password": {**options, "sasl_plain_password": "guess"},
    }
    for name, client in refused.items():
        outsider = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000, **client)
        with pytest.raises(Exception) as failed:
            await asyncio.wait_for(outsider.start(), timeout=20)
        await outsider.stop()
        assert failed.type is not AssertionError, name


def test_production_refuses_plaintext_kafka_unless_allowed() -> None:
    base = {
        "mode": "production",
        "kafka_bootstrap": "kafka:9093",
        "postgres_host": "pg",
        "auth_issuer": "https://id.example.com",
        "auth_jwks_url": "https://id.example.com/certs",
    }
    with pytest.raises(ValueError, match="KAFKA_SECURITY_PROTOCOL"):
        IntakeSettings(**base)
    assert IntakeSettings(**base, kafka_allow_plaintext=True).kafka_security_protocol == "PLAINTEXT"
    secure = IntakeSettings(
        **base, kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password="p"
    )
    assert client_options(kafka_security(secure))["sasl_plain_username"] == "u"
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        IntakeSettings(**base, kafka_security_protocol="SASL_SSL")
