"""A store that has applied more of a partition than the log holds is refused, loudly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from eventsourcing.persistence import Tracking
from harness import eventually, new_prefix, settings_for, started

from assignment.bootstrap import bootstrap as assignment_service
from assignment.settings import AssignmentSettings
from leadflow_shared.kafka import ensure_topics

pytestmark = pytest.mark.integration


async def test_a_tracked_position_beyond_the_log_end_stops_that_partition_and_fails_readiness(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps([{"seller_id": "s1", "name": "One"}]))
    settings = settings_for(
        AssignmentSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix, roster_file=roster
    )
    await ensure_topics(kafka_bootstrap, {prefix + "leads.events.v1": 3})
    service = assignment_service(settings)
    # Given a store that says it applied 50 messages of partition 0 of a topic that is empty,
    service.app.recorder.insert_tracking(Tracking(f"{prefix}leads.events.v1:0", 50))
    async with started(service):
        # then that partition is refused with the reason,
        problems = await eventually(lambda: _async(service.health.problems()), until=bool, timeout=20)
        assert "beyond the end of the log" in problems[f"consumer {prefix}leads.events.v1:0"]
        # and readiness says so.
        transport = httpx.ASGITransport(app=service.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://assignment") as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert "beyond the end of the log" in ready.json()["checks"]["workers"]


async def _async(value: dict[str, str]) -> dict[str, str]:
    return value
