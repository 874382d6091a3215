"""Throughput figures for leadflow on this machine (`make bench`; not part of `make test`).

In one run, on a fresh local broker:
  a) end to end: leads/s from leads.inbound.v1 to assignments.events.v1, the four services
     as processes with SQLite stores;
  b) raw aiokafka: produce → consume of as many messages of the same size, for comparison;
  c) the event store: events/s saving aggregates in batches of 100 and one at a time, with
     SQLite, and PostgreSQL too when a local PostgreSQL can be started.

    python bench/run.py [--leads N] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from eventsourcing.domain import Aggregate, event
from rich.console import Console
from rich.table import Table

from leadflow_shared.settings import ServiceSettings
from leadflow_shared.store import ServiceApplication
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, LEADS_INBOUND
from leadflow_tools import LocalKafka, LocalPostgres, demo, free_port
from leadflow_tools._paths import run_root
from leadflow_tools.postgres import throwaway_postgres
from leadflow_tools.stack import SERVICES, ServiceStack

console = Console()
PARTITIONS = 6  # the services' default for lead topics


@dataclass(frozen=True)
class Figure:
    name: str
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else float("inf")


def say(message: str) -> None:
    console.print(f"[bold cyan]bench[/] {message}", highlight=False)


# -- a) end to end ------------------------------------------------------------------


async def end_to_end(stack: ServiceStack, messages: list[demo.Message]) -> list[Figure]:
    """Send every message upstream; time from the first send to the last LeadReceivedV1
    (intake's share) and to the last LeadAssignedV1 (the whole way)."""
    consumer = await _consumer_at_start(stack.bootstrap, LEADS_EVENTS, ASSIGNMENTS_EVENTS)
    seen: dict[str, set[bytes]] = {LEADS_EVENTS: set(), ASSIGNMENTS_EVENTS: set()}
    done_at: dict[str, float] = {}
    began = time.monotonic()
    sending = asyncio.create_task(demo.send(stack.bootstrap, LEADS_INBOUND, messages))
    reporter = asyncio.create_task(
        _report_every(2.0, began, len(messages), lambda: len(seen[ASSIGNMENTS_EVENTS]), "assigned")
    )
    try:
        while len(done_at) < len(seen):
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                seen[tp.topic].update(r.key for r in records if r.key is not None and _counts(tp.topic, r.headers))
            for topic, keys in seen.items():
                if len(keys) >= len(messages):
                    done_at.setdefault(topic, time.monotonic() - began)
            if sending.done():
                sending.result()  # a failed send ends the run with its error
        await sending
    finally:
        reporter.cancel()
        await consumer.stop()
    return [
        Figure("e2e inbound → assigned (4 services, SQLite)", len(messages), done_at[ASSIGNMENTS_EVENTS]),
        Figure("  of which inbound → received (intake)", len(messages), done_at[LEADS_EVENTS]),
    ]


def _counts(topic: str, headers: Sequence[tuple[str, bytes]] | None) -> bool:
    return topic == LEADS_EVENTS or demo.is_lead_assigned(headers)


async def _report_every(interval: float, began: float, total: int, done: Callable[[], int], what: str) -> None:
    while True:
        await asyncio.sleep(interval)
        elapsed = time.monotonic() - began
        say(f"  {done()}/{total} {what} after {elapsed:.0f}s ({done() / elapsed:.0f}/s)")


async def _consumer_at_start(bootstrap: str, *topics: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    assigned: list[TopicPartition] = []
    for topic in topics:
        while not (partitions := consumer.partitions_for_topic(topic)):
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        assigned += [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    await consumer.seek_to_beginning()
    return consumer


# -- b) raw Kafka -------------------------------------------------------------------


async def raw_kafka(bootstrap: str, messages: list[demo.Message]) -> Figure:
    """The same bytes through a bare producer and consumer: the broker's share of (a)."""
    topic = "bench.raw"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    consumer = await _consumer_at_start(bootstrap, topic)
    received = 0
    began = time.monotonic()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        sending = asyncio.gather(*[await producer.send(topic, value=v, key=k, headers=h) for k, v, h in messages])
        while received < len(messages):
            received += sum(len(r) for r in (await consumer.getmany(timeout_ms=200)).values())
        seconds = time.monotonic() - began
        await sending
    finally:
        await producer.stop()
        await consumer.stop()
    return Figure("raw aiokafka produce → consume", len(messages), seconds)


# -- c) event store -----------------------------------------------------------------


class BenchLead(Aggregate):
    """A stand-in with a payload the size of intake's Lead.Received."""

    @event("Received")
    def __init__(self, lead: dict[str, Any]) -> None:
        self.lead = lead


class BenchApplication(ServiceApplication):
    name = "bench"


def event_store(label: str, env: dict[str, str], leads: list[dict[str, Any]], batch: int) -> Figure:
    app = BenchApplication(env=env)
    began = time.monotonic()
    step = max(batch, len(leads) // 5 // batch * batch)
    for start in range(0, len(leads), batch):
        app.save(*(BenchLead(lead) for lead in leads[start : start + batch]))
        if (start + batch) % step == 0:
            say(f"  {start + batch}/{len(leads)} events saved")
    seconds = time.monotonic() - began
    app.close()
    return Figure(f"event store {label}, {_how(batch)}", len(leads), seconds)


def _how(batch: int) -> str:
    return f"batches of {batch}" if batch > 1 else "one at a time"


def sqlite_env(path: Path) -> dict[str, str]:
    return ServiceSettings(service_name="bench", sqlite_path=path).eventsourcing_env()


def postgres_env(pg: LocalPostgres, dbname: str) -> dict[str, str]:
    pg.create_database(dbname)
    settings = ServiceSettings(
        service_name="bench", postgres_host="127.0.0.1", postgres_port=pg.port, postgres_user="leadflow"
    )
    return settings.eventsourcing_env() | {"POSTGRES_DBNAME": dbname}


# -- the run ------------------------------------------------------------------------


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
def services(bootstrap: str, run_dir: Path) -> Iterator[ServiceStack]:
    roster = run_dir / "sellers.json"
    roster.write_text(json.dumps([{"seller_id": f"s{i}", "name": f"Seller {i}"} for i in range(1, 6)]))
    stack = ServiceStack(
        bootstrap=bootstrap,
        run_dir=run_dir,
        ports={service: free_port() for service in SERVICES},
        roster_file=roster,
    )
    say(f"starting the four services (logs in {run_dir / 'logs'})")
    stack.start(timeout=120)
    try:
        yield stack
    finally:
        stack.stop()


def measure_kafka(run_dir: Path, count: int) -> list[Figure]:
    leads = demo.build_leads(demo.new_batch_id(), count)
    messages = demo.messages(leads)
    size = sum(len(value) for _, value, _ in messages) / count
    figures: list[Figure] = []
    with local_kafka(run_dir / "kafka") as kafka:
        with services(kafka.bootstrap, run_dir) as stack:
            say(f"a) end to end: {count} leads (about {size:.0f} bytes each) into {LEADS_INBOUND}")
            figures += asyncio.run(end_to_end(stack, messages))
        say(f"b) raw aiokafka: {count} messages of the same size")
        figures.append(asyncio.run(raw_kafka(kafka.bootstrap, messages)))
    return figures


def measure_event_stores(run_dir: Path, count: int, with_postgres: bool) -> list[Figure]:
    leads = demo.build_leads(demo.new_batch_id(), count)
    figures: list[Figure] = []
    for batch in (100, 1):
        say(f"c) event store: {count} events into SQLite, {_how(batch)}")
        figures.append(event_store("SQLite", sqlite_env(run_dir / f"store-{batch}.sqlite"), leads, batch))
    if not with_postgres:
        return figures
    with throwaway_postgres(run_dir / "postgres", say) as pg:
        if pg is not None:
            for batch in (100, 1):
                say(f"c) event store: {count} events into PostgreSQL, {_how(batch)}")
                figures.append(event_store("PostgreSQL", postgres_env(pg, f"bench_{batch}"), leads, batch))
    return figures


def print_table(figures: list[Figure]) -> None:
    table = Table(title=f"leadflow bench — {os.cpu_count()} cores, Python {platform.python_version()}")
    table.add_column("name")
    table.add_column("count", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("per second", justify="right")
    for f in figures:
        table.add_row(f.name, f"{f.count:,}", f"{f.seconds:.2f}", f"{f.per_second:,.0f}")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000, help="leads, messages and events per figure")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL event-store figures")
    args = parser.parse_args(argv)
    run_dir = run_root() / "bench"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    figures = measure_kafka(run_dir, args.leads)
    figures += measure_event_stores(run_dir, args.leads, with_postgres=not args.no_postgres)
    print_table(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
