"""Enrolments, narrated: a lead assigned in a linked segment is enrolled and its first step falls
due; each step type; each condition and its branches, time limits included; versions; reassignment;
each exit; the work list in the seller's time zone; a step falls due once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sequence_world import START, TRADE_SHOW, SequenceWorld

from leadflow_shared.contracts import (
    LeadChangedV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadStatusChangedV1,
    StepCompletedV1,
    StepDueV1,
)
from sequence.domain import AlreadyEnrolled, NotActive, NotCurrent

pytestmark = pytest.mark.unit
WEDNESDAY = START


@pytest.fixture
def world() -> Iterator[SequenceWorld]:
    w = SequenceWorld()
    yield w
    w.worker.shutdown()


def enrolled(world: SequenceWorld, steps: list[dict[str, Any]], seller: str = "sam", **settings: bool) -> UUID:
    """A lead assigned to `seller` in a segment linked to a new sequence of `steps`: its enrolment."""
    segment = f"segment-{uuid4().hex[:8]}"
    world.link(world.sequence(steps, **settings), segment)
    lead = uuid4()
    world.assign(lead, seller, segment_id=segment)
    return world.only_enrolment(lead).id  # type: ignore[no-any-return]


def current(world: SequenceWorld, enrolment_id: UUID) -> str | None:
    step = world.enrolment(enrolment_id).current
    return None if step is None else str(step["step_id"])


def branches(world: SequenceWorld, enrolment_id: UUID) -> list[tuple[str, str]]:
    return [(h["step_id"], h["branch"]) for h in world.enrolment(enrolment_id).history if h["action"] == "branched"]


# -- enrolment ----------------------------------------------------------------------------------


def test_a_lead_assigned_in_a_linked_segment_is_enrolled_and_its_first_step_falls_due(world: SequenceWorld) -> None:
    world.seller("sam")
    eid = enrolled(world, TRADE_SHOW)
    enrolment = world.enrolment(eid)
    assert (enrolment.owner_id, enrolment.via) == ("sam", "segment") and enrolment.segment_id.startswith("segment-")
    assert world.types(eid) == ["enrolled", "step-due"]
    due = world.published(eid)[1]
    assert isinstance(due, StepDueV1) and (due.step_id, due.step_type, due.owner_id) == ("e1", "email", "sam")


def test_leads_outside_linked_segments_or_without_a_seller_are_not_enrolled(world: SequenceWorld) -> None:
    world.link(world.sequence(TRADE_SHOW))
    elsewhere, unowned = uuid4(), uuid4()
    world.assign(elsewhere, "sam", segment_id="us-webinar")
    world.assign(unowned, None)
    assert world.app.enrolment_ids_of(elsewhere) == [] and world.app.enrolment_ids_of(unowned) == []


def test_a_lead_is_never_twice_in_one_sequence_but_may_be_in_several(world: SequenceWorld) -> None:
    first, second = world.sequence(TRADE_SHOW, name="a"), world.sequence(TRADE_SHOW, name="b")
    lead = uuid4()
    world.app.execute(world.app.enrol, lead, first, actor="admin")
    with pytest.raises(AlreadyEnrolled):
        world.app.execute(world.app.enrol, lead, first, actor="admin")
    world.app.execute(world.app.enrol, lead, second, actor="admin")
    assert len(world.app.enrolment_ids_of(lead)) == 2
    world.link(first)
    world.assign(lead, "sam")  # assigned in the linked segment while already in it: still once
    assert len(world.app.enrolment_ids_of(lead)) == 2


def test_only_an_active_sequence_takes_leads(world: SequenceWorld) -> None:
    draft = world.app.execute(world.app.create, name="d", description="", steps=TRADE_SHOW, settings={}, actor="a")
    with pytest.raises(NotActive):
        world.app.execute(world.app.enrol, uuid4(), draft, actor="admin")


def test_leads_stay_on_the_version_they_started(world: SequenceWorld) -> None:
    sid = world.sequence(TRADE_SHOW)
    early = world.app.execute(world.app.enrol, uuid4(), sid, actor="admin")
    world.app.execute(world.app.new_version, sid, actor="admin")
    world.app.execute(world.app.edit, sid, changes={"steps": [{"id": "t1", "type": "task"}]}, actor="admin")
    world.app.execute(world.app.activate, sid, actor="admin")
    late = world.app.execute(world.app.enrol, uuid4(), sid, actor="admin")
    assert (world.enrolment(early).sequence_version, current(world, early)) == (1, "e1")
    assert (world.enrolment(late).sequence_version, current(world, late)) == (2, "t1")
    world.app.execute(world.app.complete, early, "e1", actor="sam")
    assert current(world, early) == "w1"  # still walking version 1's steps


# -- waits on the seller's calendar ------------------------------------------------------------


@pytest.mark.parametrize(("skip_non_working_days", "due"), [(True, "2026-12-08"), (False, "2026-12-07")])
def test_dynamics_documented_example_email_on_wednesday_then_3_days(
    world: SequenceWorld, skip_non_working_days: bool, due: str
) -> None:
    world.seller("sam")
    eid = enrolled(world, TRADE_SHOW, skip_non_working_days=skip_non_working_days)
    world.app.execute(world.app.complete, eid, "e1", actor="sam")  # done on Wednesday
    wait_ends = world.enrolment(eid).current["due_at"]  # type: ignore[index]
    assert wait_ends.date().isoformat() == due  # Tuesday when skipping weekends, else Monday
    assert world.at(wait_ends - timedelta(minutes=1)) == 0 and current(world, eid) == "w1"
    assert world.at(wait_ends) == 1 and current(world, eid) == "c1"
    assert world.types(eid)[-1] == "step-due"


def test_waits_follow_the_sellers_time_zone_and_the_organisations_holidays(world: SequenceWorld) -> None:
    world.seller("kai", time_zone="Asia/Tokyo")
    world.app.execute(world.app.set_holidays, [{"date": "2026-12-07", "name": "Founders' day"}], actor="admin")
    eid = enrolled(
        world,
        [{"id": "e1", "type": "email"}, {"id": "w1", "type": "wait", "days": 1}, {"id": "c1", "type": "call"}],
        seller="kai",
    )
    world.app.execute(world.app.complete, eid, "e1", actor="kai")  # Wed 18:00 in Tokyo
    # one working day after Wednesday is Thursday; due at Friday's first working moment, 9:00 Tokyo
    assert world.enrolment(eid).current["due_at"] == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)  # type: ignore[index]
    world.app.execute(world.app.skip_wait, eid, "w1", actor="kai")
    assert current(world, eid) == "c1"
    eid2 = enrolled(
        world,
        [{"id": "e1", "type": "email"}, {"id": "w1", "type": "wait", "days": 2}, {"id": "c1", "type": "call"}],
        seller="kai",
    )
    world.app.execute(world.app.complete, eid2, "e1", actor="kai")
    # Thursday, Friday waited; Monday is the organisation's holiday: due Tuesday 9:00 Tokyo
    assert world.enrolment(eid2).current["due_at"] == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # type: ignore[index]


def test_a_wait_across_the_end_of_summer_time_lands_on_the_local_working_hour(world: SequenceWorld) -> None:
    world.seller("lea", time_zone="Europe/Berlin")
    eid = enrolled(world, TRADE_SHOW, seller="lea")
    world.clock.advance(datetime(2026, 10, 23, 8, 0, tzinfo=UTC) - world.clock.now())  # Friday 10:00 in Berlin (CEST)
    world.app.execute(world.app.complete, eid, "e1", actor="lea")
    # Monday, Tuesday, Wednesday waited (the clocks went back on Sunday): Thursday 9:00 CET is 8:00 UTC
    assert world.enrolment(eid).current["due_at"] == datetime(2026, 10, 29, 8, 0, tzinfo=UTC)  # type: ignore[index]


def test_a_wait_with_hours_adds_them_on_the_clock(world: SequenceWorld) -> None:
    eid = enrolled(world, [{"id": "w", "type": "wait", "hours": 5}, {"id": "c", "type": "call"}])
    assert world.enrolment(eid).current["due_at"] == START + timedelta(hours=5)  # type: ignore[index]


# -- step types ------------------------------------------------------------------------------------


def test_automated_sms_and_update_field_complete_on_their_own(world: SequenceWorld) -> None:
    eid = enrolled(
        world,
        [
            {"id": "s1", "type": "auto_sms", "text": "Thanks for visiting our stand!"},
            {"id": "u1", "type": "update_field", "field": "lifecycle_stage", "value": "engaged"},
            {"id": "t1", "type": "task"},
        ],
    )
    assert current(world, eid) == "t1"
    assert world.types(eid) == [
        "enrolled",
        "step-due",
        "sms-requested",
        "step-completed",
        "step-due",
        "step-completed",
        "step-due",
    ]
    update = [e for e in world.published(eid) if isinstance(e, StepCompletedV1)][1]
    assert update.command == {"field": "lifecycle_stage", "value": "engaged"} and update.step_type == "update_field"
    with pytest.raises(NotCurrent):
        world.app.execute(world.app.snooze, eid, "t1", until=START + timedelta(days=1), actor="sam")  # not tasks
    world.app.execute(world.app.complete, eid, "t1", actor="sam", note="done")
    assert world.enrolment(eid).status == "completed" and world.types(eid)[-1] == "exited"


def test_advance_ends_one_sequence_and_starts_the_next(world: SequenceWorld) -> None:
    nurture = world.sequence([{"id": "n1", "type": "task"}], name="nurture")
    eid = enrolled(world, [{"id": "c1", "type": "call"}, {"id": "a1", "type": "advance", "sequence_id": str(nurture)}])
    lead = world.enrolment(eid).lead_id
    world.app.execute(world.app.complete, eid, "c1", actor="sam", outcome="connected")
    assert (world.enrolment(eid).status, world.enrolment(eid).advanced_to) == ("completed", str(nurture))
    (after,) = [i for i in world.app.enrolment_ids_of(lead) if i != eid]
    assert (world.enrolment(after).via, current(world, after), world.enrolment(after).owner_id) == (
        "advance",
        "n1",
        "sam",
    )


def test_snooze_makes_a_step_due_again_later_exactly_once(world: SequenceWorld) -> None:
    eid = enrolled(world, TRADE_SHOW)
    world.app.execute(world.app.snooze, eid, "e1", until=START + timedelta(hours=3), actor="sam")
    assert world.types(eid) == ["enrolled", "step-due", "step-snoozed"]
    assert world.later(timedelta(hours=3)) == 1
    assert world.later(timedelta(hours=3)) == 0 and world.fire() == 0
    assert world.types(eid) == ["enrolled", "step-due", "step-snoozed", "step-due"]


def test_a_step_that_is_not_current_is_refused(world: SequenceWorld) -> None:
    eid = enrolled(world, TRADE_SHOW)
    with pytest.raises(NotCurrent):
        world.app.execute(world.app.complete, eid, "c1", actor="sam")
    with pytest.raises(NotCurrent):
        world.app.execute(world.app.skip_wait, eid, "e1", actor="sam")


# -- conditions ------------------------------------------------------------------------------------

OPENED = [
    {"id": "e1", "type": "email"},
    {
        "id": "if",
        "type": "condition",
        "kind": "email_opened",
        "step_id": "e1",
        "within_hours": 48,
        "yes": [{"id": "call", "type": "call"}],
        "no": [{"id": "again", "type": "email"}],
    },
]


def test_an_email_signal_takes_yes_as_soon_as_it_arrives(world: SequenceWorld) -> None:
    eid = enrolled(world, OPENED)
    world.app.execute(world.app.complete, eid, "e1", actor="sam")
    assert current(world, eid) == "if"
    world.clock.advance(timedelta(hours=2))
    world.app.execute(
        world.app.signal, eid, kind="email_opened", step_id="e1", occurred_at=world.clock.now(), source="t"
    )
    assert branches(world, eid) == [("if", "yes")] and current(world, eid) == "call"
    assert world.later(timedelta(days=3)) == 0  # the time limit was cancelled


def test_without_a_signal_the_time_limit_takes_no(world: SequenceWorld) -> None:
    eid = enrolled(world, OPENED)
    world.app.execute(world.app.complete, eid, "e1", actor="sam")
    assert world.later(timedelta(hours=47, minutes=59)) == 0
    assert world.later(timedelta(minutes=1)) == 1
    assert branches(world, eid) == [("if", "no")] and current(world, eid) == "again"


def test_branching_at_the_limit_waits_for_it_even_when_the_signal_came(world: SequenceWorld) -> None:
    eid = enrolled(world, OPENED, branch_on_signal_at_once=False)
    world.app.execute(world.app.complete, eid, "e1", actor="sam")
    world.app.execute(world.app.signal, eid, kind="email_opened", step_id="e1", occurred_at=START, source="t")
    assert current(world, eid) == "if"
    world.later(timedelta(hours=48))
    assert branches(world, eid) == [("if", "yes")] and current(world, eid) == "call"


def test_a_skipped_email_takes_no_at_once(world: SequenceWorld) -> None:
    eid = enrolled(world, OPENED)
    world.app.execute(world.app.skip, eid, "e1", actor="sam")
    assert branches(world, eid) == [("if", "no")] and current(world, eid) == "again"


@pytest.mark.parametrize("kind", ["email_opened", "email_replied", "link_clicked", "attachment_downloaded"])
def test_each_email_signal_decides_its_condition(world: SequenceWorld, kind: str) -> None:
    steps = [
        {"id": "e1", "type": "auto_email", "template": {"subject": "s", "body": "b"}},
        {"id": "if", "type": "condition", "kind": kind, "step_id": "e1", "within_hours": 24,
         "yes": [{"id": "y", "type": "sms"}], "no": [{"id": "n", "type": "task"}]},
    ]  # fmt: skip
    yes, no = enrolled(world, steps, exit_on_reply=False), enrolled(world, steps, exit_on_reply=False)
    for eid in (yes, no):
        world.app.execute(world.app.email_sent, eid, "e1", message_id="<m@x>")
    other = next(k for k in ("email_opened", "link_clicked") if k != kind)
    world.app.execute(world.app.signal, yes, kind=kind, step_id="e1", occurred_at=world.clock.now(), source="t")
    world.app.execute(world.app.signal, no, kind=other, step_id="e1", occurred_at=world.clock.now(), source="t")
    world.later(timedelta(hours=24))
    assert (current(world, yes), current(world, no)) == ("y", "n")


def test_a_signal_after_the_time_limit_comes_too_late(world: SequenceWorld) -> None:
    eid = enrolled(world, OPENED)
    world.app.execute(world.app.complete, eid, "e1", actor="sam")
    world.clock.advance(timedelta(hours=49))  # the runner has not fired yet when the late signal arrives
    world.app.execute(
        world.app.signal, eid, kind="email_opened", step_id="e1", occurred_at=world.clock.now(), source="t"
    )
    world.fire()
    assert branches(world, eid) == [("if", "no")]


@pytest.mark.parametrize(("outcome", "branch"), [("connected", "yes"), ("no_answer", "no")])
def test_call_outcome_decides(world: SequenceWorld, outcome: str, branch: str) -> None:
    steps = [
        {"id": "c1", "type": "call"},
        {"id": "if", "type": "condition", "kind": "call_outcome", "step_id": "c1", "outcome": "connected",
         "yes": [{"id": "y", "type": "task"}], "no": [{"id": "n", "type": "task"}]},
    ]  # fmt: skip
    eid = enrolled(world, steps)
    world.app.execute(world.app.complete, eid, "c1", actor="sam", outcome=outcome)
    assert branches(world, eid) == [("if", branch)]


def test_lead_field_and_stage_conditions_read_intakes_events(world: SequenceWorld) -> None:
    steps = [
        {"id": "t", "type": "task"},
        {"id": "f", "type": "condition", "kind": "field_value", "field": "attributes.booth", "equals": "A7",
         "yes": [{"id": "s", "type": "condition", "kind": "lead_stage", "stage": "qualified",
                  "yes": [{"id": "x", "type": "task"}], "no": [{"id": "y", "type": "task"}]}],
         "no": [{"id": "z", "type": "task"}]},
    ]  # fmt: skip
    before = uuid4()
    world.app.execute(world.app.on_lead_snapshot, received(before, attributes={"booth": "A7"}))
    assert world.app.enrolment_ids_of(before) == [] and before not in world.app.repository  # nobody reads fields yet
    sid = world.sequence(steps)
    lead = uuid4()
    world.app.execute(world.app.on_lead_snapshot, received(lead, attributes={"booth": "A7"}))
    world.app.execute(
        world.app.on_lead_changed, changed(lead, "stage_moved", {"from_stage": "new", "to_stage": "contacted"})
    )
    eid = world.app.execute(world.app.enrol, lead, sid, actor="admin")
    world.app.execute(world.app.complete, eid, "t", actor="sam")
    assert branches(world, eid) == [("f", "yes"), ("s", "no")] and current(world, eid) == "y"


def test_an_older_snapshot_arriving_late_does_not_undo_a_newer_one(world: SequenceWorld) -> None:
    branches_ = {"yes": [{"id": "y", "type": "task"}], "no": [{"id": "n", "type": "task"}]}
    condition = {"id": "f", "type": "condition", "kind": "field_value", "field": "score", "equals": 90, **branches_}
    world.sequence([{"id": "t", "type": "task"}, condition])
    lead = uuid4()
    world.app.execute(world.app.on_lead_snapshot, received(lead, score=90, version=3))
    world.app.execute(world.app.on_lead_snapshot, received(lead, score=10, version=2))
    assert world.app.repository.get(lead).facts["score"] == 90


# -- owners and exits --------------------------------------------------------------------------------


def test_on_reassignment_the_enrolment_follows_the_new_owner(world: SequenceWorld) -> None:
    eid = enrolled(world, TRADE_SHOW)
    world.assign(world.enrolment(eid).lead_id, "kim", segment_id=None, version=2)
    assert world.enrolment(eid).owner_id == "kim" and world.types(eid)[-1] == "owner-changed"
    world.read_model.runner.catch_up()
    assert [
        i["enrolment_id"] for i in world.read_model.enrolments.work("kim", "due_today", "UTC", world.clock.now())
    ] == [str(eid)]
    assert world.read_model.enrolments.work("sam", "due_today", "UTC", world.clock.now()) == []


def test_a_reply_ends_the_enrolment_when_the_sequence_says_so(world: SequenceWorld) -> None:
    for exit_on_reply, status in ((True, "exited"), (False, "active")):
        eid = enrolled(world, OPENED, exit_on_reply=exit_on_reply)
        world.app.execute(world.app.complete, eid, "e1", actor="sam")
        world.app.execute(world.app.signal, eid, kind="email_replied", step_id="e1", occurred_at=START, source="t")
        assert world.enrolment(eid).status == status
    assert world.enrolment(eid).signals["e1"]["email_replied"] == START


EXITS = [
    (lambda lead: ("on_lead_changed", changed(lead, "disqualified", {})), "disqualified"),
    (lambda lead: ("on_lead_changed", changed(lead, "qualified", {})), "qualified"),
    (lambda lead: ("on_status_changed", status(lead, "converted", "assigned", "converted")), "converted"),
    (
        lambda lead: ("on_status_changed", status(lead, "closed_invalid", "assigned", "closed_invalid")),
        "closed_invalid",
    ),
    (lambda lead: ("on_status_changed", status(lead, "voided", "assigned", "voided")), "voided"),
    (lambda lead: ("on_status_changed", status(lead, "recycled", "assigned", "unassigned")), "recycled"),
    (lambda lead: ("on_lead_deleted", deleted(lead)), "deleted"),
]


@pytest.mark.parametrize(("event", "cause"), EXITS, ids=[cause for _, cause in EXITS])
def test_each_exit_from_intakes_lead_events(world: SequenceWorld, event: Any, cause: str) -> None:
    eid = enrolled(world, OPENED)
    world.app.execute(world.app.complete, eid, "e1", actor="sam")  # waiting for a signal: a deadline is open
    use_case, message = event(world.enrolment(eid).lead_id)
    world.app.execute(getattr(world.app, use_case), message)
    enrolment = world.enrolment(eid)
    assert (enrolment.status, enrolment.exit_cause) == ("exited", cause)
    assert enrolment.open_deadlines() == {} and world.types(eid)[-1] == "exited"
    assert world.later(timedelta(days=3)) == 0


def test_deactivating_or_deleting_a_sequence_disconnects_its_leads(world: SequenceWorld) -> None:
    for use_case, cause in ((world.app.deactivate, "sequence_deactivated"), (world.app.delete, "sequence_deleted")):
        sid = world.sequence(TRADE_SHOW)
        eids = [world.app.execute(world.app.enrol, uuid4(), sid, actor="admin") for _ in range(3)]
        world.read_model.runner.catch_up()
        world.app.execute(use_case, sid, actor="admin")
        world.fire()
        world.fire()
        assert {(world.enrolment(e).status, world.enrolment(e).exit_cause) for e in eids} == {("exited", cause)}
        assert world.read_model.enrolments.active_in(sid, 10) == []


def test_a_sequence_active_again_before_its_leads_were_disconnected_keeps_them(world: SequenceWorld) -> None:
    sid = world.sequence(TRADE_SHOW)
    eid = world.app.execute(world.app.enrol, uuid4(), sid, actor="admin")
    world.read_model.runner.catch_up()
    world.app.execute(world.app.deactivate, sid, actor="admin")
    world.app.execute(world.app.new_version, sid, actor="admin")
    world.app.execute(world.app.activate, sid, actor="admin")
    assert world.fire() == 0 and world.enrolment(eid).status == "active"


def test_a_manual_disconnect_is_an_exit(world: SequenceWorld) -> None:
    eid = enrolled(world, TRADE_SHOW)
    world.app.execute(world.app.disconnect, eid, actor="admin")
    assert world.enrolment(eid).exit_cause == "disconnected"
    lead = world.enrolment(eid).lead_id
    again = world.app.execute(world.app.enrol, lead, world.enrolment(eid).sequence_id, actor="admin")
    assert again != eid and world.enrolment(again).round == 2  # may be connected again after leaving


# -- the work list ---------------------------------------------------------------------------------


def test_work_list_buckets_are_the_sellers_local_days(world: SequenceWorld) -> None:
    world.seller("kai", time_zone="America/Los_Angeles")  # 9:00 UTC on Wednesday is 1:00 there
    overdue = enrolled(world, [{"id": "c", "type": "call"}], seller="kai")
    world.later(timedelta(hours=8))  # 17:00 UTC: still Wednesday in Los Angeles (9:00)
    today = enrolled(world, [{"id": "c", "type": "call"}], seller="kai")
    later = enrolled(
        world,
        [{"id": "e", "type": "email"}, {"id": "w", "type": "wait", "days": 2}, {"id": "c", "type": "call"}],
        seller="kai",
    )
    world.app.execute(world.app.complete, later, "e", actor="kai")
    world.at(datetime(2026, 12, 3, 17, 0, tzinfo=UTC))  # Thursday 9:00 in Los Angeles
    work = world.read_model.enrolments.work
    now = world.clock.now()
    assert [i["enrolment_id"] for i in work("kai", "overdue", "America/Los_Angeles", now)] == [str(overdue), str(today)]
    assert work("kai", "due_today", "America/Los_Angeles", now) == []
    (upcoming,) = work("kai", "upcoming", "America/Los_Angeles", now)
    assert (upcoming["enrolment_id"], upcoming["step_id"], upcoming["after_wait"]) == (str(later), "c", "w")
    world.later(timedelta(days=31))
    assert [i["enrolment_id"] for i in work("kai", "overdue", "America/Los_Angeles", world.clock.now())] == [str(later)]


# -- messages as intake sends them ------------------------------------------------------------------


def received(lead: UUID, **fields: Any) -> LeadReceivedV1:
    return LeadReceivedV1.model_validate(
        {
            "aggregate_id": lead,
            "version": fields.pop("version", 1),
            "lead_id": lead,
            "source": "webform",
            "external_id": str(lead),
            "type": "customer_inquiry",
            "contact": {},
            "company": {"country": "GB"},
            "occurred_at": START,
            "received_at": START,
            **fields,
        }
    )


def changed(lead: UUID, change: str, data: dict[str, Any]) -> LeadChangedV1:
    return LeadChangedV1(aggregate_id=lead, version=5, lead_id=lead, change=change, data=data, occurred_at=START)


def status(lead: UUID, action: str, before: str, after: str) -> LeadStatusChangedV1:
    return LeadStatusChangedV1.model_validate(
        {"aggregate_id": lead, "version": 5, "lead_id": lead, "action": action, "status_before": before,
         "status_after": after, "occurred_at": START}
    )  # fmt: skip


def deleted(lead: UUID) -> LeadDeletedV1:
    return LeadDeletedV1(aggregate_id=lead, version=5, lead_id=lead, occurred_at=START)
