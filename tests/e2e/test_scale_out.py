"""Scale-out, shown: several processes of one service on one PostgreSQL store, real Kafka.

1. Three assignment processes in one consumer group share a 6-partition leads.events.v1 and
   10,000 new leads; one is SIGKILLed midway. The broker's own description of the group shows
   the split (3 members, 2 partitions each) and the move (2 members, 3 each); every lead is decided once
   and announced once (re-sends aside), no seller goes over capacity.
2. Two intake replicas: one relay publishes (the PostgreSQL advisory lease), the holder is
   SIGKILLed while leads stream in, the other publishes within 10 s, nothing stays unpublished and
   a copy is only ever the same event again.
"""

from __future__ import annotations

import asyncio
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
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from harness import new_prefix

from intake.domain import lead_id_for
from leadflow_shared.envelope import event_id
from leadflow_shared.lease import lease_holder
from leadflow_shared.topics import LEADS_EVENTS, LEADS_INBOUND
from leadflow_tools import demo, free_port
from leadflow_tools.follow import TopicFollower
from leadflow_tools.scaleout import assignment_scale_out
from leadflow_tools.stack import PostgresStores, ServiceStack

LEADS = 10_000


@pytest.fixture
def stores(postgres_conninfo: dict[str, Any]) -> Iterator[PostgresStores]:
    """Fresh intake and assignment databases for one test, dropped afterwards."""
    with PostgresStores.fresh(postgres_conninfo, ("intake", "assignment"), "scale") as fresh:
        yield fresh


@pytest.mark.e2e
async def test_three_assignment_processes_split_six_partitions_and_one_sigkill_loses_and_doubles_nothing(
    kafka_bootstrap: str, tmp_path: Path, stores: PostgresStores
) -> None:
    # Given three assignment processes in one group on one PostgreSQL store and 10,000 new leads,
    # when the replica that also publishes assignments.events.v1 is SIGKILLed once half are assigned,
    result = await assignment_scale_out(
        kafka_bootstrap,
        stores,
        tmp_path,
        replicas=3,
        leads=LEADS,
        kill="publisher",
        kill_after=0.5,
        timeout=240,
        progress=print,
    )
    # then before the kill the broker shows three members holding two partitions each,
    assert result.before.is_spread(3, 6) and result.before.split() == [2, 2, 2], str(result.before)
    # and after it two members holding all six: the killed member's partitions moved to them;
    assert result.after is not None and result.after.is_spread(2, 6), str(result.after)
    assert result.after.split() == [3, 3], str(result.after)
    assert result.killed_member is not None and set(result.after.members) < set(result.before.members)
    assert result.assigned_at_kill < LEADS  # midway: leads were still waiting
    # every lead got exactly one LeadAssignedV1 (a relay re-send is the same aggregate id + version),
    assert set(result.keys) == result.expected
    assert [lead for lead, keys in result.keys.items() if len(keys) != 1] == []
    # the store decided each lead exactly once,
    assert result.store is not None
    assert result.store.decisions == dict.fromkeys(result.expected, 1)
    # and no seller holds more open leads than their capacity (the small ones are full).
    loads = result.store.open_leads
    assert all(open_ <= capacity for open_, capacity in loads.values()), loads
    assert sum(open_ for open_, _ in loads.values()) == LEADS
    assert [open_ == capacity for open_, capacity in loads.values()][:2] == [True, True], loads
    print(
        f"\n3 assignment processes, {LEADS:,} leads: {result.leads_per_second:,.0f} leads/s "
        f"({result.seconds:.1f}s; processes ready and group stable in {result.started_seconds:.1f}s)"
        f"\n  group before the kill: {result.before}"
        f"\n  SIGKILL replica {result.killed} at {result.assigned_at_kill:,} leads assigned; "
        f"partitions moved in {result.moved_seconds:.1f}s: {result.after}"
        f"\n  {result.records:,} LeadAssignedV1 messages, {result.copies} re-sent copies, "
        f"{result.version_conflicts} version conflicts retried"
        f"\n  open/capacity per seller: {loads}"
    )


# -- two intake replicas, one publisher --------------------------------------------------------

SEND_RATE = 200
"""Leads/s on leads.inbound.v1, from the moment the first replica is ready until 3 s after the kill."""


class TopicLog(TopicFollower):
    """Every record of one topic from its first offset, read in the background."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, topic)
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    def take(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        self.records.extend(records)

    def subjects(self, ce_type: bytes) -> set[bytes]:
        return {h["ce_subject"] for h in map(_headers, self.records) if h.get("ce_type") == ce_type}


def _headers(record: ConsumerRecord[bytes, bytes]) -> dict[str, bytes]:
    return dict(record.headers or ())


async def send_until(
    bootstrap: str, topic: str, leads: list[dict[str, Any]], rate: float, stop: asyncio.Event
) -> list[dict[str, Any]]:
    """Send leads at `rate` until `stop` is set (or they run out); returns those sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent: list[dict[str, Any]] = []
    try:
        began, pending = time.monotonic(), []
        for i, (lead, (key, value, headers)) in enumerate(zip(leads, demo.messages(leads), strict=True)):
            if stop.is_set():
                break
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            sent.append(lead)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


def stored_events(stores: PostgresStores) -> set[tuple[str, int]]:
    """(lead id, version) of every event in intake's store that goes out on leads.events.v1."""
    from intake.application import IntakeApplication
    from intake.entrypoints.stream import publications
    from intake.settings import IntakeSettings

    settings = IntakeSettings(**stores.settings_of("intake"))
    reader = IntakeApplication(env={**settings.eventsourcing_env(), "AGGREGATE_CACHE_MAXSIZE": "0"})
    try:
        [publication] = [p for p in publications(reader) if p.topic == LEADS_EVENTS]
        found = reader.recorder.select_notifications(1, 1_000_000, topics=publication.stored_topics())
        return {(str(n.originator_id), n.originator_version) for n in found}
    finally:
        reader.close()


@pytest.mark.e2e
async def test_two_intake_replicas_publish_through_one_relay_and_the_other_takes_over_within_ten_seconds(
    kafka_bootstrap: str, tmp_path: Path, stores: PostgresStores
) -> None:
    prefix = new_prefix()
    stack = ServiceStack(
        bootstrap=kafka_bootstrap,
        run_dir=tmp_path,
        topic_prefix=prefix,
        ports={"intake": free_port()},
        postgres=stores,
        lead_topic_partitions=6,
        services=("intake",),
        replicas={"intake": 2},
    )
    conninfo = stores.dsn("intake")
    lease = f"leadflow:{stores.database('intake')}:relay:{prefix}{LEADS_EVENTS}"  # as runtime names relay leases
    leads = demo.build_leads(f"failover-{uuid.uuid4().hex[:6]}", 12_000, seed=3)
    received = b"lead.received.v1"
    topic = TopicLog(kafka_bootstrap, prefix + LEADS_EVENTS)
    stop_sending = asyncio.Event()
    began = time.monotonic()
    starting = asyncio.create_task(asyncio.to_thread(stack.start, 120.0))
    sending: asyncio.Task[list[dict[str, Any]]] | None = None
    try:
        # Given two intake replicas on one store (the second starting while leads already flow),
        while not await answers(stack.url("intake", 0) + "/readyz"):
            assert not starting.done(), starting.exception() if starting.done() else None
            await asyncio.sleep(0.2)
        sending = asyncio.create_task(
            send_until(kafka_bootstrap, prefix + LEADS_INBOUND, leads, SEND_RATE, stop_sending)
        )
        await topic.start()
        await starting
        started = time.monotonic() - began
        await asyncio.sleep(1.0)
        # where exactly one replica holds the publishing lease and events are flowing,
        holder = await asyncio.to_thread(lease_holder, conninfo, lease)
        pids = stack.pids("intake")
        assert holder is not None, "nobody holds the publishing lease"
        [killed] = [r for r, pid in enumerate(pids) if holder.endswith(f":{pid}")]
        survivor = 1 - killed
        assert len(topic.subjects(received)) > 0
        # when the holder is SIGKILLed while leads keep coming,
        stack.kill("intake", signal.SIGKILL, replica=killed)
        killed_at_ms = int(time.time() * 1000)
        published_before = len(topic.records)
        await asyncio.sleep(3.0)
        stop_sending.set()
        sent = await sending
        lead_ids = {str(lead_id_for(lead["source"], lead["external_id"])).encode() for lead in sent}
        # then the survivor takes the lease and publishes within 10 s (the first record produced
        # after the kill: the dead process produces nothing),
        deadline = time.monotonic() + 60
        while not (after := [r.timestamp for r in topic.records if r.timestamp > killed_at_ms]):
            assert time.monotonic() < deadline, "nothing published after the kill"
            await asyncio.sleep(0.1)
        takeover = (min(after) - killed_at_ms) / 1000
        new_holder = await asyncio.to_thread(lease_holder, conninfo, lease)
        assert new_holder is not None and new_holder.endswith(f":{pids[survivor]}"), (new_holder, pids)
        # every lead is announced,
        deadline = time.monotonic() + 90
        while not lead_ids <= topic.subjects(received):
            missing = len(lead_ids - topic.subjects(received))
            assert time.monotonic() < deadline, f"{missing} of {len(lead_ids)} leads never announced"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # late copies, before they are judged
    finally:
        stop_sending.set()
        if sending is not None:
            await asyncio.gather(sending, return_exceptions=True)
        await asyncio.gather(starting, return_exceptions=True)
        await topic.stop()
        await asyncio.to_thread(stack.stop)
    # every event in intake's store is on leads.events.v1, and nothing else is,
    on_topic: dict[tuple[str, int], set[bytes]] = defaultdict(set)
    copies_before_kill = 0
    for record in topic.records:
        headers = _headers(record)
        key = (headers["ce_subject"].decode(), int(headers["ce_aggregateversion"]))
        if key in on_topic and record.timestamp < killed_at_ms:
            copies_before_kill += 1
        on_topic[key].add(headers["ce_id"])
    stored = await asyncio.to_thread(stored_events, stores)
    assert len(stored) >= len(lead_ids)
    assert stored - on_topic.keys() == set(), f"{len(stored - on_topic.keys())} stored events never published"
    assert on_topic.keys() - stored == set()
    # a copy is the documented re-send (the same CloudEvents id, so the same aggregate version),
    assert {key: ids for key, ids in on_topic.items() if ids != {event_id(UUID(key[0]), key[1]).encode()}} == {}
    # and before the kill there was one publisher: no event went out twice.
    assert copies_before_kill == 0
    copies = len(topic.records) - len(on_topic)
    print(
        f"\n2 intake replicas ready in {started:.1f}s; {len(sent):,} leads at {SEND_RATE}/s; the lease holder "
        f"(replica {killed}) SIGKILLed after {published_before:,} messages; replica {survivor} published "
        f"{takeover:.2f}s after the kill"
        f"\n  {len(stored):,} events stored, all {len(on_topic):,} on leads.events.v1, {copies} re-sent copies"
    )
    assert takeover <= 10.0, f"the survivor published only {takeover:.1f}s after the kill"
