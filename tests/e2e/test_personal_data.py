"""Personal data on a full run (issue 9): the four services as processes, leads with known
contact details in over Kafka and HTTP, some bad enough for the dead-letter topic.

- It stays out of Kafka keys, headers and every log line.
- Erasure: one lead, written through Kafka and HTTP (an update, a follow-up note, a bad re-send
  dead-lettered), is erased over HTTP; then the event stores, every topic leadflow writes (values
  too, dead letters included), the read models and the logs — every file of the run folder — are
  searched for its values: zero hits. (The inbound topic is the upstream's, not leadflow's.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from harness import as_bytes, inbound_lead
from test_end_to_end import AssignmentsTopic, service_stack

from intake.domain.lead import lead_id_for
from leadflow_shared.topics import ALL_TOPICS, LEADS_INBOUND
from leadflow_tools.stack import SERVICES

MARK = uuid.uuid4().hex[:10]
PERSONAL = {
    "first_name": f"Zelda{MARK}",
    "last_name": f"Quux{MARK}",
    "email": f"zelda.{MARK}@example.org",
    "phone": "+44 20 7946 0" + str(int(MARK[:4], 16) % 1000).zfill(3),
}


ERASED = {
    "first_name": f"Yorick{MARK}",
    "last_name": f"Vantablack{MARK}",
    "email": f"yorick.{MARK}@example.net",
    "phone": "+44 20 7946 1" + str(int(MARK[4:8], 16) % 1000).zfill(3),
}
ERASED_NOTES = (f"met at the fair {MARK}", f"call after lunch {MARK}")


def erased_needles() -> list[bytes]:
    digits = "".join(c for c in ERASED["phone"] if c.isdigit())
    return [
        *(ERASED[k].encode() for k in ("first_name", "last_name", "email")),
        digits.encode(),
        *(n.encode() for n in ERASED_NOTES),
    ]


def needles() -> list[bytes]:
    digits = "".join(c for c in PERSONAL["phone"] if c.isdigit())
    return [
        PERSONAL["first_name"].encode(),
        PERSONAL["last_name"].encode(),
        PERSONAL["email"].encode(),
        digits.encode(),
    ]


async def every_record(
    bootstrap: str, topics: list[str]
) -> list[tuple[str, bytes | None, list[tuple[str, bytes]], bytes | None]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
        consumer.assign(parts)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(parts)
        seen: list[tuple[str, bytes | None, list[tuple[str, bytes]], bytes | None]] = []
        while [p for p in parts if await consumer.position(p) < ends[p]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen.extend((r.topic, r.key, list(r.headers or ()), r.value) for r in records)
        return seen
    finally:
        await consumer.stop()


@pytest.mark.e2e
async def test_no_personal_data_in_kafka_keys_headers_or_logs_and_an_erased_lead_nowhere(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with service_stack(kafka_bootstrap, tmp_path) as stack:
        erased_id = await write_then_erase(stack)
        contact = {k: PERSONAL[k] for k in ("first_name", "last_name", "email", "phone")}
        good = inbound_lead(f"pd-{MARK}", contact=contact)
        bad = inbound_lead(f"pd-bad-{MARK}", contact={**contact, "phone": "12"}, score="high")
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
        await producer.start()
        async with AssignmentsTopic(stack) as assignments:
            try:
                for lead in (good, bad):
                    await producer.send_and_wait(stack.topic_prefix + LEADS_INBOUND, as_bytes(lead))
            finally:
                await producer.stop()
            async with stack.client("intake") as http:
                posted = await http.post("/v1/leads", json=inbound_lead(f"pd-http-{MARK}", contact=contact))
                assert posted.status_code in (200, 201), posted.text
                refused = await http.post(
                    "/v1/leads", json={**good, "external_id": "x", "contact": {**contact, "email": "no"}}
                )
                assert refused.status_code == 422 and PERSONAL["first_name"] not in refused.text
            lead_ids = {lead_id_for(good["source"], good["external_id"]), lead_id_for("web-form", f"pd-http-{MARK}")}
            await assignments.wait_for(lead_ids, timeout=30)
        records = await every_record(stack.bootstrap, [stack.topic_prefix + t for t in ALL_TOPICS])

    assert any(topic.endswith(".dlq") for topic, _, _, _ in records), "the bad lead reached its dead-letter topic"
    leaks = [
        (topic, where)
        for topic, key, headers, _ in records
        for where, value in [("key", key or b""), *((f"header {name}", value or b"") for name, value in headers)]
        for needle in needles()
        if needle in value
    ]
    assert leaks == []
    logged = {service: stack.log_file(service).read_bytes() for service in SERVICES}
    assert all(logged.values())  # the services did log
    assert [(s, n) for s, text in logged.items() for n in needles() if n in text] == []

    # The erased lead: nothing in any topic leadflow writes (keys, headers, values) ...
    inbound = stack.topic_prefix + LEADS_INBOUND
    assert any(topic.endswith(".dlq") and key == str(erased_id).encode() for topic, key, _, _ in records)
    in_topics = [
        topic
        for topic, key, headers, value in records
        if topic != inbound
        for blob in (key or b"", value or b"", *(v or b"" for _, v in headers))
        for needle in erased_needles()
        if needle in blob
    ]
    assert in_topics == []
    # ... nor in any file of the run folder: event stores, read models, logs, anything.
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "intake-read.sqlite" for p in files) and any(p.suffix == ".log" for p in files)
    in_files = [(p.name, n) for p in files for n in erased_needles() if n in p.read_bytes()]
    assert in_files == []


async def write_then_erase(stack: Any) -> UUID:
    """A lead in over Kafka, updated and followed up over HTTP, a bad re-send dead-lettered; erased."""
    contact = {k: ERASED[k] for k in ("first_name", "last_name", "email", "phone")}
    external_id = f"erase-{MARK}"
    lead_id = lead_id_for("web-form", external_id)
    first = inbound_lead(external_id, contact=contact, notes=ERASED_NOTES[0])
    bad = inbound_lead(external_id, contact=contact, notes=ERASED_NOTES[0], score="high")
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        for message in (first, bad):
            await producer.send_and_wait(stack.topic_prefix + LEADS_INBOUND, as_bytes(message), key=b"erase")
    finally:
        await producer.stop()
    async with stack.client("intake") as http:
        deadline = time.monotonic() + 30
        while (await http.get(f"/v1/leads/{lead_id}")).status_code != 200:
            assert time.monotonic() < deadline, "the Kafka lead was not taken in"
            await asyncio.sleep(0.2)
        newer = {**first, "occurred_at": "2026-11-02T10:00:00+00:00", "score": 77}
        assert (await http.post("/v1/leads", json=newer)).json()["outcome"] == "updated"
        assert (await http.post(f"/v1/leads/{lead_id}/follow-ups", json={"note": ERASED_NOTES[1]})).status_code == 201
        found = await http.get("/v1/leads", params={"q": ERASED["last_name"], "min_position": "0"})
        while not any(r["lead_id"] == str(lead_id) for r in found.json()["items"]):
            assert time.monotonic() < deadline, "the lead never reached the lead list"
            await asyncio.sleep(0.2)
            found = await http.get("/v1/leads", params={"q": ERASED["last_name"]})
        await dead_lettered(stack, lead_id)
        erased = await http.post(f"/v1/leads/{lead_id}/erasure", json={"reason": "the person asked"})
        assert erased.status_code == 200, erased.text
        lead = (await http.get(f"/v1/leads/{lead_id}")).json()
        assert lead["contact"] == {} and lead["score"] == 77 and lead["erased_at"]  # non-personal history stays
        while any(
            r["lead_id"] == str(lead_id)
            for r in (await http.get("/v1/leads", params={"q": ERASED["last_name"]})).json()["items"]
        ):
            assert time.monotonic() < deadline + 30, "the lead list was not scrubbed"
            await asyncio.sleep(0.2)
    return lead_id


async def dead_lettered(stack: Any, lead_id: UUID) -> None:
    dlq = stack.topic_prefix + LEADS_INBOUND + ".dlq"
    deadline = time.monotonic() + 30
    while True:
        records = await every_record(stack.bootstrap, [dlq])
        if any(key == str(lead_id).encode() for _, key, _, _ in records):
            return
        assert time.monotonic() < deadline, "the bad re-send was not dead-lettered"
        await asyncio.sleep(0.5)
