"""assignment on real Kafka: waits and decisions published with explanations, intake's status
changes freeing capacity, the periodic re-run, recycling with the previous owner excluded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest
from harness import eventually, new_prefix, produce, read_topic, settings_for, started

from assignment.bootstrap import bootstrap as assignment_service
from assignment.settings import AssignmentSettings
from leadflow_shared.contracts import (
    INTEGRATION_EVENTS,
    IntegrationEvent,
    LeadAssignedV1,
    LeadAwaitingAssignmentV1,
    LeadReceivedV1,
    LeadStatusChangedV1,
)
from leadflow_shared.envelope import to_binary

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def lead_id(n: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"kafka-test-lead:{n}")


def received(n: int) -> LeadReceivedV1:
    return LeadReceivedV1(
        aggregate_id=lead_id(n),
        version=1,
        lead_id=lead_id(n),
        source="web-form",
        external_id=f"k{n}",
        type="customer_inquiry",
        contact={},
        company={"country": "DE"},
        occurred_at=NOW,
        received_at=NOW,
    )


def status(n: int, version: int, action: str, previous_owner: str) -> LeadStatusChangedV1:
    return LeadStatusChangedV1(
        aggregate_id=lead_id(n),
        version=version,
        lead_id=lead_id(n),
        action=action,
        status_before="assigned",
        status_after="unassigned" if action == "recycled" else action,
        previous_owner_id=previous_owner,
        occurred_at=NOW,
    )


def binary(event: IntegrationEvent) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return to_binary(event, source="test-intake", time=NOW).record()


def decoded(records: list[Any]) -> list[IntegrationEvent]:
    return [INTEGRATION_EVENTS[dict(r.headers)["ce_type"].decode()].model_validate_json(r.value) for r in records]


async def test_waiting_capacity_freed_by_intake_periodic_re_run_and_recycle_on_kafka(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    roster = tmp_path / "roster.json"
    roster.write_text(
        json.dumps(
            [
                {"seller_id": "ann", "name": "Ann", "capacity": 1, "territories": ["DE"]},
                {"seller_id": "bob", "name": "Bob", "capacity": 1, "time_zone": "Europe/Berlin"},
            ]
        )
    )
    settings = settings_for(
        AssignmentSettings,
        tmp_path=tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        roster_file=roster,
        rerun_interval_seconds=0.3,
    )
    service = assignment_service(settings)
    app = service.app

    async def owner_of(lead: UUID) -> str | None:
        return (await service.worker.call(app.get_assignment, lead)).seller_id

    async with started(service):
        # Given two sellers with room for one lead each, three leads arrive:
        await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(received(n)) for n in (1, 2, 3)])
        out = decoded(await read_topic(kafka_bootstrap, prefix + "assignments.events.v1", expect=3))
        # two are assigned round robin and the third waits (which one depends on partition order),
        assigned = {e.lead_id: e for e in out if isinstance(e, LeadAssignedV1)}
        (waiting,) = [e for e in out if isinstance(e, LeadAwaitingAssignmentV1)]
        assert sorted(e.seller_id for e in assigned.values()) == ["ann", "bob"]
        assert waiting.queue_id is None
        assert waiting.reason == "rule everyone, round robin: no eligible seller (capacity_full 2)"
        assert waiting.explanation["considered"] == 2
        assert waiting.explanation["exclusions"] == {"capacity_full": 2}
        assert all(e.ruleset_version == 0 and e.explanation["rule"]["name"] == "everyone, round robin" for e in out)
        (converted, owner_x), (recycled, owner_y) = sorted((n, assigned[lead_id(n)].seller_id) for n in (1, 2, 3)
                                                           if lead_id(n) in assigned)  # fmt: skip
        assert owner_x is not None and owner_y is not None
        # When intake reports one lead converted, its seller has room again
        await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(status(converted, 3, "converted", owner_x))])
        # and the periodic re-run (nobody calls it) gives the waiting lead to that seller.
        assert await eventually(lambda: owner_of(waiting.lead_id), until=lambda o: o is not None) == owner_x
        # When intake recycles the other lead, its owner is excluded: it waits (the other seller is full).
        await produce(kafka_bootstrap, prefix + "leads.events.v1", [binary(status(recycled, 3, "recycled", owner_y))])
        await eventually(
            lambda: service.worker.call(app.get_assignment, lead_id(recycled)),
            until=lambda a: a.status == "waiting",
        )
        assignment = await service.worker.call(app.get_assignment, lead_id(recycled))
        assert assignment.history[-1]["explanation"]["excluded_sellers"] == [owner_y]
        sellers = {s.seller_id: s.open_count for s in await service.worker.call(app.sellers)}
        assert sellers == {owner_x: 1, owner_y: 0}
        # Everything it decided went out on assignments.events.v1.
        out = decoded(await read_topic(kafka_bootstrap, prefix + "assignments.events.v1", expect=5))
        assert [type(e).__name__ for e in out].count("LeadAwaitingAssignmentV1") == 2
