"""Determinism by replay, and what-if simulations that leave live state alone."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from assignment_scenario import NINE_TO_FIVE, Scenario, everyone

from assignment.application.simulation import replay_decisions
from assignment.projections import load_report

pytestmark = pytest.mark.unit


def recorded_history() -> Scenario:
    """A day of work touching every input of a decision: hours, time zones, out of office,
    capacity, segments, two rule-set versions, recycles, closes, manual moves and re-runs."""
    s = Scenario(now=datetime(2026, 11, 6, 7, 0, tzinfo=UTC))  # a Friday
    s.seller("berlin", time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE, capacity=6, territories=["DE", "AT"])
    s.seller("austin", time_zone="America/Chicago", working_hours=NINE_TO_FIVE, capacity=6, territories=["US"])
    s.seller("owl", time_zone="Asia/Tokyo", working_hours={"fri": [["22:00", "06:00"]]}, capacity=3)
    s.seller("floater", capacity=4, territories=["DE", "US"])
    s.app.execute(s.app.define_team, "emea", "EMEA", ["berlin", "floater"])
    s.app.execute(s.app.define_segment, "enterprise", 10, {"field": "company_size", "op": "in", "value": ["1000+"]})
    s.rules(
        {"name": "enterprise to emea", "segment": "enterprise", "target": {"kind": "team", "team_id": "emea"},
         "method": "load_balancing"},
        {"name": "territory", "target": {"kind": "sellers", "seller_conditions":
            {"field": "territories", "op": "contains", "lead_field": "country"}}, "method": "round_robin",
         "available_within_hours": 2},
    )  # fmt: skip
    countries = ["DE", "US", "JP", "AT", "DE", "US"]
    leads = []
    for hour in range(14):
        for i in range(3):
            size = "1000+" if (hour + i) % 4 == 0 else "1-10"
            leads.append(s.lead(f"h{hour}-{i}", country=countries[(hour + i) % 6], size_band=size))
            s.later(minutes=7)
        if hour == 3:
            s.seller(
                "austin", out_of_office=[{"start": "2026-11-06T12:00:00+00:00", "end": "2026-11-06T16:00:00+00:00"}]
            )
        if hour == 5:
            s.rules(everyone("load_balancing", name="balance"), name="v2")
        if hour % 3 == 2:
            s.status(leads[-5], "converted")
            s.status(leads[-4], "recycled", previous_owner=s.owner(leads[-4]))
            s.app.execute(s.app.assign_by_hand, leads[-3], seller_id="owl", team_id=None, reason="night desk")
        if hour % 4 == 3:
            s.app.rerun_waiting()
        s.later(minutes=40)
    return s


def test_replaying_the_recorded_history_reproduces_every_decision_and_explanation() -> None:
    s = recorded_history()
    replayed = replay_decisions(s.app)
    assert len(replayed) >= 45
    kinds = {r.recorded["seller_id"] is not None for r in replayed}
    assert kinds == {True, False}  # both assignments and waits were replayed
    different = [r for r in replayed if not r.same]
    assert different == []
    # and a changed input would have shown: the same decisions one hour later are not all the same
    later = replay_decisions_at_offset(s, hours=1)
    assert any(not r.same for r in later)


def replay_decisions_at_offset(s: Scenario, hours: int):  # type: ignore[no-untyped-def]
    """The replay with every decision's clock shifted: proves the comparison can fail."""
    from datetime import timedelta

    import assignment.application.simulation as simulation

    original = simulation.decision_time
    simulation.decision_time = lambda event: original(event) + timedelta(hours=hours)  # type: ignore[assignment]
    try:
        return replay_decisions(s.app)
    finally:
        simulation.decision_time = original  # type: ignore[assignment]


def test_the_same_inputs_on_a_fresh_store_produce_the_same_published_decisions() -> None:
    first, second = recorded_history(), recorded_history()
    decisions = [e.model_dump(exclude={"aggregate_id"}) for e in first.published()]
    assert decisions == [e.model_dump(exclude={"aggregate_id"}) for e in second.published()]


def test_what_if_replays_past_leads_through_a_draft_and_changes_nothing_live() -> None:
    s = Scenario().sellers("ann", "bob", "cy")
    for i in range(12):
        s.lead(f"l{i}", country="DE" if i % 2 else "US")
        s.later(minutes=10)
    draft = s.rules(
        {"name": "germany to cy", "conditions": {"field": "country", "op": "equals", "value": "DE"},
         "target": {"kind": "seller", "seller_id": "cy"}, "method": "direct"},
        {"name": "the rest to ann and bob", "target": {"kind": "sellers", "seller_conditions":
            {"field": "seller_id", "op": "in", "value": ["ann", "bob"]}}, "method": "round_robin"},
        activate=False,
    )  # fmt: skip
    before = (
        s.app.recorder.max_notification_id(),
        [copy.deepcopy(vars(x)) for x in s.app.sellers()],
        copy.deepcopy(s.app.rulebook().versions),
        load_report(s.app.seller_aggregates(), s.read_model.load_report_queries(), s.clock.now()),
    )
    result = s.app.simulate_ruleset(draft, last=6)
    after = (
        s.app.recorder.max_notification_id(),
        [copy.deepcopy(vars(x)) for x in s.app.sellers()],
        copy.deepcopy(s.app.rulebook().versions),
        load_report(s.app.seller_aggregates(), s.read_model.load_report_queries(), s.clock.now()),
    )
    assert after == before  # nothing live moved
    # actual: l6..l11 went ann, bob, cy, ann, bob, cy; the draft: US → ann/bob in turn, DE → cy
    assert result["leads"] == 6
    assert result["per_seller"] == {
        "ann": {"simulated": 2, "actual": 2},
        "bob": {"simulated": 1, "actual": 2},
        "cy": {"simulated": 3, "actual": 2},
    }
    assert result["unassigned"] == {"simulated": 0, "actual": 0}
    assert result["rules_matched"] == {"germany to cy": 3, "the rest to ann and bob": 3}
    assert result["different_owner"] == len(result["changes"]) == 4
    by_time = s.app.simulate_ruleset(draft, since=datetime(2026, 11, 2, 11, 0, tzinfo=UTC))
    assert by_time["leads"] == 6
    assert s.app.simulate_ruleset(0, last=12)["different_owner"] == 0  # the live rules reproduce themselves
