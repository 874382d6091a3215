"""Production mode never makes its own topics: it refuses to start while one it uses is missing,
has fewer partitions than configured or fewer replicas than TOPIC_REPLICATION_FACTOR (issue 14).
Local mode creates what is missing. Real Kafka (one broker: every topic has one replica)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from harness import new_prefix, postgres_settings, settings_for

from leadflow_shared.kafka import TopicsNotReady, ensure_topics
from leadflow_shared.runtime import Service
from referral.bootstrap import bootstrap as referral_service
from referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


async def _create(bootstrap: str, partitions: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, n, 1) for t, n in partitions.items()])
    finally:
        await admin.close()


async def test_ensure_topics_names_every_topic_that_is_missing_thin_or_under_replicated(kafka_bootstrap: str) -> None:
    prefix = new_prefix()
    good, thin, missing = prefix + "good", prefix + "thin", prefix + "missing"
    await _create(kafka_bootstrap, {good: 3, thin: 1})
    wanted = {good: 3, thin: 3, missing: 3}

    with pytest.raises(TopicsNotReady) as refused:
        await ensure_topics(kafka_bootstrap, wanted, create=False, min_replication=3)
    assert sorted(refused.value.problems) == sorted(
        [
            f"{missing} is missing",
            f"{thin} has 1 partitions, fewer than the 3 configured",
            f"{thin} has replication factor 1, below the required 3",
            f"{good} has replication factor 1, below the required 3",
        ]
    )
    # What the platform made as configured passes, and nothing is created in production mode.
    assert await ensure_topics(kafka_bootstrap, {good: 3}, create=False, min_replication=1) == []
    with pytest.raises(TopicsNotReady, match="is missing"):
        await ensure_topics(kafka_bootstrap, {missing: 3}, create=False, min_replication=1)
    # Local mode creates the missing one (one broker: one replica, whatever is asked for).
    assert await ensure_topics(kafka_bootstrap, {missing: 3}, create=True, min_replication=3) == [missing]
    await ensure_topics(kafka_bootstrap, {missing: 3}, create=False, min_replication=1)


def _production(tmp_path: Path, bootstrap: str, prefix: str, database: dict[str, Any], **overrides: Any) -> Service:
    settings = settings_for(
        ReferralSettings,
        tmp_path=tmp_path,
        bootstrap=bootstrap,
        prefix=prefix,
        mode="production",
        kafka_allow_plaintext=True,
        auth_issuer="https://id.example.com",
        auth_jwks_url="https://id.example.com/certs",
        **postgres_settings(database),
        **overrides,
    )
    return referral_service(settings)


async def test_a_service_in_production_mode_refuses_to_start_until_its_topics_are_right(
    kafka_bootstrap: str, postgres_database: dict[str, Any], tmp_path: Path
) -> None:
    prefix = new_prefix()
    service = _production(tmp_path, kafka_bootstrap, prefix, postgres_database)
    wanted = service.topics_to_ensure()
    with pytest.raises(TopicsNotReady) as refused:
        await service.start()
    assert {f"{topic} is missing" for topic in wanted} == set(refused.value.problems)
    await service.stop()

    # The platform creates them (one broker: replication 1) — still refused at the default factor 3,
    await _create(kafka_bootstrap, wanted)
    service = _production(tmp_path, kafka_bootstrap, prefix, postgres_database)
    with pytest.raises(TopicsNotReady) as refused:
        await service.start()
    assert all("below the required 3" in problem for problem in refused.value.problems)
    await service.stop()

    # and started once TOPIC_REPLICATION_FACTOR says what this cluster can give.
    service = _production(tmp_path, kafka_bootstrap, prefix, postgres_database, topic_replication_factor=1)
    await service.start()
    try:
        assert service.settings.mode == "production"
        await asyncio.wait_for(service.check_broker(), timeout=10)
    finally:
        await service.stop()
