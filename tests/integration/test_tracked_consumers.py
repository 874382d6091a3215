"""Tracked consumers on real Kafka: dead letters, redelivery, re-sent events, lost offsets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth_helpers import bearer
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

from assignment.bootstrap import bootstrap as assignment_service
from assignment.settings import AssignmentSettings
from intake.bootstrap import bootstrap as intake_service
from intake.domain import lead_id_for
from intake.settings import IntakeSettings
from leadflow_shared.contracts import LeadAssignedV1, LeadReceivedV1
from leadflow_shared.envelope import to_binary
from leadflow_shared.runtime import Service

pytestmark = pytest.mark.integration


def roster_file(tmp_path: Path, count: int = 3) -> Path:
    path = tmp_path / "roster.json"
    path.write_text(json.dumps([{"seller_id": f"s{i}", "name": f"Seller {i}"} for i in range(1, count + 1)]))
    return path


def assignment_on(kafka_bootstrap: str, tmp_path: Path, prefix: str, **overrides: Any) -> Service:
    settings = settings_for(
        AssignmentSettings,
        tmp_path=tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        roster_file=roster_file(tmp_path),
        **overrides,
    )
    return assignment_service(settings)


def lead_received(external_id: str) -> LeadReceivedV1:
    lead_id = lead_id_for("web-form", external_id)
    return LeadReceivedV1(
        aggregate_id=lead_id,
        version=1,
        lead_id=lead_id,
        source="web-form",
        external_id=external_id,
        type="customer_inquiry",
        contact={},
        company={},
        occurred_at="2026-11-01T10:00:00Z",
        received_at="2026-11-01T10:00:01Z",
    )


def binary(event: LeadReceivedV1) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return to_binary(event, source="test", time=event.received_at).record()


async def assignments(service: Service) -> list[LeadAssignedV1]:
    """Every LeadAssigned the assignment service has stored (what its relay publishes)."""
    from assignment.entrypoints.stream import to_integration_event

    app = service.app
    notifications = await service.worker.call(app.recorder.select_notifications, 1, 10_000)
    events = [to_integration_event(app.mapper.to_domain_event(n)) for n in notifications]
    return [e for e in events if isinstance(e, LeadAssignedV1)]


async def test_bad_inbound_messages_go_to_the_dead_letter_topic_and_consumption_goes_on(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    intake = intake_service(settings_for(IntakeSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix))
    malformed = b'{"source": "web-form", "external_id": '
    missing_field = as_bytes({k: v for k, v in inbound_lead("m1").items() if k != "external_id"})
    wrong_type = as_bytes(inbound_lead("w1", score="very high"))
    good = as_bytes(inbound_lead("g1"))
    async with started(intake):
        # Given three bad messages followed by a good one on leads.inbound.v1,
        await produce(
            kafka_bootstrap,
            prefix + "leads.inbound.v1",
            [
                (b"k-malformed", malformed, [("trace", b"1")]),
                (b"k-missing", missing_field, []),
                (b"k-wrong", wrong_type, []),
                (b"k-good", good, []),
            ],
        )
        # then each bad one lands on the DLQ, sealed (it may carry personal data), with its key,
        # original bytes and headers inside, and the error beside them,
        dead = await read_topic(kafka_bootstrap, prefix + "leads.inbound.v1.dlq", expect=3, settle=0.5)
        assert not [r for r in dead if b"k-" in (r.key or b"") or b"web-form" in (r.value or b"")]
        by_key = {d.key: d for d in (opened(intake.app, r) for r in dead)}
        assert set(by_key) == {b"k-malformed", b"k-missing", b"k-wrong"}
        assert by_key[b"k-malformed"].value == malformed
        assert by_key[b"k-malformed"].headers["trace"] == b"1"
        assert b"not valid JSON" in by_key[b"k-malformed"].headers["leadflow_error"]
        assert by_key[b"k-missing"].value == missing_field
        missing_error = json.loads(by_key[b"k-missing"].headers["leadflow_error"])
        assert missing_error["errors"][0]["loc"] == ["external_id"]
        assert missing_error["errors"][0]["type"] == "missing"
        wrong_error = json.loads(by_key[b"k-wrong"].headers["leadflow_error"])
        assert wrong_error["errors"][0]["loc"] == ["score"]
        assert "very high" not in by_key[b"k-wrong"].headers["leadflow_error"].decode()  # no input echoed
        # and the good message after them is applied.
        app = intake.app
        lead = await eventually(
            lambda: intake.worker.call(app.repository.__contains__, lead_id_for("web-form", "g1")), until=bool
        )
        assert lead


async def test_the_same_lead_sent_on_the_topic_then_over_http_is_one_lead_and_one_assignment(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    intake = intake_service(settings_for(IntakeSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix))
    assignment = assignment_on(kafka_bootstrap, tmp_path, prefix)
    lead = inbound_lead("dup-1")
    lead_id = lead_id_for("web-form", "dup-1")
    async with started(intake), started(assignment):
        # Given the lead arrived on the topic and was assigned,
        await produce(kafka_bootstrap, prefix + "leads.inbound.v1", [(None, as_bytes(lead), [])])
        await eventually(lambda: assignments(assignment), until=lambda a: len(a) == 1)
        # when the same lead is POSTed over HTTP,
        transport = httpx.ASGITransport(app=intake.api)
        headers = bearer("admin", run_dir=intake.settings.run_dir)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=headers) as http:
            response = await http.post("/v1/leads", json=lead)
        # then it is recognised, not duplicated:
        assert response.status_code == 200
        assert response.json()["created"] is False
        assert response.json()["lead"]["lead_id"] == str(lead_id)
        events = await read_topic(kafka_bootstrap, prefix + "leads.events.v1", expect=1, settle=1.5)
        received = [e for e in events if headers_of(e)["ce_type"] == b"lead.received.v1"]
        assert len(received) == 1  # one lead (the assignment that followed is a status change)
        published = await read_topic(kafka_bootstrap, prefix + "assignments.events.v1", expect=1, settle=1.5)
        assert [LeadAssignedV1.model_validate_json(r.value).lead_id for r in published] == [lead_id]


async def test_a_message_delivered_twice_changes_state_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = new_prefix()
    assignment = assignment_on(kafka_bootstrap, tmp_path, prefix)
    event = lead_received("twice-1")
    async with started(assignment):
        await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(event)])
        await eventually(lambda: assignments(assignment), until=lambda a: len(a) == 1)
        app = assignment.app
        max_before = await assignment.worker.call(app.recorder.max_notification_id)
        record = (await read_topic(kafka_bootstrap, prefix + "leads.events.v1", expect=1))[0]
        # When Kafka delivers the same message again (seek back to its offset),
        (consumer,) = assignment.consumers
        applied_before = consumer.applied
        await consumer.rewind(record.partition, record.offset)
        await eventually(lambda: _async(consumer.skipped_as_seen), until=lambda n: n >= 1)
        # then nothing new is stored and the handler was not run again.
        assert await assignment.worker.call(app.recorder.max_notification_id) == max_before
        assert consumer.applied == applied_before
        assert len(await assignments(assignment)) == 1


async def test_an_event_re_sent_by_the_upstream_relay_at_a_new_offset_is_applied_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    assignment = assignment_on(kafka_bootstrap, tmp_path, prefix)
    event = lead_received("resent-1")
    async with started(assignment):
        # Given intake's relay published LeadReceived, crashed before recording, and re-sent it,
        await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(event), binary(event)])
        # then both messages are consumed (tracking moves past both offsets),
        app = assignment.app
        await eventually(
            lambda: assignment.worker.call(app.tracked_position, _tracking_name(prefix, event)),
            until=lambda p: p == 2,
        )
        # and the lead is assigned exactly once.
        assert [a.lead_id for a in await assignments(assignment)] == [event.lead_id]
        sellers = await assignment.worker.call(app.sellers)
        assert sum(s.open_count for s in sellers) == 1


async def test_a_consumer_whose_committed_offset_is_lost_or_behind_resumes_from_its_tracked_position(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    store = tmp_path / "assignment.sqlite"

    def service(group: str) -> Service:
        return assignment_on(kafka_bootstrap, tmp_path, prefix, sqlite_path=store, consumer_group=prefix + group)

    first = [lead_received(f"resume-{i}") for i in range(6)]
    later = [lead_received(f"resume-later-{i}") for i in range(4)]
    # Given six leads processed by a consumer in group A,
    async with started(service("A")) as a:
        await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(e) for e in first])
        await eventually(lambda: assignments(a), until=lambda x: len(x) == 6)
    # and four more published while it was down,
    await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(e) for e in later])
    # when it restarts in group B, which has no committed offsets at all,
    async with started(service("B")) as b:
        done = await eventually(lambda: assignments(b), until=lambda x: len(x) >= 10)
        await asyncio.sleep(1.0)  # give a wrong implementation time to re-apply old messages
        (consumer,) = b.consumers
        # it started at the tracked position: the first six were not even handed to the handler.
        assert (consumer.applied, consumer.skipped_as_seen) == (4, 0)
    # then each lead was assigned exactly once, none skipped, none twice.
    assert sorted(str(x.lead_id) for x in done) == sorted(str(e.lead_id) for e in first + later)
    # When group A comes back with its committed offset behind (it committed only up to six),
    async with started(service("A")) as again:
        await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(lead_received("resume-last"))])
        done = await eventually(lambda: assignments(again), until=lambda x: len(x) >= 11)
        await asyncio.sleep(1.0)
        assert again.consumers[0].applied == 1
    assert len({x.lead_id for x in done}) == len(done) == 11


def _tracking_name(prefix: str, event: LeadReceivedV1) -> str:
    # The test topic has 3 partitions; find the one this key went to.
    from aiokafka.partitioner import DefaultPartitioner

    partition = DefaultPartitioner()(str(event.lead_id).encode(), [0, 1, 2], [0, 1, 2])
    return f"{prefix}leads.events.v1:{partition}"


async def _async(value: int) -> int:
    return value
