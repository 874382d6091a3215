"""The contact SLA, intake's first durable deadline: a lead that asked to be contacted and was not
followed up within the SLA is flagged overdue when the (injected) clock reaches its deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake.application import IntakeApplication
from intake.domain import Lead
from intake.projections import lead_view
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SLA = timedelta(hours=4)


def lead(app: IntakeApplication, external_id: str, *, contact_requested: bool) -> Lead:
    inbound = InboundLeadV1(
        source="web-form", external_id=external_id, occurred_at=T0, contact_requested=contact_requested
    )
    return app.get_lead(app.execute(app.receive_lead, inbound, via="http").lead_id)


def test_a_lead_not_followed_up_within_the_sla_is_flagged_overdue_and_a_follow_up_clears_it() -> None:
    clock = FixedClock(T0)
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    app.contact_sla = SLA
    index = ProjectionRunner(app, SQLiteReadStore.in_memory(), DeadlinesProjection([Lead]))
    runner = DeadlineRunner(app, StoreWorker("test"), index, app.on_deadline, clock=clock)

    waiting = lead(app, "waits", contact_requested=True)
    answered = lead(app, "answered", contact_requested=True)
    quiet = lead(app, "quiet", contact_requested=False)
    assert lead_view(waiting)["deadlines"] == {
        "contact-sla": {"due_at": (T0 + SLA).isoformat(), "purpose": "contact-sla", "state": "open"}
    }
    assert lead_view(quiet)["deadlines"] == {}
    clock.advance(timedelta(hours=1))
    app.execute(app.follow_up, answered.id, actor="ana", note="called back", channel="call")

    clock.advance(timedelta(hours=2, minutes=59))  # 3h59m after arrival
    assert runner.fire_due() == 0
    assert not app.get_lead(waiting.id).contact_overdue
    clock.advance(timedelta(minutes=1))  # exactly the SLA
    assert runner.fire_due() == 1
    flagged = app.get_lead(waiting.id)
    assert flagged.contact_overdue and lead_view(flagged)["deadlines"]["contact-sla"]["state"] == "fired"
    assert not app.get_lead(answered.id).contact_overdue
    assert app.get_lead(answered.id).deadline_book()["contact-sla"]["state"] == "cancelled"
    assert runner.fire_due() == 0  # fired once
    app.execute(app.follow_up, waiting.id, actor="ana", note="sorry for the wait")
    assert not app.get_lead(waiting.id).contact_overdue


def test_a_lead_closed_before_its_deadline_is_not_flagged() -> None:
    clock = FixedClock(T0)
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
    app.contact_sla = SLA
    index = ProjectionRunner(app, SQLiteReadStore.in_memory(), DeadlinesProjection([Lead]))
    runner = DeadlineRunner(app, StoreWorker("test"), index, app.on_deadline, clock=clock)
    spam = lead(app, "spam", contact_requested=True)
    app.execute(app.close_invalid, spam.id, actor="ana", reason="spam")
    clock.advance(SLA)
    assert runner.fire_due() == 1  # the deadline fires (and is recorded) but changes nothing else
    assert not app.get_lead(spam.id).contact_overdue
