"""The preview of a sequence's due times with a seller's calendar: Dynamics 365's documented example
(an email done on a Wednesday, a 3-day wait, the call due Tuesday when waits skip non-working days,
Monday when they do not), holidays, hours, and the shortest path through conditions."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadflow_shared.calendars import STANDARD_HOURS, BusinessCalendar
from sequence.domain import preview
from sequence.domain.definition import SETTINGS_DEFAULTS

pytestmark = pytest.mark.unit
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessCalendar.from_data(time_zone="Europe/Berlin", working_hours=STANDARD_HOURS)
WEDNESDAY = datetime(2026, 12, 2, 10, 30, tzinfo=BERLIN)
TRADE_SHOW = [{"id": "e1", "type": "email"}, {"id": "w1", "type": "wait", "days": 3}, {"id": "c1", "type": "call"}]


def due(timeline: list[dict[str, object]]) -> dict[str, str]:
    return {str(i["step_id"]): i["due_at"].astimezone(BERLIN).strftime("%a %d %H:%M") for i in timeline}  # type: ignore[attr-defined]


def test_the_documented_example_with_and_without_skipping_non_working_days() -> None:
    skipping = preview(TRADE_SHOW, SETTINGS_DEFAULTS, start=WEDNESDAY, calendar=OFFICE)
    assert due(skipping) == {"e1": "Wed 02 10:30", "w1": "Tue 08 09:00", "c1": "Tue 08 09:00"}
    every_day = preview(
        TRADE_SHOW, {**SETTINGS_DEFAULTS, "skip_non_working_days": False}, start=WEDNESDAY, calendar=OFFICE
    )
    assert due(every_day)["c1"] == "Mon 07 09:00"


def test_holidays_of_the_calendar_are_not_waited_and_hours_add_on_the_clock() -> None:
    with_holiday = BusinessCalendar.from_data(
        time_zone="Europe/Berlin", working_hours=STANDARD_HOURS, holidays=["2026-12-04"]
    )
    assert due(preview(TRADE_SHOW, SETTINGS_DEFAULTS, start=WEDNESDAY, calendar=with_holiday))["c1"] == "Wed 09 09:00"
    steps = [
        {"id": "e1", "type": "email"},
        {"id": "w1", "type": "wait", "days": 1, "hours": 2},
        {"id": "t1", "type": "task"},
    ]
    assert (
        due(preview(steps, SETTINGS_DEFAULTS, start=WEDNESDAY, calendar=OFFICE))["t1"] == "Fri 04 11:00"
    )  # Thursday waited


def test_the_shortest_path_through_conditions() -> None:
    steps = [
        {"id": "e1", "type": "email"},
        {
            "id": "k1",
            "type": "condition",
            "kind": "email_opened",
            "step_id": "e1",
            "within_hours": 48,
            "yes": [{"id": "w1", "type": "wait", "days": 5}, {"id": "c1", "type": "call"}],
            "no": [{"id": "e2", "type": "email"}],
        },
    ]
    at_once = preview(steps, SETTINGS_DEFAULTS, start=WEDNESDAY, calendar=OFFICE)
    # Yes at once then 5 working days (next Wednesday) against No at the 48-hour limit (Friday)
    assert [(i["step_id"], i.get("branch")) for i in at_once] == [("e1", None), ("k1", "no"), ("e2", None)]
    assert due(at_once)["e2"] == "Fri 04 10:30"
    quick_yes = [{**steps[0]}, {**steps[1], "yes": [{"id": "c1", "type": "call"}]}]
    assert [i["step_id"] for i in preview(quick_yes, SETTINGS_DEFAULTS, start=WEDNESDAY, calendar=OFFICE)] == [
        "e1",
        "k1",
        "c1",
    ]
    at_limit = preview(
        quick_yes, {**SETTINGS_DEFAULTS, "branch_on_signal_at_once": False}, start=WEDNESDAY, calendar=OFFICE
    )
    assert due(at_limit)["c1"] == "Fri 04 10:30" and at_limit[1]["due_at"] == WEDNESDAY + timedelta(hours=48)
