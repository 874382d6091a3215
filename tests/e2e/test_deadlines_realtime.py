"""Durable deadlines in real time, in a running intake process: a lead's contact deadline fires
within 2 s of its due time, and after a SIGKILL and restart the one that fell due while the
process was down fires at start, and a new one again fires within 2 s of its due time."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import new_prefix

from leadflow_tools import free_port
from leadflow_tools.stack import ServiceStack

SLA_SECONDS = 3


async def post_lead(http: httpx.AsyncClient, external_id: str) -> str:
    body = {
        "source": "web-form",
        "external_id": external_id,
        "occurred_at": "2026-12-01T10:00:00Z",
        "contact_requested": True,
    }
    response = await http.post("/v1/leads", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["lead"]["lead_id"])


async def fired(http: httpx.AsyncClient, lead_id: str, timeout: float = 20.0) -> tuple[datetime, datetime]:
    """(due, fired) of the lead's contact deadline, once the running service has fired it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = (await http.get(f"/v1/leads/{lead_id}")).json()
        if view["contact_overdue"]:
            events: list[dict[str, Any]] = (await http.get(f"/v1/leads/{lead_id}/events")).json()
            (fire,) = [e for e in events if e["type"] == "DeadlineFired"]
            due = datetime.fromisoformat(view["deadlines"]["contact-sla"]["due_at"])
            return due, datetime.fromisoformat(fire["data"]["fired_at"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"the contact deadline of {lead_id} did not fire within {timeout}s")


@pytest.mark.e2e
async def test_a_deadline_fires_within_2_s_of_its_due_time_and_again_after_a_sigkill_and_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    stack = ServiceStack(
        bootstrap=kafka_bootstrap,
        run_dir=tmp_path,
        topic_prefix=new_prefix(),
        ports={"intake": free_port()},
        services=("intake",),
        extra_env={"INTAKE_CONTACT_SLA_SECONDS": str(SLA_SECONDS)},
    )
    stack.start(timeout=120)
    try:
        async with stack.client("intake", timeout=10) as http:
            # In a running service, a deadline fires within 2 s of its due time.
            due, at = await fired(http, await post_lead(http, "rt-1"))
            assert 0 <= (at - due).total_seconds() <= 2.0, (due, at)

            # Given a deadline set just before the process is SIGKILLed,
            down = await post_lead(http, "rt-2")
            stack.kill("intake", signal.SIGKILL)
            await asyncio.sleep(SLA_SECONDS + 1)  # it falls due while nobody runs
            restarted = datetime.now().astimezone()
            stack.start_service("intake")
            await asyncio.to_thread(stack.wait_ready, 120.0, ("intake",))
            ready = datetime.now().astimezone()
            # then it fires once the service is back, as it starts (by the time it is ready, or
            # within 2 s of it),
            due, at = await fired(http, down)
            assert due < restarted < at <= ready + timedelta(seconds=2), (due, restarted, at, ready)
            # and a deadline set after the restart fires within 2 s of its due time again.
            due, at = await fired(http, await post_lead(http, "rt-3"))
            assert 0 <= (at - due).total_seconds() <= 2.0, (due, at)
            ready_check = await http.get("/readyz")
            assert ready_check.status_code == 200, ready_check.text
    finally:
        stack.stop()
