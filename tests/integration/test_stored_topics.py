"""Stores written before Spine v2 still load: classes moved (contacts.py and rules.py were split) and
their stored topics resolve through register_topic; every aggregate reads back as the old code read
it; the read models and the relay run over the old log (tests/fixtures/stores/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from intake_world import lead_list_of

from assignment.application import AssignmentApplication
from assignment.application.simulation import replay_decisions
from assignment.entrypoints.stream import publications as assignment_publications
from assignment.projections import AssignmentReadModel, AssignmentsProjection
from intake.application import IntakeApplication
from intake.domain import ContactIndexEntry, Customer, index_id
from intake.entrypoints.stream import publications as intake_publications
from leadflow_shared.health import Health
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.relay import OutboxRelay
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text())


def copy_of(name: str, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / name
    shutil.copy(FIXTURES / name, path)
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path), "CREATE_TABLE": "y"}


def old_topics(env: dict[str, str]) -> set[str]:
    import sqlite3

    with sqlite3.connect(env["SQLITE_DBNAME"]) as db:
        return {row[0] for row in db.execute("SELECT DISTINCT topic FROM stored_events")}


def test_an_intake_store_written_before_the_move_reads_back_the_same(tmp_path: Path) -> None:
    env = copy_of("intake-before-spine-v2.sqlite", tmp_path)
    assert "intake.domain.contacts:Customer.Created" in old_topics(env)  # a class that has moved since
    app = IntakeApplication(env=env)
    for lead_id, expected in EXPECTED["intake_leads"].items():
        lead = app.get_lead(UUID(lead_id))
        assert {
            "version": lead.version,
            "status": lead.status,
            "owner_id": lead.owner_id,
            "voided": lead.voided,
            "stage_id": lead.stage_id,
            "merged_into": str(lead.merged_into) if lead.merged_into else None,
            "customer_id": bool(lead.customer_id),
        } == expected, lead_id
    settings = app.settings()
    assert {
        "version": settings.version,
        "stages": [s["id"] for s in settings.stages],
        "reasons": [r["id"] for r in settings.reasons],
    } == EXPECTED["intake_settings"]
    # The moved classes load (their topics resolve), entries opened the old way keep their first lead.
    customers = [
        app.repository.get(UUID(str(n.originator_id)))
        for n in app.recorder.select_notifications(1, 1000)
        if n.topic.endswith("Customer.Created")
    ]
    assert customers and all(isinstance(c, Customer) for c in customers)
    entry = app.repository.get(index_id("email", "ada0@example.com"))
    assert isinstance(entry, ContactIndexEntry) and len(entry.lead_ids) >= 2
    # The lead list projects the old log, and the relay maps every published old event.
    lead_list = lead_list_of(app)
    lead_list.runner.catch_up()
    assert len(lead_list.dump()["intake_rm_leads"]) == len(EXPECTED["intake_leads"])
    relay = OutboxRelay(
        app=app,
        worker=StoreWorker("t"),
        publication=intake_publications(app)[0],
        topic="leads.events.v1",
        send=_never,
        source="t",
        health=Health(),
    )
    messages, reached = relay._read_batch(0)
    assert messages and reached == app.recorder.max_notification_id()


def test_an_assignment_store_written_before_the_move_reads_back_the_same(tmp_path: Path) -> None:
    env = copy_of("assignment-before-spine-v2.sqlite", tmp_path)
    assert "assignment.domain.rules:RuleBook.Drafted" in old_topics(env)  # a class that has moved since
    app = AssignmentApplication(env=env)
    for lead_id, expected in EXPECTED["assignments"].items():
        assignment = app.get_assignment(UUID(lead_id))
        assert {
            "version": assignment.version,
            "status": assignment.status,
            "seller_id": assignment.seller_id,
            "team_id": assignment.team_id,
            "segment": assignment.segment,
        } == expected, lead_id
    # Sellers kept their open leads as a set then; their counts now come out the same.
    assert {
        s.seller_id: {"open": s.open_count, "accepts": s.accepts_assignments, "teams": list(s.teams)}
        for s in app.sellers()
    } == EXPECTED["sellers"]
    assert sorted(app.segments().segments) == EXPECTED["segments"]
    book = app.rulebook()
    assert {
        "active": book.active_version,
        "versions": [[v["version"], v["name"], v["status"]] for v in book.versions],
    } == EXPECTED["rulebook"]
    # Old decisions (with every candidate in their explanation) project, replay and publish.
    read_model = AssignmentReadModel(ProjectionRunner(app, SQLiteReadStore.in_memory(), AssignmentsProjection()))
    app.reads = read_model
    assert len(list(read_model.leads_in_order())) == len(EXPECTED["assignments"])
    assert all(r.same for r in replay_decisions(app))
    relay = OutboxRelay(
        app=app,
        worker=StoreWorker("t"),
        publication=assignment_publications(app)[0],
        topic="assignments.events.v1",
        send=_never,
        source="t",
        health=Health(),
    )
    messages, _ = relay._read_batch(0)
    assert len(messages) >= len(EXPECTED["assignments"])


async def _never(*_: Any, **__: Any) -> None:
    raise AssertionError("nothing is sent here")
