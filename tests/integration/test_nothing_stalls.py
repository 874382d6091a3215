"""Nothing stalls silently, on real Kafka: every reproducer from the Spine v2 issue goes to the
dead-letter topic with its reason while the next good message is applied and /readyz stays ready;
trouble a retry may fix is retried with back-off and named by /readyz until it is gone."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from auth_helpers import bearer
from eventsourcing.persistence import OperationalError
from harness import (
    as_bytes,
    eventually,
    headers_of,
    inbound_lead,
    new_prefix,
    opened,
    produce,
    read_topic,
    settings_for,
    started,
)

from intake.bootstrap import bootstrap as intake_service
from intake.domain import lead_id_for
from intake.settings import IntakeSettings
from leadflow_shared.runtime import Service

pytestmark = pytest.mark.integration

CE = [("ce_specversion", b"1.0"), ("ce_id", b"r-1"), ("ce_source", b"/crm")]


def intake_on(kafka_bootstrap: str, tmp_path: Path, prefix: str, **overrides: Any) -> Service:
    return intake_service(
        settings_for(IntakeSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix, **overrides)
    )


async def readiness(service: Service) -> tuple[int, dict[str, Any]]:
    transport = httpx.ASGITransport(app=service.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://service", headers=bearer(run_dir=service.settings.run_dir)
    ) as http:
        response = await http.get("/readyz")
    return response.status_code, response.json()


async def has_lead(service: Service, external_id: str) -> bool:
    return await service.worker.call(service.app.repository.__contains__, lead_id_for("web-form", external_id))


def contact_changed(contact_id: str) -> bytes:
    return as_bytes(
        {
            "specversion": "1.0",
            "id": "c-1",
            "source": "/crm",
            "type": "contact.lifecycle-changed.v1",
            "data": {
                "source": "web-form",
                "contact_id": contact_id,
                "lifecycle_stage": "salesqualifiedlead",
                "occurred_at": "2026-11-01T10:00:00Z",
            },
        }
    )


async def test_every_reproducer_is_dead_lettered_with_its_reason_and_the_next_good_message_is_applied(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    intake = intake_on(kafka_bootstrap, tmp_path, prefix)
    huge = as_bytes(inbound_lead("huge", notes="x" * 1_048_000))[:1_048_400]
    reproducers: dict[bytes, tuple[bytes, list[tuple[str, bytes]]]] = {
        # intake builds an external id over 200 characters inside the use case
        b"long-contact-id": (contact_changed("c" * 195), []),
        # an integer of more than 4,300 digits
        b"huge-integer": (as_bytes(inbound_lead("int"))[:-1] + b', "score": ' + b"9" * 4400 + b"}", []),
        # a CloudEvents type that is a list, and one that is an object
        b"type-list": (as_bytes({"specversion": "1.0", "id": "1", "source": "s", "type": ["x"], "data": {}}), []),
        b"type-object": (as_bytes({"specversion": "1.0", "id": "1", "source": "s", "type": {"a": 1}, "data": {}}), []),
        # JSON nested ~30,000 deep
        b"deep": (b'{"source": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", []),
        # a header that is not UTF-8, in binary mode
        b"bad-header": (as_bytes(inbound_lead("h")), [*CE, ("ce_type", b"\xff\xfe")]),
    }
    async with started(intake):
        # The auto-create stage is set, so the contact message reaches the use case.
        await intake.worker.call(
            intake.app.execute,
            intake.app.change_settings,
            lambda s: s.set_lifecycle_automation("salesqualifiedlead", None),
        )
        # Given every reproducer, one of 1,048,400 bytes, then a good lead, on leads.inbound.v1,
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=2 * 1024 * 1024)
        await producer.start()
        try:
            topic = prefix + "leads.inbound.v1"
            for key, (value, headers) in reproducers.items():
                await producer.send_and_wait(topic, key=key, value=value, headers=headers, partition=0)
            await producer.send_and_wait(topic, key=b"huge", value=huge, partition=0)
            await producer.send_and_wait(topic, key=b"good", value=as_bytes(inbound_lead("good")), partition=0)
        finally:
            await producer.stop()
        # then the good lead is applied,
        assert await eventually(lambda: has_lead(intake, "good"), until=bool, timeout=30)
        # every bad one is on the dead-letter topic with the reason, its origin, and no input echoed,
        # (sealed: inbound messages may carry personal data; opened here with intake's keys)
        dead = await read_topic(kafka_bootstrap, topic + ".dlq", expect=len(reproducers) + 1, settle=1.0)
        by_key = {d.key: d for d in (opened(intake.app, r) for r in dead)}
        assert set(by_key) == {*reproducers, b"huge"}
        reasons = {key: json.loads(r.headers["leadflow_error"])["reason"] for key, r in by_key.items()}
        assert "refused by the use case" in reasons[b"long-contact-id"] and "contact_id" in reasons[b"long-contact-id"]
        assert "not a readable message" in reasons[b"huge-integer"]
        assert "type" in reasons[b"type-list"] and "type" in reasons[b"type-object"]
        assert "nested too deeply" in reasons[b"deep"]
        assert "not a readable message" in reasons[b"bad-header"]
        assert "exceeds 65536" in reasons[b"huge"]
        for key, record in by_key.items():
            assert record.headers["leadflow_origin"].startswith(f"{topic}:0:".encode()), key
        # the dead letter over the producer's limit is stored truncated, with what identifies the original,
        big = by_key[b"huge"].headers
        assert big["leadflow_truncated"] == b"true"
        assert int(big["leadflow_original_size"]) == len(huge)
        assert big["leadflow_original_sha256"].decode() == hashlib.sha256(huge).hexdigest()
        assert len(by_key[b"huge"].value or b"") < 600 * 1024 and huge.startswith(by_key[b"huge"].value or b"")
        assert max(len(r.value or b"") for r in dead) < 600 * 1024
        # small ones keep their bytes,
        assert by_key[b"deep"].value == reproducers[b"deep"][0]
        # and the service says it is ready: nothing is stuck.
        status, body = await readiness(intake)
        assert status == 200, body


async def test_a_store_that_fails_is_retried_and_named_by_readyz_until_it_recovers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    store = tmp_path / "intake-locked.sqlite"
    intake = intake_on(
        kafka_bootstrap,
        tmp_path,
        prefix,
        sqlite_path=store,
        sqlite_lock_timeout=1,
        stuck_after_attempts=2,
        lead_topic_partitions=1,
    )
    async with started(intake):
        await produce(kafka_bootstrap, prefix + "leads.inbound.v1", [(None, as_bytes(inbound_lead("before")), [])])
        assert await eventually(lambda: has_lead(intake, "before"), until=bool, timeout=30)
        # Given another writer holding the store's write lock,
        blocker = sqlite3.connect(store, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            # when a lead arrives,
            await produce(kafka_bootstrap, prefix + "leads.inbound.v1", [(None, as_bytes(inbound_lead("during")), [])])

            # then /readyz soon names the topic, partition, offset and error,
            async def stuck() -> tuple[int, dict[str, Any]]:
                return await readiness(intake)

            where = f"{prefix}leads.inbound.v1 partition 0 stuck at offset 1"
            _, body = await eventually(stuck, until=lambda r: where in r[1]["checks"]["workers"], timeout=30)
            workers = body["checks"]["workers"]
            assert "database is locked" in workers
            assert not await has_lead(intake, "during")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        # and once the store answers again, the lead is applied and /readyz is green again.
        assert await eventually(lambda: has_lead(intake, "during"), until=bool, timeout=30)
        await eventually(lambda: readiness(intake), until=lambda r: r[0] == 200, timeout=15)


async def test_a_partition_whose_tracked_position_cannot_be_read_is_held_and_named_by_readyz_until_it_can(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    intake = intake_on(kafka_bootstrap, tmp_path, prefix, lead_topic_partitions=1)
    inbound = prefix + "leads.inbound.v1"
    read_position = intake.app.tracked_position
    store = {"answers": False}

    def tracked_position(name: str) -> int | None:
        if name.startswith(inbound) and not store["answers"]:
            raise OperationalError("the store is away")
        return read_position(name)

    # Given a store that cannot say how far the inbound partition was applied,
    intake.app.tracked_position = tracked_position  # type: ignore[method-assign]
    async with started(intake):
        await produce(kafka_bootstrap, inbound, [(None, as_bytes(inbound_lead("held")), [])])
        # then the partition is held (nothing applied from a guessed position) and /readyz says why,
        where = f"{inbound} partition 0 is held: its tracked position could not be read"
        status, body = await eventually(
            lambda: readiness(intake), until=lambda r: where in r[1]["checks"]["workers"], timeout=30
        )
        assert status == 503
        assert "the store is away" in body["checks"]["workers"]
        assert not await has_lead(intake, "held")
        # and once the store answers, the partition is taken from its tracked position, the lead
        # is applied and /readyz is green again.
        store["answers"] = True
        assert await eventually(lambda: has_lead(intake, "held"), until=bool, timeout=30)
        await eventually(lambda: readiness(intake), until=lambda r: r[0] == 200, timeout=15)


async def test_a_dead_background_task_or_consumer_fails_readiness(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = new_prefix()
    intake = intake_on(kafka_bootstrap, tmp_path, prefix)
    async with started(intake):
        assert (await readiness(intake))[0] == 200
        # A relay task that died:
        relay_task = next(t for t in intake._tasks if t.get_name().startswith("relay"))
        relay_task.cancel()
        await asyncio.sleep(0.1)
        status, body = await readiness(intake)
        assert status == 503 and f"relay {prefix}leads.events.v1 stopped" in body["checks"]["workers"]
        # A consumer that stopped:
        await intake.consumers[1].subscriber.stop()
        status, body = await readiness(intake)
        assert f"consumer of {prefix}assignments.events.v1 stopped" in body["checks"]["workers"]


async def test_a_message_that_keeps_failing_is_parked_in_the_dead_letter_topic_where_the_subscription_says_so(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake.application import IntakeApplication

    real = IntakeApplication.receive_lead

    def broken_for_one(self: IntakeApplication, uow: Any, inbound: Any, **kwargs: Any) -> Any:
        if inbound.external_id == "boom":
            raise TypeError("a bug that only this lead hits")
        return real(self, uow, inbound, **kwargs)

    monkeypatch.setattr(IntakeApplication, "receive_lead", broken_for_one)
    prefix = new_prefix()
    intake = intake_on(kafka_bootstrap, tmp_path, prefix, stuck_after_attempts=3, lead_topic_partitions=1)
    async with started(intake):
        # Given a lead that hits a bug (not bad content, not the store), then a good one,
        await produce(
            kafka_bootstrap,
            prefix + "leads.inbound.v1",
            [(b"boom", as_bytes(inbound_lead("boom")), []), (b"fine", as_bytes(inbound_lead("fine")), [])],
        )
        # it is retried and /readyz says so while it is,
        _, body = await eventually(lambda: readiness(intake), until=lambda r: r[0] == 503, timeout=20)
        assert "stuck at offset 0" in body["checks"]["workers"]
        # then, leads.inbound.v1 being a subscription that parks such messages, it goes to the
        # dead-letter topic with the error, the lead after it is applied and /readyz is green again.
        assert await eventually(lambda: has_lead(intake, "fine"), until=bool, timeout=30)
        (dead,) = await read_topic(kafka_bootstrap, prefix + "leads.inbound.v1.dlq", expect=1, settle=0.5)
        reason = json.loads(headers_of(dead)["leadflow_error"])["reason"]
        assert "gave up after" in reason and "TypeError: a bug that only this lead hits" in reason
        assert not await has_lead(intake, "boom")
        await eventually(lambda: readiness(intake), until=lambda r: r[0] == 200, timeout=10)
