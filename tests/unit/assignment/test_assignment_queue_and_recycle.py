"""The unassigned queue and re-runs, recycling, manual reassignment, explanation content."""

from __future__ import annotations

import pytest
from assignment_scenario import Scenario, everyone

from assignment.domain import LeadClosed
from assignment.projections import assignment_view, load_report

pytestmark = pytest.mark.unit


def test_waiting_leads_are_assigned_in_arrival_order_when_someone_becomes_eligible_with_no_cap() -> None:
    s = Scenario().seller("ann", active=False)
    waiting = [s.lead(f"w{i:04}") for i in range(750)]  # more than the 500 others stop at
    assert all(s.app.get_assignment(w).status == "waiting" for w in waiting[:3])
    assert s.app.rerun_waiting() == {"tried": 750, "assigned": 0, "still_waiting": 750}
    events_before = s.app.recorder.max_notification_id()
    s.app.rerun_waiting()
    assert s.app.recorder.max_notification_id() == events_before  # a fruitless re-run stores nothing
    # ann comes back with room for 600, bob joins with room for 100
    s.seller("ann", active=True, capacity=600).seller("bob", capacity=100)
    s.later(minutes=5)
    assert s.app.rerun_waiting() == {"tried": 750, "assigned": 700, "still_waiting": 50}
    assigned = [e.lead_id for e in s.assigned()]
    assert assigned == waiting[:700]  # oldest first
    assert [q["lead_id"] for q in s.read_model.queue()] == [str(w) for w in waiting[700:]]
    assert s.open_leads("ann") + s.open_leads("bob") == 700


def test_recycling_releases_the_owner_and_assigns_again_without_them() -> None:
    s = Scenario().sellers("ann", "bob", "cy")
    lead = s.lead("r")
    assert s.owner(lead) == "ann"
    s.later(minutes=1)
    s.status(lead, "recycled", previous_owner="ann")
    assert s.owner(lead) == "bob" and s.open_leads("ann") == 0 and s.open_leads("bob") == 1
    assert s.explanation(lead)["excluded_sellers"] == ["ann"]
    assert [h["kind"] for h in s.app.get_assignment(lead).history] == ["assigned", "released", "assigned"]
    assert s.assigned()[-1].previous_seller_id is None  # released first: nobody held it when decided


def test_recycling_may_return_the_lead_to_the_previous_owner_when_the_setting_allows() -> None:
    s = Scenario(recycle_excludes_previous_owner=False).seller("only")
    lead = s.lead("r")
    s.status(lead, "recycled", previous_owner="only")
    assert s.owner(lead) == "only" and s.open_leads("only") == 1


def test_a_recycled_lead_whose_only_seller_is_excluded_waits_and_the_re_run_keeps_the_exclusion() -> None:
    s = Scenario().seller("only")
    lead = s.lead("r")
    s.status(lead, "recycled", previous_owner="only")
    assert (
        s.app.get_assignment(lead).waiting_reason == "rule everyone, round robin: no eligible seller (previous_owner 1)"
    )
    assert s.app.rerun_waiting()["assigned"] == 0
    s.seller("new")
    assert s.app.rerun_waiting()["assigned"] == 1 and s.owner(lead) == "new"


def test_manual_assignment_needs_a_reason_and_is_refused_for_a_closed_lead() -> None:
    s = Scenario().sellers("ann", "bob")
    s.app.execute(s.app.define_team, "desk", "Desk", ["bob"])
    lead = s.lead("m")
    s.app.execute(s.app.assign_by_hand, lead, seller_id=None, team_id="desk", reason="team decides")
    assert (s.owner(lead), s.app.get_assignment(lead).team_id, s.open_leads("ann")) == (None, "desk", 0)
    s.status(lead, "closed_invalid")
    with pytest.raises(LeadClosed):
        s.app.execute(s.app.assign_by_hand, lead, seller_id="ann", team_id=None, reason="too late")


def test_the_explanation_names_rule_set_rule_segment_candidates_reasons_and_tie_break() -> None:
    s = Scenario().seller("ann", capacity=1).seller("bob").seller("cy", languages=["fr"])
    s.app.execute(s.app.define_segment, "emea", 1, {"field": "country", "op": "in", "value": ["DE", "FR"]})
    version = s.rules(
        {"name": "apac", "conditions": {"field": "country", "op": "equals", "value": "JP"},
         "target": {"kind": "sellers"}, "method": "round_robin"},
        {"name": "emea, not french speakers", "segment": "emea",
         "target": {"kind": "sellers", "seller_conditions": {"field": "languages", "op": "in", "value": ["de", "en"]}},
         "method": "round_robin"},
    )  # fmt: skip
    s.seller("ann", languages=["en"]).seller("bob", languages=["de"])
    first = s.lead("first", country="DE")
    lead = s.lead("second", country="DE")
    assert s.owner(first) == "ann" and s.owner(lead) == "bob"
    published = s.assigned()[-1]
    assert published.lead_id == lead and published.ruleset_version == version
    explanation = published.explanation
    assert explanation["ruleset_version"] == version and explanation["ruleset_name"] == "rules"
    assert explanation["rule"] == {"index": 1, "name": "emea, not french speakers"}
    assert explanation["segment"] == "emea"
    assert explanation["rules_skipped"] == [{"rule": "apac", "why": "conditions not met"}]
    assert explanation["decided_at"] == "2026-11-02T10:00:00+00:00"
    assert explanation["outcome"] == "seller"
    assert explanation["considered"] == 3
    assert explanation["exclusions"] == {"attribute_mismatch": 1, "capacity_full": 1}
    assert explanation["eligible"] == ["bob"]
    # Every candidate, with its reasons, is recomputed on demand (GET ...?full=true), never stored.
    (full,) = [d for d in s.app.explain_in_full(lead) if d["recorded"]["seller_id"] == "bob"]
    assert full["same_outcome"] is True
    candidates = {c["seller_id"]: c for c in full["candidates"]}
    assert candidates["ann"] == {
        "seller_id": "ann", "eligible": False, "reasons": ["capacity_full"], "open_leads": 1, "capacity": 1,
        "last_assigned_at": "2026-11-02T10:00:00+00:00", "turn": 1, "available_from": None,
    }  # fmt: skip
    assert candidates["bob"]["eligible"] is True and candidates["bob"]["reasons"] == []
    assert candidates["cy"]["reasons"] == ["attribute_mismatch"]
    assert explanation["tie_break"] == {
        "method": "round_robin",
        "key": "longest wait since last assignment (last_assigned_at, turn, join order)",
        "top": [{"seller_id": "bob", "open_leads": 0, "capacity": None, "last_assigned_at": None, "turn": 0}],
        "winner": "bob",
    }
    # GET /v1/leads/{id}/assignment shows the owner and each decision with its explanation
    s.status(lead, "recycled", previous_owner="bob")
    view = assignment_view(s.app.get_assignment(lead))
    assert view["status"] == "waiting" and view["seller_id"] is None
    assert [h["kind"] for h in view["history"]] == ["assigned", "released", "waiting"]
    assert view["history"][0]["explanation"] == explanation
    assert view["history"][2]["explanation"]["excluded_sellers"] == ["bob"]


def test_load_report_counts_open_leads_recent_assignments_and_fairness_per_rule() -> None:
    s = Scenario().sellers("ann", "bob", capacity=10)
    s.rules(everyone(name="all"))
    for i in range(3):
        s.lead(f"old{i}")
    s.later(days=2)
    for i in range(3):
        s.lead(f"new{i}")
    report = load_report(s.app.seller_aggregates(), s.read_model.load_report_queries(), s.clock.now())
    rows = {r["seller_id"]: r for r in report["sellers"]}
    assert rows["ann"]["open_leads"] == 3 and rows["ann"]["remaining_capacity"] == 7
    assert (rows["ann"]["assigned_last_24h"], rows["ann"]["assigned_last_7d"]) == (1, 3)
    assert (rows["bob"]["assigned_last_24h"], rows["bob"]["assigned_last_7d"]) == (2, 3)
    (fair,) = report["fairness"]
    assert fair["rule"] == "all" and fair["assigned"] == {"ann": 3, "bob": 3}
    assert fair["spread"] == 0 and fair["jain_index"] == 1.0
