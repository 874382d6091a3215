"""SIGTERM mid-stream: each service stops consuming, finishes what it holds, and exits in time."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import pytest
from test_end_to_end import AssignmentsTopic, assert_duplicates_are_the_same_event, service_stack

from intake.domain import lead_id_for
from leadflow_shared.topics import LEADS_INBOUND
from leadflow_tools import demo

pytestmark = pytest.mark.chaos


async def test_sigterm_under_load_exits_cleanly_within_ten_seconds_and_loses_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    leads = demo.build_leads(f"term-{uuid.uuid4().hex[:6]}", 300)
    lead_ids = {lead_id_for(lead["source"], lead["external_id"]) for lead in leads}
    with service_stack(kafka_bootstrap, tmp_path) as stack:
        async with AssignmentsTopic(stack) as assignments:
            sending = asyncio.create_task(
                demo.send(stack.bootstrap, stack.topic_prefix + LEADS_INBOUND, demo.messages(leads))
            )
            await assignments.wait_for_count(30, timeout=60)
            # When intake and assignment get SIGTERM while leads are flowing,
            exits: dict[str, tuple[int | None, float]] = {}
            for service in ("intake", "assignment"):
                proc = stack._procs[service]
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(proc.wait, 15)
                exits[service] = (code, time.monotonic() - started)
            await sending
            # then each exits with status 0 well within 10 s,
            for service, (code, seconds) in exits.items():
                assert code == 0, f"{service} exited with {code}: " + stack._log_tail(service)
                assert seconds < 10, f"{service} took {seconds:.1f}s to stop"
            # and once restarted, every lead is assigned, none twice.
            for service in ("intake", "assignment"):
                stack.start_service(service)
            stack.wait_ready(timeout=60, services=("intake", "assignment"))
            await assignments.wait_for(lead_ids, timeout=90)
            await asyncio.sleep(1.0)
            await assignments.poll()
    print("\nstop times: " + ", ".join(f"{s} {t:.2f}s" for s, (_, t) in exits.items()))
    assert_duplicates_are_the_same_event(assignments.records, lead_ids)
