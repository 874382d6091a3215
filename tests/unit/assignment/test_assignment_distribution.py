"""Distribution methods, targets, rule order and segments."""

from __future__ import annotations

import pytest
from assignment_scenario import Scenario, everyone

from assignment.domain import RuleSetNotDraft

pytestmark = pytest.mark.unit


def test_with_only_a_roster_leads_go_round_robin_by_the_built_in_rule_set() -> None:
    s = Scenario()
    assert s.app.execute(s.app.add_sellers, [("s1", "One"), ("s2", "Two"), ("s3", "Three")]) == 3
    assert (
        s.app.execute(s.app.add_sellers, [{"seller_id": "s1", "name": "One again"}]) == 0
    )  # already there: left alone
    owners = [s.owner(s.lead(f"l{i}")) for i in range(7)]
    assert owners == ["s1", "s2", "s3", "s1", "s2", "s3", "s1"]
    assert s.explanation(s.lead("l7"))["ruleset_version"] == 0


def test_round_robin_gives_the_lead_to_who_waited_longest_since_their_last_assignment() -> None:
    s = Scenario().sellers("ann", "bob", "cy")
    s.rules(everyone("round_robin"))
    owners = []
    for i in range(4):
        owners.append(s.owner(s.lead(f"l{i}")))
        s.later(minutes=1)
    assert owners == ["ann", "bob", "cy", "ann"]
    # A newcomer has never had a lead: they waited longest.
    s.seller("dee")
    assert s.owner(s.lead("l4")) == "dee"
    s.later(minutes=1)
    # Then bob (last lead 3 minutes ago) before cy (2 minutes ago) — by wait, not a fixed rotation.
    assert s.ranking(s.lead("l5")) == ["bob", "cy", "ann", "dee"]


def test_a_seller_back_from_out_of_office_is_first_in_line_not_skipped() -> None:
    s = Scenario().sellers("ann", "bob", "cy")
    s.rules(everyone("round_robin"))
    s.seller("ann", out_of_office=[{"start": "2026-11-02T00:00:00+00:00", "end": "2026-11-02T12:00:00+00:00"}])
    owners = []
    for i in range(4):
        owners.append(s.owner(s.lead(f"l{i}")))
        s.later(hours=1)  # 10:00 … 13:00; ann is back from 12:00
    assert owners == ["bob", "cy", "ann", "bob"]
    assert s.reasons(s.app.get_assignment(s.lead("check")).lead_id)["ann"] == []


def test_a_manual_assignment_counts_as_that_sellers_turn_in_round_robin() -> None:
    s = Scenario().sellers("ann", "bob", "cy")
    s.rules(everyone("round_robin"))
    assert s.owner(s.lead("first")) == "ann"
    s.later(minutes=1)
    second = s.lead("second")
    assert s.owner(second) == "bob"
    s.later(minutes=1)
    # cy never had an automatic lead; now someone reassigns bob's lead to cy by hand.
    s.app.execute(
        s.app.assign_by_hand, second, seller_id="cy", team_id=None, reason="speaks the language", actor="lead-desk"
    )
    assert (s.owner(second), s.open_leads("bob"), s.open_leads("cy")) == ("cy", 0, 1)
    s.later(minutes=1)
    # That was cy's turn: the next leads go to ann (waited longest), bob, and only then cy.
    assert [s.owner(s.lead(x)) for x in ("a", "b", "c")] == ["ann", "bob", "cy"]
    manual = [e for e in s.assigned() if e.method == "manual"]
    assert manual[0].reason == "speaks the language" and manual[0].previous_seller_id == "bob"
    assert manual[0].explanation == {
        "manual": True, "actor": "lead-desk", "reason": "speaks the language", "decided_at": "2026-11-02T10:02:00+00:00"
    }  # fmt: skip


def test_load_balancing_picks_the_most_remaining_capacity_and_breaks_ties_by_round_robin() -> None:
    s = Scenario().seller("small", capacity=2).seller("big", capacity=5).seller("big2", capacity=5)
    s.rules(everyone("load_balancing"))
    owners = [s.owner(s.lead(f"l{i}")) for i in range(5)]
    # big and big2 tie on 5 free → round robin between them; at 3 vs 3 vs 2 it keeps alternating
    assert owners == ["big", "big2", "big", "big2", "big"]
    explanation = s.explanation(s.lead("l5"))
    assert explanation["method"] == "load_balancing"
    assert explanation["tie_break"]["key"].startswith("most remaining capacity")
    assert explanation["tie_break"]["top"][0]["seller_id"] == explanation["tie_break"]["winner"]


def test_direct_rules_name_a_seller_or_hand_the_lead_to_a_team() -> None:
    s = Scenario().sellers("ann", "bob")
    s.app.execute(s.app.define_team, "emea", "EMEA desk", ["ann", "bob"])
    s.rules(
        {"name": "vip to bob", "conditions": {"field": "score", "op": "gte", "value": 90},
         "target": {"kind": "seller", "seller_id": "bob"}, "method": "direct"},
        {"name": "emea team", "conditions": {"field": "country", "op": "in", "value": ["DE", "FR"]},
         "target": {"kind": "team", "team_id": "emea"}, "method": "direct"},
    )  # fmt: skip
    vip = s.lead("vip", score=95)
    assert s.owner(vip) == "bob" and s.explanation(vip)["method"] == "direct"
    team_lead = s.lead("de", country="DE")
    assignment = s.app.get_assignment(team_lead)
    assert (assignment.seller_id, assignment.team_id, assignment.status) == (None, "emea", "assigned")
    published = {e.lead_id: e for e in s.assigned()}
    assert published[team_lead].team_id == "emea" and published[team_lead].seller_id is None


def test_a_team_target_distributes_among_its_members_and_a_queue_target_parks_the_lead() -> None:
    s = Scenario().sellers("ann", "bob", "cy", "dee")
    s.app.execute(s.app.define_team, "partners", "Partner desk", ["cy", "dee"])
    s.app.execute(s.app.define_queue, "self-serve", "Self-serve")
    s.rules(
        {"name": "partner leads", "conditions": {"field": "source", "op": "equals", "value": "partner-portal"},
         "target": {"kind": "team", "team_id": "partners"}, "method": "round_robin"},
        {"name": "students", "conditions": {"field": "attributes.segment_hint", "op": "equals", "value": "student"},
         "target": {"kind": "queue", "queue_id": "self-serve"}, "method": "direct"},
        everyone(),
    )  # fmt: skip
    owners = [s.owner(s.lead(f"p{i}", source="partner-portal")) for i in range(3)]
    assert owners == ["cy", "dee", "cy"]
    assert {c["seller_id"] for c in s.candidates(s.lead("p3", source="partner-portal"))} == {"cy", "dee"}
    assert {e.team_id for e in s.assigned()} == {"partners"}
    student = s.lead("st", attributes={"segment_hint": "student"})
    parked = s.app.get_assignment(student)
    assert (parked.status, parked.queue_id, parked.seller_id) == ("waiting", "self-serve", None)
    (awaiting,) = s.awaiting()
    assert awaiting.queue_id == "self-serve" and awaiting.explanation["rule"]["name"] == "students"
    # a named queue is for people to pick from: the re-run leaves it there
    s.app.rerun_waiting()
    assert s.app.get_assignment(student).queue_id == "self-serve"


def test_rules_are_tried_in_order_and_the_first_match_wins() -> None:
    s = Scenario().sellers("de1", "any1")
    s.rules(
        {"name": "germany", "conditions": {"field": "country", "op": "equals", "value": "DE"},
         "target": {"kind": "seller", "seller_id": "de1"}, "method": "direct"},
        {"name": "high score", "conditions": {"field": "score", "op": "gte", "value": 50},
         "target": {"kind": "seller", "seller_id": "any1"}, "method": "direct"},
    )  # fmt: skip
    both = s.lead("both", country="DE", score=80)
    assert s.owner(both) == "de1" and s.explanation(both)["rule"] == {"index": 0, "name": "germany"}
    second = s.lead("fr", country="FR", score=80)
    assert s.owner(second) == "any1"
    assert s.explanation(second)["rules_skipped"] == [{"rule": "germany", "why": "conditions not met"}]
    nothing = s.lead("low", country="FR", score=10)
    assert s.app.get_assignment(nothing).waiting_reason == "no rule matched"


def test_a_lead_belongs_to_the_highest_priority_matching_segment() -> None:
    s = Scenario().sellers("ent", "smb")
    s.app.execute(
        s.app.define_segment, "enterprise", 10, {"field": "company_size", "op": "in", "value": ["1000+", "5000+"]}
    )
    s.app.execute(s.app.define_segment,
        "dach", 5, {"any_of": [{"field": "country", "op": "equals", "value": "DE"},
                               {"field": "country", "op": "equals", "value": "AT"}]}
    )  # fmt: skip
    s.rules(
        {
            "name": "enterprise",
            "segment": "enterprise",
            "target": {"kind": "seller", "seller_id": "ent"},
            "method": "direct",
        },
        {"name": "rest", "target": {"kind": "seller", "seller_id": "smb"}, "method": "direct"},
    )
    big_german = s.lead("bg", country="DE", size_band="5000+")
    small_german = s.lead("sg", country="DE", size_band="1-10")
    assert s.app.get_assignment(big_german).segment == "enterprise" and s.owner(big_german) == "ent"
    assert s.app.get_assignment(small_german).segment == "dach" and s.owner(small_german) == "smb"
    assert s.explanation(small_german)["segment"] == "dach"
    assert s.explanation(small_german)["rules_skipped"][0]["why"] == "wants segment enterprise, lead is in dach"
    # the preview lists the existing leads each segment would hold
    assert [r["lead_id"] for r in s.app.preview_segment("enterprise")] == [str(big_german)]
    assert [r["lead_id"] for r in s.app.preview_segment("dach")] == [str(small_german)]


@pytest.mark.parametrize("moves_allowed", [True, False])
def test_segment_membership_is_re_evaluated_when_the_lead_changes(moves_allowed: bool) -> None:
    s = Scenario(segment_moves_allowed=moves_allowed).sellers("ann")
    s.app.execute(s.app.define_segment, "hot", 10, {"field": "score", "op": "gte", "value": 80})
    s.app.execute(s.app.define_segment, "warm", 5, {"field": "score", "op": "gte", "value": 40})
    lead = s.lead("x", score=10)
    assert s.app.get_assignment(lead).segment is None
    s.update(lead, score=50)  # joining a segment is always allowed
    assert s.app.get_assignment(lead).segment == "warm"
    s.update(lead, score=90)  # moving from one to another depends on the setting
    assert s.app.get_assignment(lead).segment == ("hot" if moves_allowed else "warm")
    s.update(lead, score=90)  # a stale re-send of an older version changes nothing
    s.versions[lead] -= 5
    s.update(lead, score=0)
    assert s.app.get_assignment(lead).segment == ("hot" if moves_allowed else "warm")


def test_rule_sets_are_drafted_then_activated_and_the_previous_active_one_is_kept() -> None:
    s = Scenario().sellers("ann", "bob")
    first = s.rules(everyone(name="v1"))
    draft = s.rules({"name": "all to bob", "target": {"kind": "seller", "seller_id": "bob"}, "method": "direct"},
                    activate=False)  # fmt: skip
    assert s.owner(s.lead("a")) == "ann"  # the draft is not live
    s.app.execute(s.app.revise_ruleset, draft, "bob only", [
        {"name": "bob", "target": {"kind": "seller", "seller_id": "bob"}, "method": "direct"}
    ])  # fmt: skip
    s.app.execute(s.app.activate_ruleset, draft)
    book = s.app.rulebook()
    assert [v["status"] for v in book.versions] == ["retired", "active"]
    assert book.get(first)["rules"][0]["name"] == "v1"
    assert s.owner(s.lead("b")) == "bob" and s.explanation(s.lead("c"))["ruleset_version"] == draft
    with pytest.raises(RuleSetNotDraft):
        s.app.execute(s.app.revise_ruleset, draft, "changed after activation", [])
