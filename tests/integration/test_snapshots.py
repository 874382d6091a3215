"""Snapshots (SQLite store): every aggregate that snapshots reads back from its snapshot exactly
as it was; time travel from a snapshot gives what a replay from the first event gives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from assignment.application import AssignmentApplication
from assignment.domain import HOLIDAYS_ID, RULEBOOK_ID, SEGMENTS_ID, seller_uuid
from assignment.domain.sellers import ROSTER_ID
from intake.application import IntakeApplication
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.timetravel import replay_until, state_as_of

pytestmark = pytest.mark.integration


def sqlite(path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path), "CREATE_TABLE": "y"}


def inbound(external_id: str) -> InboundLeadV1:
    return InboundLeadV1(
        source="web-form",
        external_id=external_id,
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        contact={"first_name": "Ada", "phone": "+44 20 7946 0958", "email": "ada@example.org"},
    )


def same_state(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    assert vars(a) == vars(b)
    assert {k: type(v) for k, v in vars(a).items()} == {k: type(v) for k, v in vars(b).items()}


def test_each_snapshotting_aggregate_reads_back_from_its_snapshot_as_it_was(tmp_path: Path) -> None:
    stores = {"intake": sqlite(tmp_path / "intake.sqlite"), "assignment": sqlite(tmp_path / "assignment.sqlite")}
    intake = IntakeApplication(env=stores["intake"])
    lead_id = intake.execute(intake.receive_lead, inbound("snap-1"), via="http").lead_id
    intake.execute(intake.set_favorite, lead_id, user_id="ana", on=True)  # a set in the state
    intake.execute(intake.follow_up, lead_id, actor="ana", note="called", channel="call")
    assignment = AssignmentApplication(env=stores["assignment"])
    for seller in ("ann", "bob"):
        assignment.execute(assignment.put_seller, seller, {"name": seller, "languages": ["en"]})
    assignment.execute(assignment.define_team, "emea", "EMEA", ["ann", "bob"])
    dach = {"all_of": [{"field": "country", "op": "in", "value": ["DE"]}]}
    assignment.execute(assignment.define_segment, "dach", 5, dach)
    rule = {"name": "all", "target": {"kind": "sellers"}, "method": "round_robin"}
    assignment.execute(assignment.activate_ruleset, assignment.execute(assignment.draft_ruleset, "r", [rule]))
    days = ["2026-12-25", {"date": "2026-01-01", "yearly": True, "name": "New Year"}]
    assignment.execute(assignment.define_holiday_list, "organisation", "Org", days)

    apps = {"intake": intake, "assignment": assignment}
    cases = [
        ("intake", lead_id),
        ("assignment", seller_uuid("ann")),
        ("assignment", ROSTER_ID),
        ("assignment", RULEBOOK_ID),
        ("assignment", SEGMENTS_ID),
        ("assignment", HOLIDAYS_ID),
    ]
    for service, aggregate_id in cases:
        apps[service].take_snapshot(aggregate_id)
    # A fresh process on the same stores (nothing cached) loads each from its snapshot, and gets
    # what replaying its whole stream gives.
    fresh = {
        "intake": IntakeApplication(env=stores["intake"]),
        "assignment": AssignmentApplication(env=stores["assignment"]),
    }
    for service, aggregate_id in cases:
        reopened = fresh[service]
        assert reopened.snapshots is not None and list(reopened.snapshots.get(aggregate_id)), aggregate_id
        replayed = replay_until(reopened.events.get(aggregate_id), aggregate_id, datetime.now(UTC))
        same_state(reopened.repository.get(aggregate_id), replayed)


def test_time_travel_from_snapshots_gives_what_a_full_replay_gives(tmp_path: Path) -> None:
    app = IntakeApplication(env=sqlite(tmp_path / "store.sqlite"))  # Lead: a snapshot every 50 events
    lead_id = app.execute(app.receive_lead, inbound("snap-2"), via="http").lead_id
    for i in range(120):
        app.execute(app.follow_up, lead_id, actor=f"u{i % 3}", note=f"note {i}")
    events = list(app.events.get(lead_id))
    assert len(events) == 121
    assert [s.originator_version for s in app.snapshots.get(lead_id)] == [50, 100]
    for event in events[::7] + events[-3:]:
        from_snapshot = state_as_of(app, lead_id, event.timestamp)
        replayed = replay_until(events, lead_id, event.timestamp)
        same_state(from_snapshot, replayed)
        assert from_snapshot.follow_ups == event.originator_version - 1
