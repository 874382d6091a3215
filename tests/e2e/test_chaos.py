"""20,000 leads while intake and assignment are each SIGKILLed three times at random moments:
every lead is assigned exactly once, each lead's events keep their order on every topic, and no
seller goes over capacity."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from harness import new_prefix, read_topic
from test_end_to_end import AssignmentsTopic, decisions_per_lead

from intake.domain import lead_id_for
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, LEADS_INBOUND
from leadflow_tools import demo, free_port
from leadflow_tools.stack import SERVICES, ServiceStack

LEADS = 20_000
KILLS_EACH = 3
SELLERS = [{"seller_id": f"seller-{i}", "name": f"Seller {i}", "capacity": 4_500} for i in range(1, 6)]


async def kill_and_restart(stack: ServiceStack, plan: list[tuple[float, str]], log: list[str]) -> None:
    began = time.monotonic()
    for at, service in plan:
        await asyncio.sleep(max(0.0, at - (time.monotonic() - began)))
        stack.kill(service, signal.SIGKILL)
        log.append(f"{time.monotonic() - began:5.1f}s SIGKILL {service}")
        await asyncio.sleep(random.uniform(0.2, 1.5))
        stack.start_service(service)
        await asyncio.to_thread(stack.wait_ready, 120.0, (service,))
        log.append(f"{time.monotonic() - began:5.1f}s {service} ready again")


async def read_all(bootstrap: str, topic: str, at_least: int) -> list[Any]:
    """Every record of the topic (nothing is being produced any more: read, then settle)."""
    return await read_topic(bootstrap, topic, expect=at_least, timeout=120, settle=3.0)


def order_problems(records: list[Any]) -> tuple[list[str], int, int]:
    """Per key, in partition order: versions first seen in increasing order, each naming the one
    before it as its previous version. Returns (problems, messages, re-sent copies)."""
    problems, copies = [], 0
    by_key: dict[bytes, list[Any]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(record)
    for key, keyed in by_key.items():
        if len({r.partition for r in keyed}) != 1:
            problems.append(f"{key!r} on several partitions")
        seen: list[int] = []
        for record in keyed:
            headers = dict(record.headers)
            version = int(headers["ce_aggregateversion"])
            previous = int(headers["ce_previousversion"])
            if version in seen:
                copies += 1  # a relay re-send after a crash: the same event again
                continue
            expected_previous = seen[-1] if seen else 0
            if previous != expected_previous or (seen and version <= seen[-1]):
                problems.append(f"{key!r}: v{version} after {seen} names previous v{previous}")
            seen.append(version)
    return problems, len(records), copies


@pytest.mark.chaos
async def test_20_000_leads_survive_three_sigkills_of_intake_and_of_assignment(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    roster = tmp_path / "sellers.json"
    roster.write_text(json.dumps(SELLERS))
    stack = ServiceStack(
        bootstrap=kafka_bootstrap,
        run_dir=tmp_path,
        topic_prefix=new_prefix(),
        ports={service: free_port() for service in SERVICES},
        roster_file=roster,
        lead_topic_partitions=3,
        services=("intake", "assignment"),
    )
    leads = demo.build_leads(f"chaos-{uuid.uuid4().hex[:6]}", LEADS, seed=7)
    lead_ids = {lead_id_for(lead["source"], lead["external_id"]) for lead in leads}
    rng = random.Random(11)
    moments = sorted(rng.uniform(2.0, 40.0) for _ in range(2 * KILLS_EACH))
    services = ["intake"] * KILLS_EACH + ["assignment"] * KILLS_EACH
    rng.shuffle(services)
    plan = list(zip(moments, services, strict=True))
    log: list[str] = []
    stack.start(timeout=120)
    began = time.monotonic()
    try:
        async with AssignmentsTopic(stack) as assignments:
            # Given 20,000 leads sent upstream while both processes are killed and restarted,
            sending = asyncio.create_task(
                demo.send(stack.bootstrap, stack.topic_prefix + LEADS_INBOUND, demo.messages(leads))
            )
            await kill_and_restart(stack, plan, log)
            await sending
            # then every lead is assigned,
            await assignments.wait_for(lead_ids, timeout=300)
            elapsed = time.monotonic() - began
            await asyncio.sleep(2.0)
            await assignments.poll()
        # exactly once (the store decided each lead once; a re-sent message is the same event),
        decided = decisions_per_lead(tmp_path / "stores" / "assignment.sqlite")
        assert decided == dict.fromkeys(lead_ids, 1)
        events: dict[UUID, set[tuple[UUID, int]]] = defaultdict(set)
        for record in assignments.records:
            events[record.lead_id].add((record.aggregate_id, record.version))
        assert {lead_id: len(keys) for lead_id, keys in events.items()} == dict.fromkeys(lead_ids, 1)
        # each lead's events are in order on every topic,
        figures = {}
        for topic in (LEADS_EVENTS, ASSIGNMENTS_EVENTS):
            records = await read_all(stack.bootstrap, stack.topic_prefix + topic, at_least=LEADS)
            problems, count, copies = order_problems(records)
            assert problems == [], problems[:10]
            figures[topic] = (count, copies)
        # and no seller is over capacity (every lead counted once).
        async with stack.client("assignment", timeout=10.0) as http:
            sellers = (await http.get("/v1/sellers")).json()
            ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert all(s["open_leads"] <= s["capacity"] for s in sellers), sellers
        assert sum(s["open_leads"] for s in sellers) == LEADS
    finally:
        stack.stop()
    print(f"\n{LEADS:,} leads, {2 * KILLS_EACH} SIGKILLs, all assigned once in {elapsed:.0f}s")
    for line in log:
        print("  " + line)
    for topic, (count, copies) in figures.items():
        print(f"  {topic}: {count:,} messages, {copies:,} re-sent copies, order kept per lead")
    print("  open leads per seller:", {s["seller_id"]: s["open_leads"] for s in sellers})
