"""Order per aggregate without silent loss, on real Kafka: an event that arrives before the one it
follows waits for it (parked with the batch, in the store) instead of making the earlier one look
"seen"; both are applied, in order. A gap that is never filled is named by /readyz."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth_helpers import bearer
from harness import as_bytes, eventually, inbound_lead, new_prefix, produce, settings_for, started

from intake.bootstrap import bootstrap as intake_service
from intake.domain import lead_id_for
from intake.settings import IntakeSettings
from leadflow_shared.contracts import LeadAssignedV1
from leadflow_shared.envelope import to_binary
from leadflow_shared.runtime import Service

pytestmark = pytest.mark.integration


def decision(lead_id: Any, version: int, previous: int, seller: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    event = LeadAssignedV1(
        aggregate_id=lead_id,
        version=version,
        previous_version=previous,
        lead_id=lead_id,
        seller_id=seller,
        method="round_robin",
        decided_at=datetime(2026, 11, 2, 10, version, tzinfo=UTC),
    )
    return to_binary(event, source="leadflow/assignment", time=event.decided_at).record()


async def owners_in_order(service: Service, lead_id: Any) -> list[str]:
    events = await service.worker.call(service.app.lead_history, lead_id)
    return [e.owner_id for e in events if type(e).__name__ == "Assigned"]


async def readiness(service: Service) -> tuple[int, dict[str, Any]]:
    transport = httpx.ASGITransport(app=service.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://intake", headers=bearer(run_dir=service.settings.run_dir)
    ) as http:
        response = await http.get("/readyz")
    return response.status_code, response.json()


async def test_version_5_delivered_before_version_4_waits_and_both_are_applied_in_order(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    intake = intake_service(
        settings_for(IntakeSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix, stuck_after_seconds=2)
    )
    lead_id = lead_id_for("web-form", "ordered")
    async with started(intake):
        await produce(kafka_bootstrap, prefix + "leads.inbound.v1", [(None, as_bytes(inbound_lead("ordered")), [])])
        await eventually(lambda: intake.worker.call(intake.app.repository.__contains__, lead_id), until=bool)
        topic = prefix + "assignments.events.v1"
        # Given assignment's version 5 (which follows 4) arrives first, on its own,
        await produce(kafka_bootstrap, topic, [decision(lead_id, 5, 4, "s2")])
        await eventually(
            lambda: intake.worker.call(intake.app.recorder.parked_count), until=lambda n: n == 1, timeout=15
        )
        # it is not applied, and it does not make version 4 look seen:
        assert await owners_in_order(intake, lead_id) == []
        # when version 4 arrives (behind it on the same partition),
        await produce(kafka_bootstrap, topic, [decision(lead_id, 4, 0, "s1")])
        # then both are applied, 4 then 5,
        owners = await eventually(lambda: owners_in_order(intake, lead_id), until=lambda o: len(o) == 2, timeout=15)
        assert owners == ["s1", "s2"]
        assert await intake.worker.call(intake.app.recorder.parked_count) == 0
        # and a re-sent copy of either changes nothing.
        await produce(kafka_bootstrap, topic, [decision(lead_id, 4, 0, "s1"), decision(lead_id, 5, 4, "s2")])
        await eventually(
            lambda: intake.worker.call(intake.app.tracked_position, f"{topic}:{_partition(intake, topic)}"),
            until=lambda p: p == 4,
        )
        assert await owners_in_order(intake, lead_id) == ["s1", "s2"]
        assert (await readiness(intake))[0] == 200

        # A gap that is never filled (version 7 after 6, and 6 never comes) is named by /readyz.
        await produce(kafka_bootstrap, topic, [decision(lead_id, 7, 6, "s3")])
        _, body = await eventually(lambda: readiness(intake), until=lambda r: r[0] == 503, timeout=20)
        assert f"version 7 of {lead_id} waits" in body["checks"]["workers"]
        assert "for version 6" in body["checks"]["workers"]
        assert await owners_in_order(intake, lead_id) == ["s1", "s2"]


def _partition(service: Service, topic: str) -> int:
    (tp,) = [tp for tp in service.consumers[1].states if tp.topic == topic and service.consumers[1].states[tp].position]
    return tp.partition
