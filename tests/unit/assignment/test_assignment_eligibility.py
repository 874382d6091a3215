"""Who may get a lead: every exclusion reason, working hours in time zones, attribute matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from assignment_scenario import NINE_TO_FIVE, Scenario, everyone

from assignment.domain import REASONS, availability

pytestmark = pytest.mark.unit


def test_every_exclusion_reason_is_named_in_the_explanation() -> None:
    s = Scenario()
    s.seller("ok")
    s.seller("retired", active=False)
    s.seller("paused", accepts_assignments=False)
    s.seller("french", languages=["fr"])
    s.seller("full", capacity=0)
    s.seller("away", out_of_office=[{"start": "2026-11-01T00:00:00+00:00", "end": "2026-11-09T00:00:00+00:00"}])
    s.seller("night", time_zone="UTC", working_hours={"mon": [["20:00", "23:00"]]})
    s.app.execute(s.app.define_holiday_list, "pt", "Portugal", [{"date": "2026-11-02", "name": "All Souls"}])
    s.seller("feast", holiday_list="pt")
    s.rules(
        everyone(
            target={"kind": "sellers", "seller_conditions": {"field": "languages", "op": "contains", "value": "de"}}
        )
    )
    s.seller("ok", languages=["de", "en"])
    lead = s.lead("x")
    assert s.owner(lead) == "ok"
    assert s.reasons(lead) == {
        "ok": [],
        "retired": ["inactive", "attribute_mismatch"],
        "paused": ["not_accepting_assignments", "attribute_mismatch"],
        "french": ["attribute_mismatch"],
        "full": ["attribute_mismatch", "capacity_full"],
        "away": ["attribute_mismatch", "out_of_office"],
        "night": ["attribute_mismatch", "outside_hours"],
        "feast": ["attribute_mismatch", "holiday"],
    }
    # recycling adds the last one: previous_owner
    s.status(lead, "recycled", previous_owner="ok")
    assert s.reasons(lead)["ok"] == ["previous_owner"]
    seen = {r for reasons in s.reasons(lead).values() for r in reasons} | {"previous_owner"}
    assert seen == set(REASONS)


def test_when_nobody_is_eligible_the_lead_waits_with_the_reasons_counted() -> None:
    s = Scenario().seller("full", capacity=1).seller("away", active=False)
    assert s.owner(s.lead("first")) == "full"
    waiting = s.lead("second")
    assignment = s.app.get_assignment(waiting)
    assert assignment.status == "waiting" and assignment.queue_id is None
    assert assignment.waiting_reason == "rule everyone, round robin: no eligible seller (inactive 1, capacity_full 1)"
    (awaiting,) = s.awaiting()
    assert awaiting.lead_id == waiting and awaiting.reason == assignment.waiting_reason
    assert awaiting.explanation["outcome"] == "waiting"


def test_working_hours_follow_each_sellers_time_zone() -> None:
    # Monday 10:00 UTC is 11:00 in Berlin, 05:00 in New York, 19:00 in Tokyo
    s = Scenario().seller("berlin", time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE)
    s.seller("new_york", time_zone="America/New_York", working_hours=NINE_TO_FIVE)
    s.seller("tokyo", time_zone="Asia/Tokyo", working_hours=NINE_TO_FIVE)
    lead = s.lead("a")
    assert s.owner(lead) == "berlin"
    assert s.reasons(lead) == {"berlin": [], "new_york": ["outside_hours"], "tokyo": ["outside_hours"]}
    s.later(hours=6)  # 16:00 UTC: Berlin 17:00 (closed), New York 11:00
    assert s.owner(s.lead("b")) == "new_york"


def test_a_night_shift_runs_across_midnight_and_the_weekend_is_off() -> None:
    night = {"fri": [["22:00", "06:00"]], "mon": [["22:00", "06:00"]]}
    s = Scenario().seller("owl", time_zone="America/Los_Angeles", working_hours=night)

    def eligible_at(iso: str) -> bool:
        s.clock._now = datetime.fromisoformat(iso)
        lead = s.lead(f"at-{iso}")
        return s.reasons(lead)["owl"] == []

    assert eligible_at("2026-11-07T06:30:00+00:00")  # Friday 22:30 in LA
    assert eligible_at("2026-11-07T13:59:00+00:00")  # Saturday 05:59 in LA: Friday's shift still runs
    assert not eligible_at("2026-11-07T14:00:00+00:00")  # Saturday 06:00: the shift ended
    assert not eligible_at("2026-11-08T08:00:00+00:00")  # Sunday 00:00: weekend, no shift
    assert not eligible_at("2026-11-09T05:00:00+00:00")  # Sunday 21:00 LA: Monday's shift not yet
    assert eligible_at("2026-11-10T07:00:00+00:00")  # Monday 23:00 in LA


def test_available_within_n_hours_lets_a_rule_include_sellers_who_start_soon() -> None:
    s = Scenario().seller("early", time_zone="UTC", working_hours={"mon": [["12:00", "18:00"]]})
    s.rules(everyone(name="now only"))
    now_only = s.lead("a")  # 10:00, early starts at 12:00
    assert s.reasons(now_only)["early"] == ["outside_hours"]
    s.rules(everyone(name="within 3h", available_within_hours=3))
    soon = s.lead("b")
    assert s.owner(soon) == "early"
    (candidate,) = s.candidates(soon)
    assert candidate["available_from"] == "2026-11-02T12:00:00+00:00"


def test_out_of_office_excludes_within_its_range_only() -> None:
    away = [{"start": "2026-11-02T09:00:00+01:00", "end": "2026-11-02T13:00:00+01:00", "note": "dentist"}]
    s = Scenario().seller("ann", out_of_office=away).seller("bob", capacity=0)
    assert s.app.get_assignment(s.lead("a")).status == "waiting"  # 10:00 UTC = 11:00 +01:00
    assert s.reasons(s.lead("b"))["ann"] == ["out_of_office"]
    s.later(hours=2)  # 12:00 UTC = 13:00 +01:00: back
    assert s.owner(s.lead("c")) == "ann"
    assert availability({}, "UTC", away, datetime(2026, 11, 2, 11, 59, tzinfo=UTC)) == ("out_of_office", None)


def test_seller_conditions_match_attributes_and_dynamically_the_leads_own_fields() -> None:
    s = Scenario()
    s.seller("de_fr", territories=["DE", "FR"], product_lines=["cloud"], languages=["de"])
    s.seller("us", territories=["US"], product_lines=["cloud", "onprem"], languages=["en"])
    s.rules(
        {
            "name": "territory owner",
            "target": {
                "kind": "sellers",
                "seller_conditions": {
                    "all_of": [
                        {"field": "territories", "op": "contains", "lead_field": "country"},
                        {"field": "product_lines", "op": "contains", "lead_field": "attributes.product_line"},
                    ]
                },
            },
            "method": "round_robin",
        }
    )
    german_cloud = s.lead("g", country="DE", attributes={"product_line": "cloud"})
    us_onprem = s.lead("u", country="US", attributes={"product_line": "onprem"})
    german_onprem = s.lead("go", country="DE", attributes={"product_line": "onprem"})
    assert s.owner(german_cloud) == "de_fr" and s.owner(us_onprem) == "us"
    assert s.owner(german_onprem) is None
    assert s.reasons(german_onprem) == {"de_fr": ["attribute_mismatch"], "us": ["attribute_mismatch"]}


def test_capacity_counts_open_leads_and_frees_up_when_intake_closes_or_deletes_them() -> None:
    s = Scenario().seller("ann", capacity=2)
    a, b = s.lead("a"), s.lead("b")
    assert s.open_leads("ann") == 2
    c = s.lead("c")
    assert s.app.get_assignment(c).status == "waiting"
    s.status(a, "converted")
    assert s.open_leads("ann") == 1 and s.app.get_assignment(a).status == "closed"
    s.deleted(b)
    assert s.open_leads("ann") == 0
    s.status(a, "converted")  # a re-sent status change (same version) is applied once
    s.versions[a] -= 1
    s.status(a, "converted")
    assert s.open_leads("ann") == 0
    assert s.app.rerun_waiting() == {"tried": 1, "assigned": 1, "still_waiting": 0}
    assert s.owner(c) == "ann"
