"""leadflow's figures on this machine (`make bench`; never part of `make test`).

In one run, on a fresh local broker, beside the raw baselines:

  1. baselines: aiokafka produce → consume; the event store saving in batches (SQLite, PostgreSQL);
  2. the four services as processes, SQLite stores:
     a. throughput: N leads sent upstream as fast as they go, until the N-th LeadAssignedV1;
        py-spy samples intake and assignment meanwhile (where each stage's time goes);
     b. latency at steady offered loads (100, 500, 1,000 leads/s): p50 / p95 / p99 from the send
        to the LeadAssignedV1, and the throughput achieved; a PNG of both against offered load;
     c. RSS of each service once 100,000 leads went through;
     d. the same throughput again once 500,000 leads are in the stores (cost must stay flat);
  3. the same throughput with PostgreSQL stores;
  4. a 1,000,000-row CSV template import through the CLI (SQLite);
  5. time travel: `as_of` reads of a lead with 1,000 events, from a fresh process (snapshots);
  6. 100,000 deadlines due at once, fired by the deadline runner (SQLite).
  7. referral: referrals taken in per second from referrals.inbound.v1 (a backlog of 20,000).
  8. referral: 100,000 open referrals expiring at once (≤ 60 s).
  9. sequence: leads enrolled per second from assignments.events.v1 (a backlog of 20,000).
 10. sequence: 100,000 steps falling due at once (≤ 60 s).
 11. revenue: stage changes logged per second from leads.events.v1 (20,000 new leads and 20,000
     score changes waiting: 40,000 logged changes, assignment's own decisions included).
 12. revenue: a Change Revenue Stage run over 100,000 leads.
 13. revenue: the Success Path Analyzer over 1,000,000 logged changes (≤ 1 s).
 14. assignment: a what-if (rule set simulation) over 10,000 leads and 100 sellers (≤ 2 s).
 15. assignment scaled out: 1, 2 and 3 `python -m assignment` processes in one consumer group on one
     PostgreSQL store, 10,000 new leads waiting on a 6-partition leads.events.v1 (leads/s).

    python bench/run.py [--quick] [--leads N] [--no-postgres] [--skip-import] [--docs]

Results go to .run/bench/ (results.json, results.md, latency.png, profiles/); `--docs` also
copies the table and the plot to docs/performance/. `--quick` shrinks every figure (a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from eventsourcing.domain import Aggregate, event
from rich.console import Console
from rich.table import Table

from intake.domain import lead_id_for
from leadflow_shared.settings import ServiceSettings
from leadflow_shared.store import ServiceApplication
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_INBOUND
from leadflow_tools import LocalKafka, demo, free_port
from leadflow_tools._paths import repo_root, run_root
from leadflow_tools.follow import TopicFollower
from leadflow_tools.postgres import throwaway_postgres
from leadflow_tools.stack import SERVICES, PostgresStores, ServiceStack

console = Console() if sys.stdout.isatty() else Console(width=140)
PARTITIONS = 6  # the services' default for lead topics
ASSIGNED = b"lead.assigned.v1"
SELLERS = [{"seller_id": f"s{i}", "name": f"Seller {i}"} for i in range(1, 9)]


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""


@dataclass
class Results:
    machine: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    latency: list[dict[str, float]] = field(default_factory=list)
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        verdict = "" if figure.ok is None else (" [green]meets[/]" if figure.ok else " [red]misses[/]")
        say(f"[bold]{figure.name}[/]: {figure.value:,.1f} {figure.unit} {figure.target}{verdict} {figure.note}")
        return figure


def say(message: str) -> None:
    console.print(f"[bold cyan]bench[/] {message}", highlight=False)


# -- leads and the watcher ------------------------------------------------------------------


def lead_stream(batch: str, start: int, count: int, seed: int = 1) -> Iterator[tuple[bytes, demo.Message]]:
    """Leads `start`..`start+count` as (lead id as the key text, message), in the demo's three shapes."""
    rng = random.Random(f"{seed}:{start}")
    now = datetime.now(UTC)
    modes = ("bare", "structured", "binary")
    people = demo.new_people()  # 10 % of leads repeat a recent sender (demo.REPEAT_SHARE)
    for i in range(start, start + count):
        lead = demo._lead(rng, f"{batch}-{i:07d}", now - timedelta(minutes=rng.randint(0, 600)), people)
        yield str(lead_id_for(lead["source"], lead["external_id"])).encode(), demo.encode(lead, modes[i % 3])


class AssignedWatcher(TopicFollower):
    """Reads assignments.events.v1 from the start; remembers when each lead was first assigned."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(bootstrap, topic, timeout_ms=50)
        self.assigned_at: dict[bytes, float] = {}

    def take(self, records: list[Any]) -> None:
        now = time.monotonic()
        for record in records:
            headers = dict(record.headers or ())
            if headers.get("ce_type") == ASSIGNED:
                self.assigned_at.setdefault(headers["ce_subject"], now)

    async def until(self, keys: list[bytes], timeout: float, what: str) -> float:
        """Wait until every key is assigned; returns the time the last one was."""
        deadline, step = time.monotonic() + timeout, time.monotonic() + 5
        while True:
            missing = sum(1 for k in keys if k not in self.assigned_at)
            if not missing:
                return max(self.assigned_at[k] for k in keys)
            if time.monotonic() > deadline:
                raise SystemExit(f"{what}: {missing} of {len(keys)} leads not assigned within {timeout:.0f}s")
            if time.monotonic() > step:
                say(f"  {what}: {len(keys) - missing:,}/{len(keys):,} assigned")
                step = time.monotonic() + 5
            await asyncio.sleep(0.05)


async def producer_for(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    return producer


# -- 2a/3: throughput -----------------------------------------------------------------------


async def throughput(
    stack: ServiceStack, watcher: AssignedWatcher, batch: str, start: int, count: int
) -> tuple[float, float]:
    """Send `count` leads as fast as they go; (leads/s to the last LeadAssignedV1, seconds)."""
    messages = list(lead_stream(batch, start, count))
    producer = await producer_for(stack.bootstrap)
    topic = stack.topic_prefix + LEADS_INBOUND
    try:
        began = time.monotonic()
        pending = [await producer.send(topic, value=v, key=k, headers=h) for _, (k, v, h) in messages]
        await asyncio.gather(*pending)
        last = await watcher.until([key for key, _ in messages], timeout=60 + count / 50, what="throughput")
    finally:
        await producer.stop()
    seconds = last - began
    return count / seconds, seconds


# -- 2b: latency at steady offered loads -----------------------------------------------------


async def steady_load(
    stack: ServiceStack, watcher: AssignedWatcher, batch: str, start: int, rate: int, seconds: float
) -> dict[str, float]:
    count = int(rate * seconds)
    messages = list(lead_stream(batch, start, count))
    producer = await producer_for(stack.bootstrap)
    topic = stack.topic_prefix + LEADS_INBOUND
    sent_at: dict[bytes, float] = {}
    try:
        began = time.monotonic()
        pending = []
        for i, (key, (k, v, h)) in enumerate(messages):
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at[key] = time.monotonic()
            pending.append(await producer.send(topic, value=v, key=k, headers=h))
        await asyncio.gather(*pending)
        last = await watcher.until(list(sent_at), timeout=120, what=f"{rate} leads/s")
    finally:
        await producer.stop()
    latencies = sorted(watcher.assigned_at[k] - t for k, t in sent_at.items())
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "offered": rate,
        "achieved": count / (last - began),
        "p50_ms": 1000 * cuts[49],
        "p95_ms": 1000 * cuts[94],
        "p99_ms": 1000 * cuts[98],
        "max_ms": 1000 * latencies[-1],
        "leads": count,
    }


# -- 2c/2d: filling the stores, RSS ----------------------------------------------------------


async def fill(stack: ServiceStack, watcher: AssignedWatcher, batch: str, start: int, count: int) -> None:
    """Send `count` more leads, never more than 20,000 ahead of the assignments."""
    producer = await producer_for(stack.bootstrap)
    topic = stack.topic_prefix + LEADS_INBOUND
    keys: list[bytes] = []
    try:
        began, chunk = time.monotonic(), 10_000
        for offset in range(0, count, chunk):
            # Everything up to 20,000 leads back must be assigned before the next chunk goes out.
            while len(keys) > 20_000 and keys[-20_000] not in watcher.assigned_at:
                await asyncio.sleep(0.5)
            size = min(chunk, count - offset)
            pending = []
            for key, (k, v, h) in lead_stream(batch, start + offset, size):
                keys.append(key)
                pending.append(await producer.send(topic, value=v, key=k, headers=h))
            await asyncio.gather(*pending)
            done = offset + size
            say(f"  filling: {done:,}/{count:,} sent ({done / (time.monotonic() - began):,.0f}/s)")
        await watcher.until(keys[-20_000:], timeout=600, what="filling")
        await watcher.until(keys, timeout=600, what="filling")
    finally:
        await producer.stop()


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def settle(stack: ServiceStack, limit: float = 120.0) -> float:
    """Wait until every service is idle (under 5 % of a core each for a second): what a phase left
    behind (decisions still flowing back to intake, projections catching up, sequence and referral
    working through the leads' events) must not be measured as the next phase's latency. Returns
    the seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        before = {s: cpu_seconds(stack.pid(s)) for s in stack.services}
        await asyncio.sleep(1.0)
        if all(cpu_seconds(stack.pid(s)) - used < 0.05 for s, used in before.items()):
            break
    return time.monotonic() - began


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- profiles -------------------------------------------------------------------------------

STAGES = [
    ("decode (envelope + contract)", ("subscriptions.py", "decode")),
    ("apply: use cases", ("subscriptions.py", "_apply_one")),
    ("apply: load aggregates", ("unit_of_work.py", "preload")),
    ("apply: commit (events, inbox, tracking)", ("unit_of_work.py", "commit")),
    ("relay: read + map", ("relay.py", "_read_batch")),
    ("relay: publish", ("relay.py", "publish_next_batch")),
    ("projections", ("projection.py", "catch_up")),
    ("Kafka client (fetch, produce)", ("aiokafka", "")),
    ("FastStream dispatch", ("faststream", "")),
]


@contextmanager
def profiled(stack: ServiceStack, out: Path, seconds: float) -> Iterator[dict[str, Path]]:
    """py-spy samples intake and assignment (raw stacks) while the block runs, if it can."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out.mkdir(parents=True, exist_ok=True)
    files, procs = {}, []
    if Path(spy).exists():
        for service in ("intake", "assignment"):
            files[service] = out / f"{service}.txt"
            command = [spy, "record", "--pid", str(stack.pid(service)), "--format", "raw", "-o", str(files[service])]
            command += ["--rate", "100", "--nonblocking", "--duration", str(int(seconds))]
            procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield files
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()


def cpu_snapshot(stack: ServiceStack, kafka: LocalKafka) -> dict[str, float]:
    pids = {service: stack.pid(service) for service in SERVICES} | {"broker": kafka.pid}
    return {name: cpu_seconds(pid) for name, pid in pids.items()} | {"load generator": time.process_time()}


def stage_shares(path: Path) -> dict[str, float]:
    """Share of a service's samples per stage (a sample counts for the first stage on its stack)."""
    if not path.exists():
        return {}
    total, shares = 0, dict.fromkeys([name for name, _ in STAGES] + ["other"], 0)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n, total = int(count), total + int(count)
        for name, (module, function) in STAGES:
            if any(module in frame and function in frame for frame in stack.split(";")):
                shares[name] += n
                break
        else:
            shares["other"] += n
    return {name: 100 * n / total for name, n in shares.items()} if total else {}


# -- 1: baselines ---------------------------------------------------------------------------


async def raw_kafka(bootstrap: str, count: int) -> float:
    """The same bytes through a bare producer and consumer: the broker's share."""
    topic = "bench.raw"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    messages = [m for _, m in lead_stream("raw", 0, count)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    await consumer.seek_to_beginning()
    producer = await producer_for(bootstrap)
    received, began = 0, time.monotonic()
    try:
        sending = asyncio.gather(*[await producer.send(topic, value=v, key=k, headers=h) for k, v, h in messages])
        while received < count:
            received += sum(len(r) for r in (await consumer.getmany(timeout_ms=200)).values())
        seconds = time.monotonic() - began
        await sending
    finally:
        await producer.stop()
        await consumer.stop()
    return count / seconds


class BenchLead(Aggregate):
    """A stand-in with a payload the size of intake's Lead.Received."""

    @event("Received")
    def __init__(self, lead: dict[str, Any]) -> None:
        self.lead = lead


class BenchApplication(ServiceApplication):
    name = "bench"


def event_store(env: dict[str, str], count: int, batch: int = 100) -> float:
    app = BenchApplication(env=env)
    leads = [json.loads(v) for _, (_, v, _) in lead_stream("store", 0, count)]
    began = time.monotonic()
    for start in range(0, count, batch):
        app.save(*(BenchLead(lead) for lead in leads[start : start + batch]))
    seconds = time.monotonic() - began
    app.close()
    return count / seconds


# -- the stacks -----------------------------------------------------------------------------


@contextmanager
def local_kafka(run_dir: Path) -> Iterator[LocalKafka]:
    kafka = LocalKafka(port=free_port(), controller_port=free_port(), run_dir=run_dir)
    say(f"starting a fresh Kafka broker on {kafka.bootstrap}")
    try:
        kafka.start(timeout=90)
        yield kafka
    finally:
        kafka.stop()


@contextmanager
def services(bootstrap: str, run_dir: Path, postgres: PostgresStores | None = None) -> Iterator[ServiceStack]:
    run_dir.mkdir(parents=True, exist_ok=True)
    roster = run_dir / "sellers.json"
    roster.write_text(json.dumps(SELLERS))
    stack = ServiceStack(
        bootstrap=bootstrap,
        run_dir=run_dir,
        topic_prefix=f"b{int(time.time())}.",
        ports={service: free_port() for service in SERVICES},
        roster_file=roster,
        postgres=postgres,
    )
    say(f"starting the four services (logs in {run_dir / 'logs'})")
    stack.start(timeout=120)
    try:
        yield stack
    finally:
        stack.stop()


async def sqlite_stack(kafka: LocalKafka, run_dir: Path, args: argparse.Namespace, results: Results) -> None:
    with services(kafka.bootstrap, run_dir) as stack:
        watcher = AssignedWatcher(kafka.bootstrap, stack.topic_prefix + ASSIGNMENTS_EVENTS)
        await watcher.start()
        batch, sent = f"bench-{os.getpid()}", 0
        try:
            say(f"2a) throughput: {args.leads:,} leads, SQLite stores")
            await throughput(stack, watcher, batch, sent, min(2000, args.leads))  # warm-up
            sent += min(2000, args.leads)
            await settle(stack)
            cpu_before = cpu_snapshot(stack, kafka)
            with profiled(stack, run_dir / "profiles", seconds=max(5, args.leads / 1000)) as profiles:
                rate, _ = await throughput(stack, watcher, batch, sent, args.leads)
            cpu_after = cpu_snapshot(stack, kafka)
            sent += args.leads
            first = results.add(Figure("e2e inbound → assigned, SQLite", rate, "leads/s", "≥ 2,000", rate >= 2000))
            # Where the two cores went (py-spy's sampling included, a few % of intake and assignment).
            per_lead = {name: 1000 * (cpu_after[name] - cpu_before[name]) / args.leads for name in cpu_before}
            results.add(
                Figure(
                    "CPU per lead, all processes",
                    sum(per_lead.values()),
                    "ms",
                    note="(" + ", ".join(f"{name} {ms:.2f}" for name, ms in per_lead.items()) + ")",
                )
            )
            results.profiles = {service: stage_shares(path) for service, path in profiles.items()}

            for rate in args.rates:
                waited = await settle(stack)
                say(f"2b) steady load: {rate} leads/s for {args.steady_seconds:.0f}s (settled in {waited:.0f}s)")
                row = await steady_load(stack, watcher, batch, sent, rate, args.steady_seconds)
                sent += int(row["leads"])
                results.latency.append(row)
                target, ok = ("≤ 200 ms", row["p99_ms"] <= 200) if rate == 100 else ("", None)
                results.add(
                    Figure(
                        f"latency at {rate} leads/s: p99",
                        row["p99_ms"],
                        "ms",
                        target,
                        ok,
                        f"(p50 {row['p50_ms']:.0f}, p95 {row['p95_ms']:.0f}; achieved {row['achieved']:.0f}/s)",
                    )
                )

            await settle(stack)
            if sent < args.rss_leads:
                say(f"2c) filling to {args.rss_leads:,} leads")
                await fill(stack, watcher, batch, sent, args.rss_leads - sent)
                sent = args.rss_leads
            await asyncio.sleep(2)
            for service in SERVICES:
                mb = rss_mb(stack.pid(service))
                results.add(Figure(f"RSS of {service} after {sent:,} leads", mb, "MB", "≤ 250", mb <= 250))

            if args.grown_leads > sent:
                say(f"2d) filling to {args.grown_leads:,} leads in the stores")
                await fill(stack, watcher, batch, sent, args.grown_leads - sent)
                sent = args.grown_leads
                say(f"  settled in {await settle(stack):.0f}s")
                again, _ = await throughput(stack, watcher, batch, sent, args.leads)
                sent += args.leads
                ratio = again / first.value
                results.add(
                    Figure(
                        f"e2e again with {args.grown_leads:,} leads in the stores",
                        again,
                        "leads/s",
                        "within 10 %",
                        ratio >= 0.9,
                        f"({100 * (ratio - 1):+.0f} % against the first)",
                    )
                )
                for service in ("intake", "assignment"):
                    mb = rss_mb(stack.pid(service))
                    results.add(Figure(f"RSS of {service} after {sent:,} leads", mb, "MB", "≤ 250", mb <= 250))
        finally:
            await watcher.stop()


async def postgres_stack(kafka: LocalKafka, run_dir: Path, args: argparse.Namespace, results: Results) -> None:
    with throwaway_postgres(run_dir / "postgres", say) as pg:
        if pg is None:
            say("no local PostgreSQL: the PostgreSQL figures are left out")
            return
        databases = {service: f"bench_{service}" for service in SERVICES}
        for name in databases.values():
            pg.create_database(name)
        stores = PostgresStores(host="127.0.0.1", port=pg.port, user="leadflow", databases=databases)
        with services(kafka.bootstrap, run_dir / "pg-stack", postgres=stores) as stack:
            watcher = AssignedWatcher(kafka.bootstrap, stack.topic_prefix + ASSIGNMENTS_EVENTS)
            await watcher.start()
            try:
                say(f"3) throughput: {args.leads:,} leads, PostgreSQL stores")
                await throughput(stack, watcher, "pg", 0, min(2000, args.leads))
                await settle(stack)
                rate, _ = await throughput(stack, watcher, "pg", 2000, args.leads)
                results.add(Figure("e2e inbound → assigned, PostgreSQL", rate, "leads/s", "≥ 1,000", rate >= 1000))
            finally:
                await watcher.stop()
        env = ServiceSettings(service_name="bench", postgres_host="127.0.0.1", postgres_port=pg.port)
        pg.create_database("bench_store")
        results.add(
            Figure(
                "baseline: event store PostgreSQL, batches of 100",
                event_store(env.eventsourcing_env() | {"POSTGRES_DBNAME": "bench_store"}, args.store_events),
                "events/s",
            )
        )


def template_import(run_dir: Path, rows: int, results: Results) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import import_leads

    work = run_dir / "import"
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / "leads.csv"
    say(f"4) generating a {rows:,}-row template file")
    import_leads.generate(csv_path, rows)
    env = {"INTAKE_RUN_DIR": str(work), "INTAKE_SQLITE_PATH": str(work / "intake.sqlite")}
    say(f"4) importing {rows:,} rows through the CLI (SQLite)")
    seconds, peak_mb = import_leads.run_cli_measured(csv_path, env, work / "report.json", 500, quiet=True)
    totals = json.loads((work / "report.json").read_text())["totals"]
    results.add(
        Figure(
            f"{rows:,}-row CSV import (SQLite)",
            seconds / 60,
            "minutes",
            "≤ 10",
            seconds <= 600,
            f"({rows / seconds:,.0f} rows/s; " + ", ".join(f"{k} {v:,}" for k, v in totals.items()) + ")",
        )
    )
    results.add(Figure(f"peak RSS of the {rows:,}-row import", peak_mb, "MB"))


def time_travel(run_dir: Path, results: Results, events: int = 1000) -> None:
    """`as_of` reads of a lead with `events` events, from a fresh process (nothing cached)."""
    from intake.application import IntakeApplication
    from leadflow_shared.contracts import InboundLeadV1
    from leadflow_shared.timetravel import replay_until

    say(f"5) time travel: a lead with {events:,} events (SQLite, a snapshot every 50)")
    path = run_dir / "timetravel.sqlite"
    path.unlink(missing_ok=True)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path), "CREATE_TABLE": "y"}
    writer = IntakeApplication(env=env)
    inbound = InboundLeadV1(source="bench", external_id="long-lived", occurred_at=datetime.now(UTC))
    lead_id = writer.execute(writer.receive_lead, inbound, via="http").lead_id
    for i in range(events - 1):
        writer.execute(writer.follow_up, lead_id, actor="bench", note=f"follow-up {i}")
    reader = IntakeApplication(env=env)
    stream = list(reader.events.get(lead_id))
    moments = [stream[k].timestamp for k in (len(stream) // 100, len(stream) // 2, len(stream) - 10, len(stream) - 1)]
    with_snapshots, full_replays = [], []
    for _ in range(5):
        for moment in moments:
            began = time.perf_counter()
            reader.get_lead_as_of(lead_id, moment)
            with_snapshots.append(1000 * (time.perf_counter() - began))
            began = time.perf_counter()
            replay_until(reader.events.get(lead_id), lead_id, moment)
            full_replays.append(1000 * (time.perf_counter() - began))
    worst = max(with_snapshots)
    results.add(
        Figure(
            f"time travel: GET a lead with {events:,} events as_of (worst of {len(with_snapshots)})",
            worst,
            "ms",
            "≤ 50",
            worst <= 50,
            f"(median {statistics.median(with_snapshots):.1f} ms; a full replay from the first event "
            f"takes {statistics.median(full_replays):.1f} ms)",
        )
    )


def referral_figures(run_dir: Path, bootstrap: str | None, inbound: int, expiring: int, results: Results) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import referrals

    if bootstrap is not None:
        say(f"7) referral: {inbound:,} referrals waiting on referrals.inbound.v1, the service started (SQLite)")
        work = run_dir / "referral-inbound"
        seconds, stored = asyncio.run(referrals.inbound_throughput(bootstrap, work, inbound, say))
        results.add(
            Figure(
                "referral: referrals taken in from referrals.inbound.v1",
                stored / seconds,
                "referrals/s",
                "",
                None if stored == inbound else False,
                f"({stored:,} of {inbound:,} stored in {seconds:.1f}s, start included)",
            )
        )
        return
    say(f"8) referral: {expiring:,} open referrals expiring at once (SQLite store)")
    seconds, expired = referrals.expire_all_at_once(run_dir / "referral-expiry", expiring, say)
    results.add(
        Figure(
            f"referral: {expiring:,} open referrals expiring at once, all closed/expired",
            seconds,
            "s",
            "≤ 60",
            seconds <= 60 and expired == expiring,
            f"({expired:,} expired, {expired / seconds:,.0f}/s; 10 % also drop their contact flag)",
        )
    )


def sequence_figures(run_dir: Path, bootstrap: str | None, assigned: int, due: int, results: Results) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import sequences

    if bootstrap is not None:
        say(f"9) sequence: {assigned:,} assignments in a linked segment on assignments.events.v1, the service started")
        seconds, enrolled = asyncio.run(
            sequences.enrolment_throughput(bootstrap, run_dir / "sequence-in", assigned, say)
        )
        results.add(
            Figure(
                "sequence: leads enrolled from assignments.events.v1",
                enrolled / seconds,
                "enrolments/s",
                "",
                None if enrolled == assigned else False,
                f"({enrolled:,} of {assigned:,} enrolled, first step due, in {seconds:.1f}s, start included)",
            )
        )
        return
    say(f"10) sequence: {due:,} steps falling due at once (SQLite store)")
    seconds, fallen = sequences.steps_due_at_once(run_dir / "sequence-due", due, say)
    results.add(
        Figure(
            f"sequence: {due:,} steps falling due at once, all processed",
            seconds,
            "s",
            "≤ 60",
            seconds <= 60 and fallen == due,
            f"({fallen:,} waits over and calls due, {fallen / seconds:,.0f}/s)",
        )
    )


def revenue_figures(run_dir: Path, bootstrap: str | None, leads: int, run: int, changes: int, results: Results) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import revenue

    if bootstrap is not None:
        say(f"11) revenue: {leads:,} new leads and {leads:,} score changes on leads.events.v1, assignment started")
        seconds, logged = asyncio.run(revenue.stage_changes_from_topic(bootstrap, run_dir / "revenue-in", leads, say))
        results.add(
            Figure(
                "revenue: stage changes logged from leads.events.v1",
                logged / seconds,
                "changes/s",
                "",
                None if logged == 2 * leads else False,
                f"({logged:,} of {2 * leads:,} logged in {seconds:.1f}s, start and assignment's decisions included)",
            )
        )
        return
    cost = revenue.cpu_per_lead_event(run_dir / "revenue-cost")
    results.add(
        Figure(
            "revenue: CPU per lead event on assignment's lead path, an approved model",
            cost["an approved model"],
            "ms",
            "",
            None,
            f"(without a model {cost['no model']:.3f} ms; in-process, batches of 500, Kafka and projections aside)",
        )
    )
    say(f"12) revenue: Change Revenue Stage over {run:,} leads (SQLite store)")
    seconds, outcomes = revenue.bulk_run(run_dir / "revenue-run", run, say)
    results.add(
        Figure(
            f"revenue: Change Revenue Stage run over {run:,} leads",
            seconds,
            "s",
            "",
            None if outcomes.get("moved") == run else False,
            f"({outcomes.get('moved', 0):,} moved, {run / seconds:,.0f} leads/s, pages of 500)",
        )
    )
    say(f"13) revenue: the Success Path Analyzer over {changes:,} logged changes (SQLite read model)")
    timings, made = revenue.analyzer_over(run_dir / "revenue-analyzer", changes, say)
    slowest = max(timings.values())
    results.add(
        Figure(
            f"revenue: analyzer query over {made:,} logged changes (slowest)",
            slowest,
            "s",
            "≤ 1",
            slowest <= 1.0,
            "(" + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()) + ")",
        )
    )


def whatif_figures(run_dir: Path, leads: int, results: Results) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import whatif

    say(f"14) assignment: a what-if over {leads:,} leads, 100 sellers (SQLite store, through the API)")
    found = whatif.simulate_figures(run_dir / "whatif", leads, 100, say)
    results.add(
        Figure(
            f"assignment: what-if over {found['leads']:,} leads, 100 sellers (one simulate call)",
            found["seconds"],
            "s",
            "≤ 2",
            found["seconds"] <= 2.0 and found["self_different"] == 0,
            f"(the active rule set over its own period: {found['self_different']} different; "
            f"GET /v1/sellers/load meanwhile: slowest {found['load_max'] * 1000:.0f} ms, "
            f"{found['load_idle'] * 1000:.0f} ms alone)",
        )
    )


def scale_out_figures(bootstrap: str, run_dir: Path, leads: int, results: Results) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import scale_out

    say(f"15) assignment scaled out: 1, 2 and 3 processes on one PostgreSQL store, {leads:,} leads each")
    with throwaway_postgres(run_dir / "scale-out-postgres", say) as pg:
        if pg is None:
            say("no local PostgreSQL: the scale-out figures are left out")
            return
        found = scale_out.replicas_figures(bootstrap, pg, run_dir / "scale-out", leads, [1, 2, 3], say)
    one = found[1].leads_per_second
    for replicas, result in found.items():
        results.add(
            Figure(
                f"assignment, {replicas} replica{'s' if replicas > 1 else ''} on one PostgreSQL store",
                result.leads_per_second,
                "leads/s",
                note=f"({result.leads_per_second / replicas:,.0f} per replica, "
                f"{result.leads_per_second / one:.2f}x one; {leads:,} leads in {result.seconds:.1f}s, "
                f"each decided once; {result.version_conflicts} version conflicts retried; assignment CPU "
                f"{1000 * result.cpu_seconds / leads:.2f} ms/lead, units of work "
                f"{1000 * result.apply_seconds / leads:.2f} ms/lead)",
            )
        )


def deadlines_at_once(run_dir: Path, count: int, results: Results) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import deadlines

    say(f"6) {count:,} deadlines due at once (SQLite store, one aggregate each)")
    seconds, fired = deadlines.fire_all_at_once(run_dir / "deadlines", count, say)
    results.add(
        Figure(
            f"{count:,} deadlines due at once, all fired",
            seconds,
            "s",
            "≤ 60",
            seconds <= 60 and fired == count,
            f"({fired:,} fired, {fired / seconds:,.0f}/s, pages of 500)",
        )
    )


# -- output ---------------------------------------------------------------------------------


def plot(latency: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    offered = [row["offered"] for row in latency]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(offered, [row["achieved"] for row in latency], "o-", color="tab:blue", label="achieved")
    left.plot(offered, offered, ":", color="tab:gray", label="offered")
    left.set_xlabel("offered load (leads/s)")
    left.set_ylabel("throughput (leads/s)", color="tab:blue")
    right = left.twinx()
    right.plot(offered, [row["p99_ms"] for row in latency], "s-", color="tab:red", label="p99")
    right.plot(offered, [row["p50_ms"] for row in latency], "^--", color="tab:orange", label="p50")
    right.axhline(200, color="tab:red", linestyle=":", linewidth=0.8)
    right.set_ylabel("latency inbound → LeadAssignedV1 (ms)", color="tab:red")
    right.set_yscale("log")
    fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88))
    left.set_title("leadflow, 4 services, SQLite stores, 2 cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: Results) -> str:
    lines = [
        f"Measured {results.machine['date']} on {results.machine['cores']} cores, {results.machine['python']}, "
        f"{results.machine['platform']}: `{results.machine['command']}`.",
        "",
        "| figure | measured | target |",
        "|---|---:|---|",
    ]
    for f in results.figures:
        verdict = "" if f.ok is None else (" ✔" if f.ok else " ✘")
        lines.append(f"| {f.name} {f.note} | {f.value:,.1f} {f.unit} | {f.target}{verdict} |")
    if results.latency:
        lines += [
            "",
            "| offered leads/s | achieved leads/s | p50 ms | p95 ms | p99 ms | max ms |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for row in results.latency:
            lines.append(
                f"| {row['offered']:.0f} | {row['achieved']:.0f} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} "
                f"| {row['p99_ms']:.0f} | {row['max_ms']:.0f} |"
            )
    if results.profiles:
        names = [name for name, _ in STAGES] + ["other"]
        services = list(results.profiles)
        lines += ["", "| share of samples (py-spy) | " + " | ".join(services) + " |", "|---|" + "---:|" * len(services)]
        for name in names:
            lines.append(
                f"| {name} | " + " | ".join(f"{results.profiles[s].get(name, 0):.0f} %" for s in services) + " |"
            )
    return "\n".join(lines) + "\n"


def print_table(results: Results) -> None:
    table = Table(title=f"leadflow bench — {results.machine['cores']} cores, {results.machine['python']}")
    for column in ("figure", "measured", "target"):
        table.add_column(column, justify="right" if column == "measured" else "left")
    for f in results.figures:
        verdict = "" if f.ok is None else (" ✔" if f.ok else " ✘")
        table.add_row(f"{f.name} {f.note}", f"{f.value:,.1f} {f.unit}", f"{f.target}{verdict}")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small figures, for a smoke run")
    parser.add_argument("--leads", type=int, default=20_000, help="leads per throughput figure")
    parser.add_argument("--no-postgres", action="store_true", help="leave out the PostgreSQL figures")
    parser.add_argument("--skip-import", action="store_true", help="leave out the 1,000,000-row import")
    parser.add_argument("--docs", action="store_true", help="copy the table and the plot to docs/performance/")
    args = parser.parse_args(argv)
    args.rates = [100, 500, 1000]
    args.steady_seconds, args.rss_leads, args.grown_leads = 20.0, 100_000, 500_000
    args.import_rows, args.store_events, args.deadlines = 1_000_000, 20_000, 100_000
    args.referrals, args.expiring = 20_000, 100_000
    args.assigned, args.steps_due = 20_000, 100_000
    args.revenue_leads, args.revenue_run, args.revenue_changes = 20_000, 100_000, 1_000_000
    args.whatif_leads = 10_000
    args.scale_leads = 10_000
    if args.quick:
        args.scale_leads = 2_000
        args.revenue_leads, args.revenue_run, args.revenue_changes = 2_000, 5_000, 50_000
        args.whatif_leads = 2_000
        args.leads, args.steady_seconds, args.rss_leads, args.grown_leads = 2_000, 5.0, 15_000, 20_000
        args.import_rows, args.store_events, args.deadlines = 10_000, 2_000, 5_000
        args.referrals, args.expiring = 2_000, 5_000
        args.assigned, args.steps_due = 2_000, 5_000
    run_dir = run_root() / "bench"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    command = "make bench" if not argv and len(sys.argv) == 1 else "python bench/run.py " + " ".join(sys.argv[1:])
    results = Results(
        machine={
            "date": time.strftime("%Y-%m-%d"),
            "cores": os.cpu_count(),
            "python": f"Python {platform.python_version()}",
            "platform": platform.platform(terse=True),
            "command": command,
        }
    )
    with local_kafka(run_dir / "kafka") as kafka:
        say("1) baselines")
        results.add(
            Figure(
                "baseline: raw aiokafka produce → consume", asyncio.run(raw_kafka(kafka.bootstrap, args.leads)), "msg/s"
            )
        )
        sqlite_env = ServiceSettings(service_name="bench", sqlite_path=run_dir / "store.sqlite").eventsourcing_env()
        results.add(
            Figure(
                "baseline: event store SQLite, batches of 100", event_store(sqlite_env, args.store_events), "events/s"
            )
        )
        asyncio.run(sqlite_stack(kafka, run_dir / "sqlite-stack", args, results))
        if not args.no_postgres:
            asyncio.run(postgres_stack(kafka, run_dir, args, results))
        referral_figures(run_dir, kafka.bootstrap, args.referrals, args.expiring, results)
        sequence_figures(run_dir, kafka.bootstrap, args.assigned, args.steps_due, results)
        revenue_figures(run_dir, kafka.bootstrap, args.revenue_leads, args.revenue_run, args.revenue_changes, results)
        if not args.no_postgres:
            scale_out_figures(kafka.bootstrap, run_dir, args.scale_leads, results)
    if not args.skip_import:
        template_import(run_dir, args.import_rows, results)
    time_travel(run_dir, results)
    deadlines_at_once(run_dir, args.deadlines, results)
    referral_figures(run_dir, None, args.referrals, args.expiring, results)
    sequence_figures(run_dir, None, args.assigned, args.steps_due, results)
    revenue_figures(run_dir, None, args.revenue_leads, args.revenue_run, args.revenue_changes, results)
    whatif_figures(run_dir, args.whatif_leads, results)
    if results.latency:
        plot(results.latency, run_dir / "latency.png")
    (run_dir / "results.json").write_text(json.dumps(asdict(results), indent=2) + "\n")
    (run_dir / "results.md").write_text(markdown(results))
    print_table(results)
    say(f"results in {run_dir}")
    if args.docs:
        docs = repo_root() / "docs" / "performance"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(run_dir / "results.md", docs / "latest.md")
        if results.latency:
            shutil.copy(run_dir / "latency.png", docs / "latency.png")
        say(f"copied to {docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
