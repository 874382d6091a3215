"""intake and assignment use cases on in-memory (POPO) persistence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assignment.application import AssignmentApplication
from assignment.entrypoints.stream import to_integration_event as assignment_event
from intake.application import IntakeApplication
from intake.domain import lead_id_for
from intake.entrypoints.stream import to_integration_event as intake_event
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import InboundLeadV1, LeadAssignedV1, LeadReceivedV1

pytestmark = pytest.mark.unit
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def inbound(external_id: str) -> InboundLeadV1:
    return InboundLeadV1.model_validate(
        {"source": "web-form", "external_id": external_id, "occurred_at": "2026-11-01T10:00:00Z"}
    )


def published(app: IntakeApplication | AssignmentApplication, mapper) -> list:  # type: ignore[no-untyped-def]
    events = [mapper(app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(1, 1000)]
    return [e for e in events if e is not None]


def test_a_lead_id_is_derived_from_source_and_external_id() -> None:
    assert lead_id_for("a", "1") == lead_id_for("a", "1")
    assert lead_id_for("a", "1") != lead_id_for("b", "1")


def test_a_re_sent_lead_is_recognised_not_duplicated() -> None:
    app = IntakeApplication(env=POPO, clock=FixedClock(NOW))
    first = app.execute(app.receive_lead, inbound("1"), via="kafka")
    again = app.execute(app.receive_lead, inbound("1"), via="http")
    assert first.created and not again.created and first.lead_id == again.lead_id
    received = published(app, intake_event)
    assert len(received) == 1 and isinstance(received[0], LeadReceivedV1)
    assert received[0].received_at == NOW and received[0].version == 1


def test_round_robin_takes_turns_and_publishes_one_decision_per_lead() -> None:
    intake = IntakeApplication(env=POPO, clock=FixedClock(NOW))
    assignment = AssignmentApplication(env=POPO, clock=FixedClock(NOW))
    assert assignment.execute(assignment.add_sellers, [("s1", "One"), ("s2", "Two"), ("s3", "Three")]) == 3
    assert assignment.execute(assignment.add_sellers, [("s1", "One")]) == 0
    for i in range(7):
        intake.execute(intake.receive_lead, inbound(str(i)), via="kafka")
    for event in published(intake, intake_event):
        assignment.execute(assignment.assign_received_lead, event)
        assignment.execute(assignment.assign_received_lead, event)  # re-sent: applied once
    decisions = published(assignment, assignment_event)
    assert all(isinstance(d, LeadAssignedV1) for d in decisions)
    assert [d.seller_id for d in decisions] == ["s1", "s2", "s3", "s1", "s2", "s3", "s1"]
    assert {d.decided_at for d in decisions} == {NOW}


def test_a_lead_waits_when_the_roster_is_empty() -> None:
    intake = IntakeApplication(env=POPO)
    assignment = AssignmentApplication(env=POPO)
    intake.execute(intake.receive_lead, inbound("w"), via="http")
    (event,) = published(intake, intake_event)
    assignment.execute(assignment.assign_received_lead, event)
    waiting = assignment.get_assignment(event.lead_id)
    assert waiting.seller_id is None and waiting.status == "waiting"
    assert waiting.waiting_reason == "rule everyone, round robin: no eligible seller (no candidates)"
    assert [type(e).__name__ for e in published(assignment, assignment_event)] == ["LeadAwaitingAssignmentV1"]
