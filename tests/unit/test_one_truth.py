"""One truth across intake and assignment, in-process: each service's published events are fed
to the other's subscriptions (what Kafka does between them; the real-Kafka run of the same is
tests/integration/test_one_truth_on_kafka.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from assignment_scenario import POPO, Scenario
from one_truth import LifecycleActions, disagreements

from assignment.domain import Assignment, AssignmentError
from assignment.entrypoints.stream import subscriptions as assignment_subscriptions
from assignment.entrypoints.stream import to_integration_event as assignment_event
from intake.application import IntakeApplication
from intake.domain import Lead, LeadError
from intake.entrypoints.stream import subscriptions as intake_subscriptions
from intake.entrypoints.stream import to_integration_event as intake_event
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


class Wire:
    """intake and assignment joined in-process: `pump()` delivers every event each has published
    since the last pump to the other, until neither has anything new."""

    def __init__(self, sellers: dict[str, int | None], **policy: Any) -> None:
        self.assignment = Scenario(NOW, **policy)
        self.clock = self.assignment.clock
        self.intake = IntakeApplication(env=POPO, clock=self.clock)
        for seller, capacity in sellers.items():
            self.assignment.seller(seller, capacity=capacity)
        self.sellers = list(sellers)
        (to_assignment,) = [s for s in assignment_subscriptions(self.assignment.app) if s.topic == LEADS_EVENTS]
        (to_intake,) = [s for s in intake_subscriptions(self.intake) if s.topic == ASSIGNMENTS_EVENTS]
        self.links = [
            (self.intake, intake_event, self.assignment.app, to_assignment.routes),
            (self.assignment.app, assignment_event, self.intake, to_intake.routes),
        ]
        self.read = {id(self.intake): 0, id(self.assignment.app): 0}
        self.pump()

    def pump(self) -> None:
        moved = True
        while moved:
            moved = False
            for source, mapper, target, routes in self.links:
                start = self.read[id(source)]
                for n in source.recorder.select_notifications(start + 1, 10_000):
                    self.read[id(source)] = n.id
                    event = mapper(source.mapper.to_domain_event(n))
                    route = routes.get(type(event).cloudevents_type) if event is not None else None
                    if route is not None:
                        target.execute(route.use_case, event)
                        moved = True

    def lead(self, external_id: str, *, owner: str | None = None, actor: str | None = None) -> UUID:
        inbound = InboundLeadV1(
            source="web-form", external_id=external_id, contact={}, company={"country": "DE"}, occurred_at=NOW
        )
        receipt = self.intake.execute(self.intake.receive_lead, inbound, via="http", owner_id=owner, actor=actor)
        self.pump()
        return receipt.lead_id

    def do(self, use_case: str, *args: Any, **kwargs: Any) -> Any:
        result = self.intake.execute(getattr(self.intake, use_case), *args, actor="ana", **kwargs)
        self.pump()
        return result

    def lead_now(self, lead_id: UUID) -> Lead:
        return self.intake.repository.get(lead_id)  # type: ignore[no-any-return]

    def assignment_of(self, lead_id: UUID) -> Assignment:
        return self.assignment.app.get_assignment(lead_id)

    def problems(self, lead_ids: list[UUID]) -> list[str]:
        leads = [self.lead_now(i) for i in lead_ids]
        assignments = {i: self.assignment.app._find(i) for i in lead_ids}
        counts = {s.seller_id: s.open_count for s in self.assignment.app.sellers()}
        return disagreements(leads, assignments, counts)


def test_leaving_open_work_releases_the_seller_and_coming_back_decides_again() -> None:
    wire = Wire({"ann": 5, "bob": 5})
    leads = [wire.lead(f"l{i}") for i in range(6)]
    assert {wire.lead_now(i).owner_id for i in leads} == {"ann", "bob"}
    voided, merged, qualified, disqualified, deleted, kept = leads
    wire.do("recycle", deleted)
    wire.do("void", voided, reason="junk")
    wire.do("merge", kept, merged)
    wire.do("qualify", qualified, deal={"name": "Pilot", "amount": 10.0})
    wire.do("disqualify", disqualified)
    wire.do("delete", deleted) if "delete" in wire.lead_now(deleted).allowed_actions() else None
    for lead_id in (voided, merged, qualified, disqualified):
        assert wire.assignment_of(lead_id).status == "closed", lead_id
        assert wire.assignment_of(lead_id).seller_id is None
    assert wire.problems(leads) == []
    assert sum(s.open_count for s in wire.assignment.app.sellers()) == sum(
        1 for i in leads if wire.lead_now(i).is_open and wire.lead_now(i).owner_id
    )
    # The periodic re-run never hands a voided lead to anyone.
    wire.assignment.app.rerun_waiting()
    wire.pump()
    assert wire.assignment_of(voided).status == "closed"
    # Unvoid, unmerge and reopen bring them back: to the seller who had them (room left)...
    owner_before = {i: wire.lead_now(i).owner_id for i in (voided, merged, qualified, disqualified)}
    wire.do("unvoid", voided)
    wire.do("unmerge", merged)
    wire.do("reopen", qualified)
    wire.do("reopen", disqualified)
    for lead_id in (voided, merged, qualified, disqualified):
        assignment = wire.assignment_of(lead_id)
        assert (assignment.status, assignment.seller_id) == ("assigned", owner_before[lead_id])
        assert assignment.method == "restored"
        assert wire.lead_now(lead_id).status == "assigned"
    assert wire.problems(leads) == []


def test_a_reopened_lead_whose_seller_is_full_is_decided_again_and_intake_follows() -> None:
    wire = Wire({"ann": 1, "bob": 1})
    first = wire.lead("a")
    owner = wire.lead_now(first).owner_id
    wire.do("disqualify", first)
    other = wire.lead("b")  # takes the seller's freed room... and the next one waits
    third = wire.lead("c")
    assert wire.assignment_of(third).status == "waiting" or wire.assignment_of(other).seller_id != owner
    wire.do("reopen", first)
    lead = wire.lead_now(first)
    assignment = wire.assignment_of(first)
    # Both sellers are full: it waits, and intake no longer says it is the old owner's.
    assert (assignment.status, assignment.seller_id) == ("waiting", None)
    assert (lead.status, lead.owner_id) == ("unassigned", None)
    assert wire.problems([first, other, third]) == []


def test_a_lead_a_seller_creates_is_theirs_as_a_manual_assignment() -> None:
    wire = Wire({"ann": 1, "bob": 1})
    lead_id = wire.lead("mine", owner="bob", actor="bob")
    lead = wire.lead_now(lead_id)
    assert (lead.status, lead.owner_id, lead.created_by) == ("assigned", "bob", "bob")
    assignment = wire.assignment_of(lead_id)
    assert (assignment.seller_id, assignment.method) == ("bob", "manual")
    assert assignment.history[-1]["explanation"]["actor"] == "bob"
    # It counts for bob's capacity: the next automatic lead goes to ann, the one after waits.
    assert wire.assignment.open_leads("bob") == 1
    following, after = wire.lead("next"), wire.lead("after")
    assert (wire.lead_now(following).owner_id, wire.lead_now(after).owner_id) == ("ann", None)
    # An owner assignment does not know is left to the rules (here: nobody has room, it waits).
    ghost = wire.lead("ghost", owner="nobody", actor="mgr")
    assert wire.assignment_of(ghost).status == "waiting"
    assert (wire.lead_now(ghost).status, wire.lead_now(ghost).owner_id) == ("unassigned", None)
    assert wire.problems([lead_id, following, after, ghost]) == []


def test_with_automatic_assignment_off_new_and_recycled_leads_wait_for_a_manager() -> None:
    wire = Wire({"ann": 5}, auto_assign=False)
    lead_id = wire.lead("x")
    assignment = wire.assignment_of(lead_id)
    assert (assignment.status, assignment.waiting_reason) == (
        "waiting",
        "automatic assignment is off: waiting in the unassigned pool for a manager",
    )
    assert wire.assignment.app.rerun_waiting()["assigned"] == 0
    wire.assignment.app.execute(
        wire.assignment.app.assign_by_hand, lead_id, seller_id="ann", team_id=None, reason="fits", actor="mgr"
    )
    wire.pump()
    lead = wire.lead_now(lead_id)
    assert (lead.status, lead.owner_id) == ("assigned", "ann")
    # The hand assignment's reason and the manager reach intake's history.
    (assigned,) = [e for e in wire.intake.lead_history(lead_id) if type(e).__name__ == "Assigned"]
    assert (assigned.actor, assigned.reason) == ("mgr", "fits")
    wire.do("recycle", lead_id)
    assert wire.assignment_of(lead_id).status == "waiting"
    assert wire.assignment.app.rerun_waiting()["assigned"] == 0
    assert wire.problems([lead_id]) == []


def test_automatic_decisions_name_the_rule_set_version_in_intake() -> None:
    wire = Wire({"ann": 5})
    lead_id = wire.lead("x")
    (assigned,) = [e for e in wire.intake.lead_history(lead_id) if type(e).__name__ == "Assigned"]
    assert assigned.actor == "assignment:ruleset-0"
    (received,) = [e for e in wire.intake.lead_history(lead_id) if type(e).__name__ == "Received"]
    assert received.actor == "upstream:web-form"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_lifecycle_actions_leave_both_services_agreeing(seed: int) -> None:
    wire = Wire({"ann": 6, "bob": 6, "cy": 6, "dee": None})
    leads = [wire.lead(f"r{i}") for i in range(25)]
    actions = LifecycleActions(seed, wire.sellers)
    refused = 0
    for step in range(300):
        action = actions.next([wire.lead_now(i) for i in leads])
        assert action is not None
        try:
            if action.kind == "assign_by_hand":
                wire.assignment.app.execute(
                    wire.assignment.app.assign_by_hand,
                    action.lead_id,
                    seller_id=action.seller_id,
                    team_id=None,
                    reason="test",
                    actor="mgr",
                )
            else:
                use_case, args, kwargs = action.intake_call(wire.intake)
                wire.intake.execute(use_case, *args, **kwargs)
        except (LeadError, AssignmentError, LookupError):
            refused += 1
        wire.pump()
        if step % 50 == 0:
            wire.assignment.app.rerun_waiting()
            wire.pump()
        assert wire.problems(leads) == [], (step, action)
    assert refused < 100
