"""Business calendars (leadflow_shared.calendars): working days and hours in a zone, holidays,
absences, business-day and business-hour arithmetic, Dynamics 365's sequence waits, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadflow_shared.calendars import STANDARD_HOURS, BusinessCalendar, Holiday, InvalidCalendar

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = BusinessCalendar.from_data(time_zone="Europe/Berlin", working_hours=STANDARD_HOURS)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


# -- Dynamics 365's documented example ------------------------------------------------------


def test_an_email_done_on_wednesday_then_a_3_day_wait_is_due_on_tuesday_when_waits_skip_non_working_days() -> None:
    done = berlin(2026, 12, 2, 10, 30)  # a Wednesday
    assert done.strftime("%A") == "Wednesday"
    due = OFFICE.wait_days(done, 3, skip_non_working=True)
    # Thursday, Friday and Monday are waited; the step is due when Tuesday's work starts.
    assert due == berlin(2026, 12, 8, 9, 0)
    assert due.astimezone(BERLIN).strftime("%A") == "Tuesday"


def test_the_same_wait_is_due_on_monday_when_waits_do_not_skip_non_working_days() -> None:
    due = OFFICE.wait_days(berlin(2026, 12, 2, 10, 30), 3, skip_non_working=False)
    # Thursday, Friday and Saturday are waited; Sunday is not a working day, so Monday 09:00.
    assert due == berlin(2026, 12, 7, 9, 0)
    assert due.astimezone(BERLIN).strftime("%A") == "Monday"


def test_a_wait_without_a_weekend_in_between_is_the_same_either_way() -> None:
    done = berlin(2026, 11, 30, 16, 0)  # a Monday
    assert OFFICE.wait_days(done, 2) == OFFICE.wait_days(done, 2, skip_non_working=False) == berlin(2026, 12, 3, 9, 0)


def test_a_holiday_in_a_wait_is_skipped_like_a_weekend() -> None:
    calendar = OFFICE.with_holidays([Holiday(date(2026, 12, 4), name="company day")])  # the Friday
    # Wednesday + 3 working days: Thursday, (not Friday), Monday, Tuesday → due Wednesday.
    assert calendar.wait_days(berlin(2026, 12, 2, 10, 30), 3) == berlin(2026, 12, 9, 9, 0)


# -- business days and hours ----------------------------------------------------------------


def test_business_days_keep_the_time_of_day_and_skip_weekends_and_holidays() -> None:
    wednesday = berlin(2026, 12, 2, 10, 30)
    assert OFFICE.add_business_days(wednesday, 0) == wednesday
    assert OFFICE.add_business_days(wednesday, 3) == berlin(2026, 12, 7, 10, 30)  # Monday
    christmas = OFFICE.with_holidays([Holiday(date(2000, 12, 25), yearly=True, name="Christmas")])
    # Wednesday 23 December + 2: Thursday 24, (Friday 25 is Christmas, every year), Monday 28.
    assert christmas.add_business_days(berlin(2026, 12, 23, 11, 0), 2) == berlin(2026, 12, 28, 11, 0)
    # A time outside working hours lands on the next working moment.
    assert OFFICE.add_business_days(berlin(2026, 12, 2, 18, 0), 1) == berlin(2026, 12, 4, 9, 0)


def test_business_hours_count_only_working_time() -> None:
    friday_afternoon = berlin(2026, 12, 4, 16, 0)
    assert OFFICE.add_business_hours(friday_afternoon, 0.5) == berlin(2026, 12, 4, 16, 30)
    # One hour on Friday, the second on Monday morning.
    assert OFFICE.add_business_hours(friday_afternoon, 2) == berlin(2026, 12, 7, 10, 0)
    # A whole working week is 40 hours: from Monday 09:00 to Friday 17:00.
    assert OFFICE.add_business_hours(berlin(2026, 11, 30, 9, 0), timedelta(hours=40)) == berlin(2026, 12, 4, 17, 0)
    with pytest.raises(InvalidCalendar):
        OFFICE.add_business_hours(friday_afternoon, -1)


def test_the_next_working_moment() -> None:
    assert OFFICE.next_working_moment(berlin(2026, 12, 2, 10, 0)) == berlin(2026, 12, 2, 10, 0)
    assert OFFICE.next_working_moment(berlin(2026, 12, 2, 17, 0)) == berlin(2026, 12, 3, 9, 0)  # end is exclusive
    assert OFFICE.next_working_moment(berlin(2026, 12, 5, 12, 0)) == berlin(2026, 12, 7, 9, 0)  # Saturday
    assert OFFICE.is_working(berlin(2026, 12, 2, 9, 0)) and not OFFICE.is_working(berlin(2026, 12, 2, 8, 59))
    assert OFFICE.is_working_day(date(2026, 12, 4)) and not OFFICE.is_working_day(date(2026, 12, 5))


def test_absences_are_not_working_time() -> None:
    away = BusinessCalendar.from_data(
        time_zone="Europe/Berlin",
        working_hours=STANDARD_HOURS,
        out_of_office=[{"start": "2026-12-02T12:00:00+01:00", "end": "2026-12-03T13:00:00+01:00", "reason": "trip"}],
    )
    assert not away.is_working(berlin(2026, 12, 3, 10, 0))
    assert away.next_working_moment(berlin(2026, 12, 2, 12, 30)) == berlin(2026, 12, 3, 13, 0)
    # Wednesday 11:00 + 3 h: one hour before the trip, two after it.
    assert away.add_business_hours(berlin(2026, 12, 2, 11, 0), 3) == berlin(2026, 12, 3, 15, 0)
    assert away.is_working_day(date(2026, 12, 3))  # an absence does not change the day


def test_around_the_clock_when_no_working_hours_are_set() -> None:
    always = BusinessCalendar.from_data(time_zone="UTC", holidays=["2026-12-25"])
    moment = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # a Saturday night
    assert always.is_working(moment)
    assert always.add_business_hours(moment, 30) == moment + timedelta(hours=30)
    assert always.next_working_moment(datetime(2026, 12, 25, 8, 0, tzinfo=UTC)) == datetime(2026, 12, 26, tzinfo=UTC)


# -- time zones and DST ---------------------------------------------------------------------


def test_days_are_read_on_the_calendars_wall_clock_not_in_utc() -> None:
    new_york = BusinessCalendar.from_data(time_zone="America/New_York", working_hours=STANDARD_HOURS)
    done = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # Thursday in UTC, Wednesday 22:00 in New York
    due = new_york.wait_days(done, 3)
    assert due == datetime(2026, 12, 8, 9, 0, tzinfo=NEW_YORK)  # Tuesday, as for a Wednesday
    assert OFFICE.wait_days(done, 3) == berlin(2026, 12, 9, 9, 0)  # in Berlin it was Thursday


def test_working_hours_follow_the_wall_clock_across_dst_changes() -> None:
    # Berlin moves from +01:00 to +02:00 on Sunday 29 March 2026: 09:00 is 08:00 UTC before, 07:00 after.
    friday = berlin(2026, 3, 27, 16, 0)
    monday_ten = OFFICE.add_business_hours(friday, 2)
    assert monday_ten == berlin(2026, 3, 30, 10, 0)
    assert monday_ten.astimezone(UTC).hour == 8
    assert OFFICE.add_business_days(berlin(2026, 3, 27, 9, 0), 1).astimezone(UTC) == datetime(
        2026, 3, 30, 7, 0, tzinfo=UTC
    )


def test_a_night_shift_is_an_hour_shorter_when_clocks_go_forward_and_longer_when_they_go_back() -> None:
    nights = BusinessCalendar.from_data(time_zone="Europe/Berlin", working_hours={"sat": [["22:00", "06:00"]]})
    spring = berlin(2026, 3, 28, 22, 0)  # 22:00 Saturday to 06:00 Sunday, across 02:00 → 03:00
    assert nights.add_business_hours(spring, 7) == berlin(2026, 3, 29, 6, 0)  # 7 real hours, not 8
    assert nights.add_business_hours(spring, 8) == berlin(2026, 4, 4, 23, 0)  # the 8th hour is next week
    autumn = berlin(2026, 10, 24, 22, 0)  # across 03:00 → 02:00
    assert nights.add_business_hours(autumn, 9) == berlin(2026, 10, 25, 6, 0)  # 9 real hours
    assert nights.is_working(datetime(2026, 10, 25, 4, 30, tzinfo=UTC))  # Sunday 05:30 local


# -- data and errors ------------------------------------------------------------------------


def test_bad_calendar_data_is_refused_with_what_is_wrong() -> None:
    cases = [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"working_hours": {"monday": [["09:00", "17:00"]]}}, "must be one of"),
        ({"working_hours": {"mon": [["9h", "17:00"]]}}, "is not HH:MM"),
        ({"working_hours": {"mon": [["09:00"]]}}, "[start, end]"),
        ({"holidays": ["25.12.2026"]}, "YYYY-MM-DD"),
        ({"out_of_office": [{"start": "2026-12-02T12:00:00", "end": "2026-12-03T12:00:00+01:00"}]}, "no time zone"),
        ({"out_of_office": [{"start": "2026-12-03T12:00:00Z", "end": "2026-12-02T12:00:00Z"}]}, "ends after it starts"),
    ]
    for data, message in cases:
        with pytest.raises(InvalidCalendar, match=message.replace("[", r"\[").replace("]", r"\]")):
            BusinessCalendar.from_data(**data)  # type: ignore[arg-type]


def test_a_calendar_without_any_working_time_says_so_instead_of_looping() -> None:
    on_holiday_forever = BusinessCalendar.from_data(
        working_hours=STANDARD_HOURS,
        out_of_office=[{"start": "2026-01-01T00:00:00Z", "end": "2036-01-01T00:00:00Z"}],
    )
    with pytest.raises(InvalidCalendar, match="no working time"):
        on_holiday_forever.next_working_moment(datetime(2026, 12, 2, tzinfo=UTC))
    with pytest.raises(InvalidCalendar, match="working days"):
        BusinessCalendar.from_data(working_hours={}, holidays=[]).with_holidays(
            [Holiday(date(2000, 1, 1) + timedelta(days=d), yearly=True) for d in range(366)]
        ).add_business_days(datetime(2026, 12, 2, tzinfo=UTC), 1)
