"""intake's lifecycle on real Kafka: decisions in, every change out, upstream ordering, auto-create."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from harness import (
    as_bytes,
    eventually,
    inbound_lead,
    new_prefix,
    postgres_settings,
    produce,
    read_topic,
    settings_for,
    started,
)

from intake.bootstrap import bootstrap as intake_service
from intake.domain import lead_id_for
from intake.settings import IntakeSettings
from leadflow_shared.contracts import INTEGRATION_EVENTS, IntegrationEvent, LeadAssignedV1
from leadflow_shared.envelope import to_binary
from leadflow_shared.runtime import Service

pytestmark = pytest.mark.integration


def decoded(records: list[Any]) -> list[IntegrationEvent]:
    events = []
    for record in records:
        ce_type = dict(record.headers)["ce_type"].decode()
        events.append(INTEGRATION_EVENTS[ce_type].model_validate_json(record.value))
    return events


async def lead_version(service: Service, external_id: str) -> int:
    app = service.app
    lead_id = lead_id_for("web-form", external_id)
    if not await service.worker.call(app.repository.__contains__, lead_id):
        return 0
    return (await service.worker.call(app.get_lead, lead_id)).version


def intake_on(kafka_bootstrap: str, tmp_path: Path, prefix: str, **overrides: Any) -> Service:
    return intake_service(
        settings_for(IntakeSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix, **overrides)
    )


async def test_a_decision_on_the_assignments_topic_assigns_the_lead_and_every_change_is_published(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    intake = intake_on(kafka_bootstrap, tmp_path, prefix)
    lead_id = lead_id_for("web-form", "k-1")
    async with started(intake):
        await produce(kafka_bootstrap, prefix + "leads.inbound.v1", [(None, as_bytes(inbound_lead("k-1")), [])])
        await eventually(lambda: lead_version(intake, "k-1"), until=lambda v: v == 1)
        decision = LeadAssignedV1(
            aggregate_id=lead_id,
            version=2,
            lead_id=lead_id,
            seller_id="s7",
            team_id="north",
            method="round_robin",
            decided_at="2026-11-01T10:00:05Z",
        )
        message = to_binary(decision, source="leadflow/assignment", time=decision.decided_at).record()
        await produce(kafka_bootstrap, prefix + "assignments.events.v1", [message, message])  # re-sent once
        await eventually(lambda: lead_version(intake, "k-1"), until=lambda v: v == 2)
        app = intake.app
        await intake.worker.call(app.execute, app.follow_up, lead_id, actor="ana", note="called")
        await intake.worker.call(app.execute, app.convert, lead_id, actor="ana")
        records = await read_topic(kafka_bootstrap, prefix + "leads.events.v1", expect=4, settle=1.0)
    events = decoded(records)
    assert [type(e).__name__ for e in events] == [
        "LeadReceivedV1",
        "LeadStatusChangedV1",
        "LeadChangedV1",
        "LeadStatusChangedV1",
    ]
    assert [e.version for e in events] == [1, 2, 3, 4]
    assert {r.key for r in records} == {str(lead_id).encode()}
    assert {(e.source, e.external_id) for e in events} == {("web-form", "k-1")}  # type: ignore[attr-defined]
    assigned, converted = events[1], events[3]
    assert (assigned.action, assigned.owner_id, assigned.team_id) == ("assigned", "s7", "north")  # type: ignore[attr-defined]
    assert (converted.action, converted.previous_owner_id) == ("converted", "s7")  # type: ignore[attr-defined]


async def test_upstream_updates_apply_in_occurrence_order_and_older_ones_are_recorded_as_ignored(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    intake = intake_on(kafka_bootstrap, tmp_path, prefix)
    async with started(intake):
        await produce(
            kafka_bootstrap,
            prefix + "leads.inbound.v1",
            [
                (b"u", as_bytes(inbound_lead("u-1", score=10, occurred_at="2026-11-01T10:00:00Z")), []),
                (b"u", as_bytes(inbound_lead("u-1", score=90, occurred_at="2026-11-01T12:00:00Z")), []),
                (b"u", as_bytes(inbound_lead("u-1", score=50, occurred_at="2026-11-01T11:00:00Z")), []),
            ],
        )
        await eventually(lambda: lead_version(intake, "u-1"), until=lambda v: v == 3)
        lead = await intake.worker.call(intake.app.get_lead, lead_id_for("web-form", "u-1"))
        assert (lead.score, lead.ignored_updates) == (90, 1)
        records = await read_topic(kafka_bootstrap, prefix + "leads.events.v1", expect=2, settle=1.0)
    assert [type(e).__name__ for e in decoded(records)] == ["LeadReceivedV1", "LeadUpdatedV1"]


async def test_a_contact_reaching_the_configured_stage_creates_one_lead_via_kafka(
    kafka_bootstrap: str, tmp_path: Path, postgres_database: dict[str, Any]
) -> None:
    prefix = new_prefix()
    intake = intake_on(
        kafka_bootstrap,
        tmp_path,
        prefix,
        **postgres_settings(postgres_database),
    )
    change = {
        "specversion": "1.0",
        "type": "contact.lifecycle-changed.v1",
        "id": "e1",
        "source": "crm",
        "data": {
            "source": "crm",
            "contact_id": "c-42",
            "lifecycle_stage": "salesqualifiedlead",
            "contact": {"email": "c42@example.com"},
            "occurred_at": "2026-11-01T10:00:00Z",
        },
    }
    async with started(intake):
        app = intake.app
        await intake.worker.call(
            app.execute, app.change_settings, lambda s: s.set_lifecycle_automation("salesqualifiedlead", None)
        )
        structured = [("content-type", b"application/cloudevents+json")]
        await produce(
            kafka_bootstrap, prefix + "leads.inbound.v1", [(b"c-42", json.dumps(change).encode(), structured)] * 3
        )
        lead_id = lead_id_for("crm", "contact:c-42")
        await eventually(lambda: intake.worker.call(app.repository.__contains__, lead_id), until=bool)
        records = await read_topic(kafka_bootstrap, prefix + "leads.events.v1", expect=1, settle=1.5)
    assert len(records) == 1 and records[0].key == str(lead_id).encode()
