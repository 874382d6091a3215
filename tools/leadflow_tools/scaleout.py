"""Scale-out of assignment, shown: N `python -m assignment` processes, one consumer group, one
PostgreSQL store, a backlog of leads on a 6-partition `leads.events.v1`.

`assignment_scale_out` is the scenario of `tests/e2e/test_scale_out.py` and of the bench's
scale-out phase. It feeds assignment directly with `lead.received.v1` CloudEvents built with
leadflow's own contract and envelope code, exactly as intake's relay publishes them (binary
mode, key = subject = lead id, version 1, previous version 0), so the figure is assignment's
alone. It can SIGKILL one replica midway, and it reports what an outsider can see: the consumer
group as the broker describes it (members and the partitions each holds) before and after the
kill, every `lead.assigned.v1` on `assignments.events.v1`, and, from the store, the decisions per
lead and each seller's open leads against their capacity.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.structs import ConsumerRecord

from leadflow_shared.contracts import LeadAssignedV1, LeadReceivedV1
from leadflow_shared.contracts.inbound import Company, Contact, LeadType
from leadflow_shared.envelope import to_binary
from leadflow_shared.lease import lease_holder
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS

from .follow import TopicFollower
from .stack import PostgresStores, ServiceStack

Progress = Callable[[str], None]

PARTITIONS = 6
INTAKE_SOURCE = "leadflow/intake"
"""The CloudEvents source intake's relay sets on leads.events.v1."""


def sellers_for(leads: int) -> list[dict[str, Any]]:
    """Ten sellers, room for 125 % of the leads: two small ones (5 % of the leads each) fill up
    early, so capacity is reached under concurrency, and eight share the rest."""
    small = max(1, leads // 20)
    large = -(-(leads * 5 // 4 - 2 * small) // 8)  # ceiling
    capacities = [small, small] + [large] * 8
    return [
        {"seller_id": f"seller-{i:02d}", "name": f"Seller {i}", "capacity": capacity}
        for i, capacity in enumerate(capacities, start=1)
    ]


def received_leads(batch: str, count: int) -> list[tuple[UUID, tuple[bytes, bytes, list[tuple[str, bytes]]]]]:
    """`count` new leads as intake's relay would publish them: (lead id, (key, value, headers))."""
    now = datetime.now(UTC)
    countries = ("DE", "GB", "FR", "US", "NL", "SE")
    out = []
    for n in range(count):
        lead_id = uuid.uuid5(uuid.NAMESPACE_URL, f"leadflow-scale-out:{batch}:{n}")
        event = LeadReceivedV1(
            aggregate_id=lead_id,
            version=1,
            previous_version=0,
            lead_id=lead_id,
            source="web-form",
            external_id=f"{batch}-{n:06d}",
            type=LeadType.customer_inquiry,
            contact=Contact(),
            company=Company(country=countries[n % len(countries)], industry="manufacturing"),
            score=n % 100,
            campaign_id="scale-out",
            occurred_at=now,
            received_at=now,
            created_by="upstream:web-form",
        )
        out.append((lead_id, to_binary(event, source=INTAKE_SOURCE, time=now).record()))
    return out


async def produce_all(
    bootstrap: str, topic: str, messages: Sequence[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    """Send as fast as the producer goes (idempotent, acks=all, as leadflow's relay does)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        pending = [await producer.send(topic, value=v, key=k, headers=h) for k, v, h in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


# -- the consumer group, as the broker describes it ----------------------------------------


@dataclass(frozen=True)
class GroupView:
    """One DescribeGroups answer: the group's state and the partitions of `topic` each member holds."""

    state: str
    members: dict[str, tuple[int, ...]]
    """member id → partitions of the topic it holds (sorted)."""

    def held(self) -> list[int]:
        return sorted(p for partitions in self.members.values() for p in partitions)

    def split(self) -> list[int]:
        """Partitions per member, largest first."""
        return sorted((len(p) for p in self.members.values()), reverse=True)

    def is_spread(self, members: int, partitions: int) -> bool:
        """Stable, `members` members, every partition held by exactly one of them, none idle."""
        return (
            self.state == "Stable"
            and len(self.members) == members
            and self.held() == list(range(partitions))
            and all(self.members.values())
        )

    def __str__(self) -> str:
        inner = ", ".join(f"{member[-8:]}: {list(p)}" for member, p in sorted(self.members.items()))
        return f"{self.state} {{{inner}}}"


async def describe_group(bootstrap: str, group_id: str, topic: str) -> GroupView:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-scale-out")
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group_id])
    finally:
        await admin.close()
    [group] = response.to_object()["groups"]
    members: dict[str, tuple[int, ...]] = {}
    for member in group["members"]:
        raw = member["member_assignment"]
        partitions: list[int] = []
        if raw:
            assignment = ConsumerProtocolMemberAssignment.decode(raw)
            for assigned_topic, numbers in assignment.assignment:
                if assigned_topic == topic:
                    partitions.extend(numbers)
        members[member["member_id"]] = tuple(sorted(partitions))
    return GroupView(state=group["state"], members=members)


async def wait_for_group(
    bootstrap: str, group_id: str, topic: str, *, members: int, partitions: int, timeout: float
) -> GroupView:
    """Describe the group until `members` members hold all partitions between them."""
    deadline = time.monotonic() + timeout
    view = GroupView("unknown", {})
    while time.monotonic() < deadline:
        view = await describe_group(bootstrap, group_id, topic)
        if view.is_spread(members, partitions):
            return view
        await asyncio.sleep(0.25)
    raise AssertionError(
        f"group {group_id}: not {members} members holding {partitions} partitions after "
        f"{timeout:.0f}s; last seen {view}"
    )


# -- what comes out ----------------------------------------------------------------------


_ASSIGNED = LeadAssignedV1.cloudevents_type.encode()


class AssignedRecords(TopicFollower):
    """Every `lead.assigned.v1` on a topic from its first offset, read in the background."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, topic)
        self.records = 0
        self.keys: dict[UUID, set[tuple[UUID, int]]] = defaultdict(set)
        """lead id → the (aggregate id, version) of each LeadAssignedV1 seen for it."""
        self.sellers: dict[UUID, str | None] = {}
        self.last_new_at = 0.0

    def take(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            if dict(record.headers or ()).get("ce_type") != _ASSIGNED or record.value is None:
                continue
            self.records += 1
            event = LeadAssignedV1.model_validate_json(record.value)
            if event.lead_id not in self.keys:
                self.last_new_at = time.monotonic()
            self.keys[event.lead_id].add((event.aggregate_id, event.version))
            self.sellers[event.lead_id] = event.seller_id

    @property
    def leads(self) -> int:
        return len(self.keys)

    async def until(self, count: int, timeout: float, progress: Progress | None = None) -> None:
        deadline, step = time.monotonic() + timeout, time.monotonic() + 5
        while self.leads < count:
            self.check()
            if time.monotonic() > deadline:
                raise AssertionError(f"{count - self.leads} of {count} leads not assigned within {timeout:.0f}s")
            if progress is not None and time.monotonic() > step:
                progress(f"  {self.leads:,}/{count:,} leads assigned")
                step = time.monotonic() + 5
            await asyncio.sleep(0.05)


# -- the store ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreFacts:
    decisions: dict[UUID, int]
    """lead id → Assignment.Decided events stored for it."""
    open_leads: dict[str, tuple[int, int]]
    """seller id → (open leads, capacity), from the sellers' own streams."""


def store_facts(postgres: PostgresStores, sellers: Sequence[dict[str, Any]]) -> StoreFacts:
    """Read assignment's PostgreSQL store (the truth, not a read model)."""
    from eventsourcing.utils import get_topic

    from assignment.application import AssignmentApplication
    from assignment.domain import Assignment
    from assignment.settings import AssignmentSettings

    settings = AssignmentSettings(**postgres.settings_of("assignment"))
    reader = AssignmentApplication(env={**settings.eventsourcing_env(), "AGGREGATE_CACHE_MAXSIZE": "0"})
    try:
        decided = get_topic(Assignment.Decided)  # type: ignore[attr-defined]  # made by @event at run time
        counts: Counter[UUID] = Counter()
        start = 1
        while True:
            page = reader.recorder.select_notifications(start, 10_000, topics=[decided])
            counts.update(UUID(str(n.originator_id)) for n in page)
            if len(page) < 10_000:
                break
            start = page[-1].id + 1
        open_leads = {}
        for seller in sellers:
            state = reader.get_seller(seller["seller_id"])
            open_leads[seller["seller_id"]] = (state.open_count, seller["capacity"])
    finally:
        reader.close()
    return StoreFacts(decisions=dict(counts), open_leads=open_leads)


# -- the scenario -------------------------------------------------------------------------


@dataclass
class ScaleOutResult:
    replicas: int
    leads: int
    seconds: float
    """From the first lead sent to the last lead's first LeadAssignedV1 seen."""
    started_seconds: float
    """Starting the processes until the group held every partition."""
    before: GroupView
    """The group just before the kill (or once all leads were sent, without one)."""
    after: GroupView | None = None
    """The group once the killed replica's partitions had moved."""
    killed: int | None = None
    """Replica index SIGKILLed midway."""
    killed_member: str | None = None
    assigned_at_kill: int = 0
    moved_seconds: float | None = None
    """From the SIGKILL to the group showing the survivors holding every partition."""
    records: int = 0
    """LeadAssignedV1 messages read (re-sent copies included)."""
    keys: dict[UUID, set[tuple[UUID, int]]] = field(default_factory=dict)
    expected: set[UUID] = field(default_factory=set)
    store: StoreFacts | None = None
    version_conflicts: int = 0
    """'version conflict' lines in the replicas' logs: decisions retried on fresh state."""
    cpu_seconds: float = 0.0
    """CPU the assignment processes used from the first send to the last assignment (without a kill)."""
    machine_busy_seconds: float = 0.0
    """CPU the whole machine used meanwhile (broker, PostgreSQL and this process included)."""
    apply_seconds: float = 0.0
    """Units of work on leads.events.v1, summed over the replicas (`leadflow_apply_seconds`): the
    part under the decisions mutex, replicas taking turns (without a kill)."""

    @property
    def leads_per_second(self) -> float:
        return self.leads / self.seconds

    @property
    def copies(self) -> int:
        return self.records - sum(len(k) for k in self.keys.values())


async def assignment_scale_out(
    bootstrap: str,
    postgres: PostgresStores,
    run_dir: Path,
    *,
    replicas: int = 3,
    leads: int = 10_000,
    partitions: int = PARTITIONS,
    kill: int | Literal["publisher"] | None = None,
    kill_after: float = 0.5,
    timeout: float = 300.0,
    progress: Progress | None = None,
) -> ScaleOutResult:
    """Start `replicas` assignment processes on `postgres` (its assignment database: fresh),
    wait until they share the `partitions` partitions, send `leads` new leads at once, SIGKILL
    replica `kill` once `kill_after` of them are assigned (if given; "publisher": the replica
    holding the publishing lease of assignments.events.v1, so its relay moves too), and wait for
    every lead. The processes are stopped on return."""
    say = progress or (lambda _message: None)
    run_dir.mkdir(parents=True, exist_ok=True)
    sellers = sellers_for(leads)
    roster = run_dir / "sellers.json"
    roster.write_text(json.dumps(sellers))
    prefix = f"scale{uuid.uuid4().hex[:8]}."
    stack = ServiceStack(
        bootstrap=bootstrap,
        run_dir=run_dir,
        topic_prefix=prefix,
        ports={"assignment": _free_port()},
        postgres=postgres,
        roster_file=roster,
        lead_topic_partitions=partitions,
        services=("assignment",),
        replicas={"assignment": replicas},
    )
    group_id, topic = f"{prefix}leadflow-assignment", prefix + LEADS_EVENTS
    batch = uuid.uuid4().hex[:8]
    messages = received_leads(batch, leads)
    expected = {lead_id for lead_id, _ in messages}
    began = time.monotonic()
    say(f"starting {replicas} assignment process(es) on one PostgreSQL store")
    await asyncio.to_thread(stack.start, 120.0)
    try:
        view = await wait_for_group(bootstrap, group_id, topic, members=replicas, partitions=partitions, timeout=60)
        started = time.monotonic() - began
        say(f"group after {started:.1f}s: {view}")
        watcher = AssignedRecords(bootstrap, prefix + ASSIGNMENTS_EVENTS)
        await watcher.start()
        try:
            cpu_before, busy_before = _cpu_of(stack), _machine_busy()
            applied_before = await _apply_seconds(stack, topic)
            sent_at = time.monotonic()
            await produce_all(bootstrap, topic, [m for _, m in messages])
            say(f"{leads:,} leads sent in {time.monotonic() - sent_at:.1f}s")
            result = ScaleOutResult(replicas=replicas, leads=leads, seconds=0.0, started_seconds=started, before=view)
            if kill is not None:
                await watcher.until(int(leads * kill_after), timeout=timeout, progress=say)
                result.before = await describe_group(bootstrap, group_id, topic)
                victim = (
                    await asyncio.to_thread(_publisher, stack, postgres, prefix + ASSIGNMENTS_EVENTS)
                    if kill == "publisher"
                    else kill
                )
                pid = stack.pid("assignment", victim)
                stack.kill("assignment", signal.SIGKILL, replica=victim)
                killed_at = time.monotonic()
                result.killed, result.assigned_at_kill = victim, watcher.leads
                say(
                    f"SIGKILL replica {victim} (pid {pid}) at {watcher.leads:,} leads assigned; "
                    f"group was {result.before}"
                )
                result.after = await wait_for_group(
                    bootstrap, group_id, topic, members=replicas - 1, partitions=partitions, timeout=60
                )
                result.moved_seconds = time.monotonic() - killed_at
                gone = set(result.before.members) - set(result.after.members)
                result.killed_member = next(iter(gone)) if len(gone) == 1 else None
                say(f"partitions moved in {result.moved_seconds:.1f}s: {result.after}")
            await watcher.until(leads, timeout=timeout, progress=say)
            result.seconds = watcher.last_new_at - sent_at
            if kill is None:
                result.cpu_seconds = _cpu_of(stack) - cpu_before
                result.machine_busy_seconds = _machine_busy() - busy_before
                result.apply_seconds = await _apply_seconds(stack, topic) - applied_before
                result.before = await describe_group(bootstrap, group_id, topic)
            await asyncio.sleep(2.0)  # late re-sends of the relay, before copies are judged
            result.records, result.keys, result.expected = watcher.records, dict(watcher.keys), expected
        finally:
            await watcher.stop()
    finally:
        await asyncio.to_thread(stack.stop)
    result.store = await asyncio.to_thread(store_facts, postgres, sellers)
    result.version_conflicts = sum(
        stack.log_file("assignment", r).read_text(errors="replace").count("version conflict") for r in range(replicas)
    )
    say(
        f"{replicas} replica(s): {leads:,} leads in {result.seconds:.1f}s = {result.leads_per_second:,.0f} leads/s "
        f"({result.copies} re-sent copies, {result.version_conflicts} version conflicts retried)"
    )
    return result


def _cpu_of(stack: ServiceStack) -> float:
    """CPU seconds (user + system) the running assignment replicas have used."""
    total = 0.0
    for pid in stack.pids("assignment"):
        if pid is not None:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _machine_busy() -> float:
    """CPU seconds the machine has been busy (all cores; idle and I/O wait left out)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


async def _apply_seconds(stack: ServiceStack, topic: str) -> float:
    """`leadflow_apply_seconds_sum` of `topic` over the running replicas' /metrics (0 if absent)."""
    total = 0.0
    async with httpx.AsyncClient(timeout=5.0) as http:
        for replica, pid in enumerate(stack.pids("assignment")):
            if pid is None:
                continue
            try:
                text = (await http.get(stack.url("assignment", replica) + "/metrics")).text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                if line.startswith("leadflow_apply_seconds_sum{") and f'topic="{topic}"' in line:
                    total += float(line.rsplit(" ", 1)[1])
    return total


def _publisher(stack: ServiceStack, postgres: PostgresStores, topic: str) -> int:
    """The replica whose relay publishes to `topic` now (the holder of its lease)."""
    name = f"leadflow:{postgres.database('assignment')}:relay:{topic}"  # as runtime names relay leases
    holder = lease_holder(postgres.dsn("assignment"), name)
    for replica, pid in enumerate(stack.pids("assignment")):
        if holder is not None and pid is not None and holder.endswith(f":{pid}"):
            return replica
    raise AssertionError(f"no running replica holds the publishing lease {name} (holder: {holder})")


def _free_port() -> int:
    from .kafka import free_port

    return free_port()
