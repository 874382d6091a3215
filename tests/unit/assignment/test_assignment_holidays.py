"""Organisation-wide holiday lists: stored data every seller follows (or another list, or none),
applied by the engine in each seller's own time zone, named in explanations, and replayed as
they stood when a decision was made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from assignment_scenario import NINE_TO_FIVE, Scenario, everyone

from assignment.application.simulation import replay_decisions
from assignment.domain import (
    MAX_HOLIDAYS,
    HolidayListInUse,
    HolidayListNotFound,
    HolidayLists,
    InvalidHolidays,
    InvalidProfile,
)

pytestmark = pytest.mark.unit

CHRISTMAS = {"date": "2026-12-25", "name": "Christmas Day"}


def holidays(s: Scenario, *days: dict[str, object] | str, list_id: str = "organisation") -> None:
    s.app.execute(s.app.define_holiday_list, list_id, list_id.title(), list(days))


def test_sellers_are_off_on_the_days_of_the_organisation_list_and_the_explanation_says_so() -> None:
    s = Scenario()  # Monday 2026-11-02 10:00 UTC
    s.seller("berlin", time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE)
    s.seller("lisbon", time_zone="Europe/Lisbon", working_hours=NINE_TO_FIVE)
    holidays(s, {"date": "2026-11-02", "name": "All Souls"})
    lead = s.lead("a")
    assert s.owner(lead) is None
    assert s.explanation(lead)["exclusions"] == {"holiday": 2}
    assert s.app.get_assignment(lead).waiting_reason == "rule everyone, round robin: no eligible seller (holiday 2)"
    (berlin, _) = s.candidates(lead)
    assert berlin["reasons"] == ["holiday"]
    assert berlin["holiday"] == {"list": "organisation", "name": "All Souls"}

    # Lisbon follows a list of its own; the organisation's no longer applies to it.
    holidays(s, {"date": "2026-12-08", "name": "Immaculate Conception"}, list_id="pt")
    s.seller("lisbon", holiday_list="pt")
    assert s.owner(s.lead("b")) == "lisbon"
    # A seller may follow none at all.
    s.seller("berlin", holiday_list=None)
    s.later(minutes=1)
    assert s.owner(s.lead("c")) == "berlin"


def test_a_yearly_holiday_applies_every_year_and_a_one_off_only_once() -> None:
    s = Scenario(now=datetime(2027, 11, 2, 10, 0, tzinfo=UTC))  # a Tuesday
    s.seller("ann")
    holidays(s, {"date": "2026-11-02", "name": "once"})
    assert s.owner(s.lead("a")) == "ann"
    holidays(s, {"date": "2020-11-02", "name": "every year", "yearly": True})
    lead = s.lead("b")
    assert s.owner(lead) is None and s.reasons(lead) == {"ann": ["holiday"]}


def test_a_holiday_is_the_local_date_in_each_sellers_time_zone() -> None:
    # 2026-12-24 20:00 UTC is already Christmas in Tokyo (05:00), still Christmas Eve in Berlin (21:00)
    s = Scenario(now=datetime(2026, 12, 24, 20, 0, tzinfo=UTC))
    s.seller("tokyo", time_zone="Asia/Tokyo")
    s.seller("berlin", time_zone="Europe/Berlin")
    holidays(s, CHRISTMAS)
    lead = s.lead("a")
    assert s.reasons(lead) == {"tokyo": ["holiday"], "berlin": []}
    assert s.owner(lead) == "berlin"
    s.later(hours=4)  # 00:00 UTC on the 25th: 01:00 in Berlin, 09:00 in Tokyo
    assert s.reasons(s.lead("b")) == {"tokyo": ["holiday"], "berlin": ["holiday"]}
    s.later(hours=16)  # 16:00 UTC: Tokyo is on the 26th
    assert s.reasons(s.lead("c")) == {"tokyo": [], "berlin": ["holiday"]}


def test_a_shift_belongs_to_the_day_it_starts() -> None:
    night = {"thu": [["22:00", "06:00"]], "fri": [["22:00", "06:00"]]}
    s = Scenario(now=datetime(2026, 12, 25, 3, 0, tzinfo=UTC))  # Friday 03:00, in Thursday's shift
    s.seller("owl", working_hours=night)
    holidays(s, CHRISTMAS)
    assert s.reasons(s.lead("from the eve")) == {"owl": []}
    s.later(hours=20)  # Friday 23:00: the shift that starts on the holiday is not worked
    assert s.reasons(s.lead("on the day")) == {"owl": ["holiday"]}
    s.later(hours=4)  # Saturday 03:00, still in Friday's shift
    assert s.reasons(s.lead("after midnight")) == {"owl": ["holiday"]}


def test_looking_ahead_skips_the_holidays() -> None:
    s = Scenario(now=datetime(2026, 12, 24, 18, 0, tzinfo=UTC))  # Thursday evening
    s.seller("ann", working_hours=NINE_TO_FIVE)
    s.rules(everyone(available_within_hours=90))
    (first,) = s.candidates(s.lead("before the list"))
    assert first["available_from"] == "2026-12-25T09:00:00+00:00"
    holidays(s, CHRISTMAS, {"date": "2026-12-28", "name": "a bridge day"})
    (second,) = s.candidates(s.lead("with the list"))
    # Thursday 18:00 + 90 h is Monday 12:00, a holiday too: nobody within the window
    assert second == {**second, "eligible": False, "reasons": ["outside_hours"], "available_from": None}
    s.rules(everyone(available_within_hours=24 * 5))
    (third,) = s.candidates(s.lead("a longer look"))
    assert third["eligible"] and third["available_from"] == "2026-12-29T09:00:00+00:00"


def test_decisions_replay_with_the_lists_as_they_stood_then() -> None:
    s = Scenario()
    s.seller("ann").seller("bob", holiday_list=None)
    holidays(s, {"date": "2026-11-02", "name": "first"})
    on_the_day = s.lead("a")
    assert s.owner(on_the_day) == "bob"
    # The list changes afterwards and is then removed: the decision is still explained by the
    # list it met, and every decision replays to the same outcome and explanation.
    holidays(s, "2026-11-03")
    s.app.execute(s.app.remove_holiday_list, "organisation")
    (explained,) = s.app.explain_in_full(on_the_day)
    assert explained["same_outcome"]
    assert {c["seller_id"]: c["reasons"] for c in explained["candidates"]} == {"ann": ["holiday"], "bob": []}
    s.later(minutes=1)
    assert s.owner(s.lead("b")) == "ann"  # no list any more: ann's turn
    assert all(r.same for r in replay_decisions(s.app))


def test_lists_that_cannot_be_used_are_refused() -> None:
    s = Scenario()
    s.seller("ann")
    with pytest.raises(InvalidProfile, match="holiday_list: there is no holiday list 'uk'"):
        s.seller("ann", holiday_list="uk")
    with pytest.raises(InvalidProfile, match="holiday_list"):
        s.seller("ann", holiday_list="Not An Id")
    holidays(s, "2026-12-26", list_id="uk")
    s.seller("ann", holiday_list="uk")
    with pytest.raises(HolidayListInUse, match="followed by 1 seller"):
        s.app.execute(s.app.remove_holiday_list, "uk")
    with pytest.raises(HolidayListNotFound):
        s.app.execute(s.app.remove_holiday_list, "de")
    s.seller("ann", holiday_list="organisation")
    s.app.execute(s.app.remove_holiday_list, "uk")
    assert s.app.holiday_lists().lists == {}


@pytest.mark.parametrize(
    ("days", "error"),
    [
        (["2026-13-01"], r"holidays\[0\]: a holiday's date is YYYY-MM-DD"),
        ([{"name": "no date"}], r"holidays\[0\]"),
        ([None], r"holidays\[0\]"),
        (["2026-12-25", {"date": "2026-12-25", "name": "again"}], r"holidays\[1\]: 2026-12-25 is listed twice"),
        ([{"date": "2026-01-01", "yearly": True}, {"date": "2030-01-01", "yearly": True}], r"listed twice"),
        ([(datetime(2026, 1, 1) + timedelta(days=i)).date().isoformat() for i in range(MAX_HOLIDAYS + 1)], "at most"),
    ],
)
def test_a_list_with_days_that_cannot_be_read_is_refused(days: list[object], error: str) -> None:
    with pytest.raises(InvalidHolidays, match=error):
        HolidayLists().define("organisation", "Org", days)  # type: ignore[arg-type]


def test_a_list_is_stored_in_date_order_and_an_unchanged_list_records_nothing() -> None:
    lists = HolidayLists()
    assert lists.define("de", "Germany", ["2026-12-26", {"date": "2000-01-01", "yearly": True, "name": "New Year"}])
    assert lists.lists["de"]["holidays"] == [
        {"date": "2000-01-01", "name": "New Year", "yearly": True},
        {"date": "2026-12-26", "name": "", "yearly": False},
    ]
    version = lists.version
    assert not lists.define("de", "Germany", ["2026-12-26", {"date": "2000-01-01", "yearly": True, "name": "New Year"}])
    assert lists.version == version


async def test_holiday_lists_over_http(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.seller("ann", time_zone="Europe/Berlin", working_hours=NINE_TO_FIVE)
    before = datetime.now(UTC)
    put = await http.put("/v1/holiday-lists/organisation", json={"name": "Org", "holidays": [
        {"date": "2026-11-02", "name": "All Souls"}]})  # fmt: skip
    assert put.status_code == 200, put.text
    assert put.json() == {
        "list_id": "organisation",
        "changed": True,
        "name": "Org",
        "holidays": [{"date": "2026-11-02", "name": "All Souls", "yearly": False}],
    }
    assert (await http.get("/v1/holiday-lists")).json()[0]["list_id"] == "organisation"
    available = (await http.get("/v1/sellers/ann/availability", params={"within_hours": 30})).json()
    assert available == {
        "seller_id": "ann",
        "at": "2026-11-02T10:00:00+00:00",
        "available": False,
        "reason": "holiday",
        "available_from": "2026-11-03T08:00:00+00:00",
        "holiday_list": "organisation",
        "holiday": "All Souls",
    }
    now = (await http.get("/v1/sellers/ann/availability")).json()
    assert (now["available"], now["reason"], now["available_from"]) == (False, "holiday", None)
    later = (await http.get("/v1/sellers/ann/availability", params={"at": "2026-11-03T08:30:00Z"})).json()
    assert (later["available"], later["reason"], later["holiday"]) == (True, None, None)
    assert (await http.get("/v1/sellers/ann")).json()["holiday_list"] == "organisation"

    # bad input names the field
    bad = await http.put("/v1/holiday-lists/organisation", json={"name": "Org", "holidays": [{"date": "25.12.2026"}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "holidays", 0, "date"]
    twice = await http.put("/v1/holiday-lists/uk", json={"name": "UK", "holidays": [CHRISTMAS, CHRISTMAS]})
    assert twice.status_code == 422 and "listed twice" in twice.text
    assert (await http.put("/v1/holiday-lists/UK!", json={"name": "UK", "holidays": []})).status_code == 422
    seller = await http.patch("/v1/sellers/ann", json={"holiday_list": "uk"})
    assert seller.status_code == 422 and "no holiday list 'uk'" in seller.text
    assert (await http.get("/v1/sellers/ann/availability", params={"when": "x"})).status_code == 422

    # time travel, 404 and 409
    assert (await http.get("/v1/holiday-lists/uk")).status_code == 404
    past = await http.get("/v1/holiday-lists/organisation", params={"as_of": (before - timedelta(days=1)).isoformat()})
    assert past.status_code == 404
    assert (await http.put("/v1/holiday-lists/uk", json={"name": "UK", "holidays": []})).status_code == 200
    assert (await http.patch("/v1/sellers/ann", json={"holiday_list": "uk"})).json()["holiday_list"] == "uk"
    in_use = await http.delete("/v1/holiday-lists/uk")
    assert in_use.status_code == 409 and "ann" in in_use.text
    assert (await http.patch("/v1/sellers/ann", json={"holiday_list": None})).json()["holiday_list"] is None
    assert (await http.delete("/v1/holiday-lists/uk")).status_code == 204
    assert (await http.get("/v1/holiday-lists/uk")).status_code == 404
    then = await http.get("/v1/holiday-lists/uk", params={"as_of": datetime.now(UTC).isoformat()})
    assert then.status_code == 404
    # the organisation's list, as it stood before it changed
    defined = datetime.now(UTC)
    await http.put("/v1/holiday-lists/organisation", json={"name": "Org", "holidays": []})
    assert (await http.get("/v1/holiday-lists/organisation")).json()["holidays"] == []
    old = await http.get("/v1/holiday-lists/organisation", params={"as_of": defined.isoformat()})
    assert old.json()["holidays"] == [{"date": "2026-11-02", "name": "All Souls", "yearly": False}]
    assert "the first holiday list was defined at" in past.json()["detail"]
