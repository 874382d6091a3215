"""Personal data stays out of Kafka keys, headers and every log line (issue 9), on a full run:
the four services as processes, leads with known contact details in over Kafka and HTTP, one of
them bad enough for the dead-letter topic; then every topic's keys and headers and every
service's log are searched for those details."""

from __future__ import annotations

import uuid
from pathlib import Path

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


def needles() -> list[bytes]:
    digits = "".join(c for c in PERSONAL["phone"] if c.isdigit())
    return [
        PERSONAL["first_name"].encode(),
        PERSONAL["last_name"].encode(),
        PERSONAL["email"].encode(),
        digits.encode(),
    ]


async def every_record(bootstrap: str, topics: list[str]) -> list[tuple[str, bytes | None, list[tuple[str, bytes]]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
        consumer.assign(parts)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(parts)
        seen: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []
        while [p for p in parts if await consumer.position(p) < ends[p]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen.extend((r.topic, r.key, list(r.headers or ())) for r in records)
        return seen
    finally:
        await consumer.stop()


@pytest.mark.e2e
async def test_no_personal_data_in_kafka_keys_headers_or_logs(kafka_bootstrap: str, tmp_path: Path) -> None:
    with service_stack(kafka_bootstrap, tmp_path) as stack:
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

    assert any(topic.endswith(".dlq") for topic, _, _ in records), "the bad lead reached its dead-letter topic"
    leaks = [
        (topic, where)
        for topic, key, headers in records
        for where, value in [("key", key or b""), *((f"header {name}", value or b"") for name, value in headers)]
        for needle in needles()
        if needle in value
    ]
    assert leaks == []
    logged = {service: stack.log_file(service).read_bytes() for service in SERVICES}
    assert all(logged.values())  # the services did log
    assert [(s, n) for s, text in logged.items() for n in needles() if n in text] == []
