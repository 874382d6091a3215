"""The four services as processes on a real broker: a lead from upstream to its seller.

Each test runs its own ServiceStack (a topic prefix, consumer groups, ports and stores of
its own) on the session's broker, and talks to it only the way outsiders do: plain Kafka
clients and HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from harness import as_bytes, inbound_lead, new_prefix

from intake.domain import lead_id_for
from leadflow_shared.contracts import LeadAssignedV1
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_INBOUND
from leadflow_tools import demo, free_port
from leadflow_tools.stack import SERVICES, PostgresStores, ServiceStack

SELLERS = [{"seller_id": f"seller-{i}", "name": f"Seller {i}"} for i in range(1, 5)]


@contextlib.contextmanager
def service_stack(
    bootstrap: str, tmp_path: Path, postgres: PostgresStores | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[ServiceStack]:
    roster = tmp_path / "sellers.json"
    roster.write_text(json.dumps(SELLERS))
    stack = ServiceStack(
        bootstrap=bootstrap,
        run_dir=tmp_path,
        topic_prefix=new_prefix(),
        ports={service: free_port() for service in SERVICES},
        postgres=postgres,
        roster_file=roster,
        lead_topic_partitions=3,
        extra_env=extra_env,
    )
    stack.start(timeout=120)
    try:
        yield stack
    finally:
        stack.stop()


class AssignmentsTopic:
    """A plain consumer of the stack's assignments.events.v1, from its first offset."""

    def __init__(self, stack: ServiceStack) -> None:
        self.topic = stack.topic_prefix + ASSIGNMENTS_EVENTS
        self.records: list[LeadAssignedV1] = []
        self.first_seen: dict[UUID, float] = {}
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=stack.bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )

    async def __aenter__(self) -> AssignmentsTopic:
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(self.topic)
        while not partitions:  # the services created it; our metadata may predate that
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(self.topic)
        self._consumer.assign([TopicPartition(self.topic, p) for p in partitions])
        await self._consumer.seek_to_beginning()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self) -> None:
        for records in (await self._consumer.getmany(timeout_ms=100)).values():
            for record in filter(lambda r: demo.is_lead_assigned(r.headers), records):
                assert record.value is not None
                event = LeadAssignedV1.model_validate_json(record.value)
                self.records.append(event)
                self.first_seen.setdefault(event.lead_id, time.monotonic())

    async def wait_for(self, lead_ids: set[UUID], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not lead_ids <= self.first_seen.keys():
            if time.monotonic() > deadline:
                missing = len(lead_ids - self.first_seen.keys())
                raise AssertionError(f"{missing} of {len(lead_ids)} leads not assigned within {timeout}s")
            await self.poll()

    async def wait_for_count(self, count: int, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.first_seen) < count and time.monotonic() < deadline:
            await self.poll()


async def assert_healthy_and_ready(stack: ServiceStack) -> None:
    async with httpx.AsyncClient(timeout=5.0) as http:
        for service in SERVICES:
            for probe in ("/healthz", "/readyz"):
                response = await http.get(stack.url(service) + probe)
                assert response.status_code == 200, f"{service}{probe}: {response.status_code} {response.text}"


async def send_one_lead_and_time_its_assignment(stack: ServiceStack) -> float:
    lead = inbound_lead(f"e2e-{uuid.uuid4().hex[:8]}")
    lead_id = lead_id_for(lead["source"], lead["external_id"])
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    async with AssignmentsTopic(stack) as assignments:
        try:
            sent_at = time.monotonic()
            await producer.send_and_wait(stack.topic_prefix + LEADS_INBOUND, as_bytes(lead))
        finally:
            await producer.stop()
        await assignments.wait_for({lead_id}, timeout=30)
    [assigned] = [a for a in assignments.records if a.lead_id == lead_id]
    assert assigned.seller_id in {s["seller_id"] for s in SELLERS}
    assert (assigned.source, assigned.external_id) == (lead["source"], lead["external_id"])
    return assignments.first_seen[lead_id] - sent_at


@pytest.mark.e2e
async def test_a_lead_sent_upstream_is_assigned_within_ten_seconds(kafka_bootstrap: str, tmp_path: Path) -> None:
    # Given the four services running as processes with SQLite stores,
    with service_stack(kafka_bootstrap, tmp_path) as stack:
        # each answers its health and readiness probes;
        await assert_healthy_and_ready(stack)
        # when an upstream system publishes a lead on leads.inbound.v1,
        latency = await send_one_lead_and_time_its_assignment(stack)
    # then its LeadAssignedV1 is on assignments.events.v1 within ten seconds of the send.
    print(f"\nend-to-end latency (SQLite stores): {latency:.3f}s")
    assert latency < 10


@pytest.fixture
def postgres_stores(postgres_conninfo: dict[str, Any]) -> Iterator[PostgresStores]:
    """Four fresh databases, one per service, dropped afterwards."""
    with PostgresStores.fresh(postgres_conninfo, SERVICES, "e2e") as fresh:
        yield fresh


@pytest.mark.e2e
async def test_with_postgresql_stores_a_lead_is_assigned_within_ten_seconds(
    kafka_bootstrap: str, tmp_path: Path, postgres_stores: PostgresStores
) -> None:
    # Given the four services running as processes with PostgreSQL stores,
    with service_stack(kafka_bootstrap, tmp_path, postgres=postgres_stores) as stack:
        await assert_healthy_and_ready(stack)
        # when an upstream system publishes a lead,
        latency = await send_one_lead_and_time_its_assignment(stack)
    # then it is assigned within ten seconds too.
    print(f"\nend-to-end latency (PostgreSQL stores): {latency:.3f}s")
    assert latency < 10


@pytest.mark.chaos
async def test_killing_the_assignment_process_midway_loses_and_duplicates_no_assignment(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    leads = demo.build_leads(f"chaos-{uuid.uuid4().hex[:6]}", 200)
    lead_ids = {lead_id_for(lead["source"], lead["external_id"]) for lead in leads}
    with service_stack(kafka_bootstrap, tmp_path) as stack:
        async with AssignmentsTopic(stack) as assignments:
            # Given 200 leads being sent upstream,
            sending = asyncio.create_task(
                demo.send(stack.bootstrap, stack.topic_prefix + LEADS_INBOUND, demo.messages(leads))
            )
            # when the assignment process is SIGKILLed once some of them are assigned,
            await assignments.wait_for_count(40, timeout=60)
            stack.kill("assignment", signal.SIGKILL)
            assigned_before_kill = len(assignments.first_seen)
            await sending
            # and started again on the same store,
            stack.start_service("assignment")
            stack.wait_ready(timeout=60, services=("assignment",))
            # then every lead shows up on assignments.events.v1,
            await assignments.wait_for(lead_ids, timeout=90)
            await asyncio.sleep(1.0)  # let late re-sends arrive before judging duplicates
            await assignments.poll()
        # and assignment's API names a seller for each.
        await assert_each_lead_has_a_seller(stack, lead_ids)
    print(f"\nassignment killed after {assigned_before_kill}/200 leads were assigned")
    # A lead may be published twice (relay re-send after the crash), but only as the same event,
    assert_duplicates_are_the_same_event(assignments.records, lead_ids)
    # and the store decided each lead exactly once.
    assert decisions_per_lead(tmp_path / "stores" / "assignment.sqlite") == dict.fromkeys(lead_ids, 1)


async def assert_each_lead_has_a_seller(stack: ServiceStack, lead_ids: set[UUID]) -> None:
    sellers = {s["seller_id"] for s in SELLERS}
    async with stack.client("assignment", timeout=5.0) as http:
        for lead_id in lead_ids:
            response = await http.get(f"/v1/leads/{lead_id}/assignment")
            assert response.status_code == 200, response.text
            assert response.json()["seller_id"] in sellers


def assert_duplicates_are_the_same_event(records: list[LeadAssignedV1], lead_ids: set[UUID]) -> None:
    events: dict[UUID, set[tuple[UUID, int]]] = defaultdict(set)
    for record in records:
        events[record.lead_id].add((record.aggregate_id, record.version))
    assert set(events) == lead_ids
    assert {lead_id: len(keys) for lead_id, keys in events.items()} == dict.fromkeys(lead_ids, 1)


def decisions_per_lead(store: Path) -> dict[UUID, int]:
    """How many Assignment.Decided events the assignment store holds per lead."""
    from eventsourcing.sqlite import SQLiteDatastore, SQLiteProcessRecorder

    datastore = SQLiteDatastore(str(store))
    try:
        notifications = SQLiteProcessRecorder(datastore).select_notifications(1, 1_000_000)
    finally:
        datastore.close()
    counts: dict[UUID, int] = defaultdict(int)
    for notification in notifications:
        if notification.topic.endswith(":Assignment.Decided"):
            counts[UUID(str(notification.originator_id))] += 1
    return dict(counts)
