"""When a seller can take work: weekly working hours in their time zone, out-of-office ranges.

Working hours are `{"mon": [["09:00", "17:00"]], ...}`; an interval whose end is not after
its start runs past midnight into the next day (a night shift `["22:00", "06:00"]`). A seller
with no working hours set works around the clock. Pure: zoneinfo and datetime only.

Reading hours, zones and working intervals is the shared business calendar's
(`leadflow_shared.calendars`); what stays here is the decision's fast path: minutes of the
local week, precomputed once per seller view, and availability within a look-ahead window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from leadflow_shared.calendars import (
    NO_HOLIDAYS,
    WEEKDAYS,
    BusinessCalendar,
    HolidaySet,
    check_working_hours,
    minutes_of_day,
    zone,
)
from leadflow_shared.calendars import InvalidCalendar as InvalidSchedule

__all__ = ["WEEKDAYS", "InvalidSchedule", "check_working_hours", "zone"]


def check_out_of_office(ranges: Sequence[Mapping[str, Any]]) -> None:
    for r in ranges:
        start, end = parse_instant(r["start"]), parse_instant(r["end"])
        if end <= start:
            raise InvalidSchedule("an out-of-office range ends after it starts")


def parse_instant(value: str | datetime) -> datetime:
    instant = value if isinstance(value, datetime) else _parse_iso(value)
    if instant.tzinfo is None:
        raise InvalidSchedule("times carry a time zone offset")
    return instant


@cache
def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


Week = tuple[tuple[int, int], ...]
"""Working intervals as (start, end) minutes of the local week, Monday 00:00 = 0."""

_WEEK_MINUTES = 7 * 24 * 60


def week_intervals(hours: Mapping[str, Sequence[Sequence[str]]] | None) -> Week:
    intervals = []
    for day, day_intervals in (hours or {}).items():
        base = WEEKDAYS.index(day) * 1440
        for start_s, end_s in day_intervals:
            start, end = minutes_of_day(start_s), minutes_of_day(end_s)
            if end <= start:
                end += 1440  # past midnight into the next day
            intervals.append((base + start, base + end))
            if base + end > _WEEK_MINUTES:  # Sunday night into Monday morning
                intervals.append((base + start - _WEEK_MINUTES, base + end - _WEEK_MINUTES))
    return tuple(intervals)


def in_working_hours(
    hours: Mapping[str, Sequence[Sequence[str]]] | None, tz_name: str, instant: datetime, week: Week | None = None
) -> bool:
    """Is `instant` inside the working hours, read on the wall clock of the seller's zone?"""
    if not hours:
        return True
    local = instant.astimezone(zone(tz_name))
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute + local.second / 60
    return any(start <= minute < end for start, end in (week if week is not None else week_intervals(hours)))


def on_holiday(
    hours: Mapping[str, Sequence[Sequence[str]]] | None, tz_name: str, instant: datetime, holidays: HolidaySet
) -> str | None:
    """The holiday's name if `instant` is working time by the week but falls in a shift that
    starts on a holiday (all of a holiday when there are no working hours), else None.

    A shift belongs to the day it starts: a night shift from the eve of a holiday is worked."""
    if not holidays:
        return None
    day = instant.astimezone(zone(tz_name)).date()
    names = [n for d in (day - timedelta(days=1), day) if (n := holidays.name_on(d)) is not None]
    if not names:
        return None
    if _calendar(_frozen(hours), tz_name, holidays).is_working(instant):
        return None
    return names[-1]


def _frozen(hours: Mapping[str, Sequence[Sequence[str]]] | None) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    return tuple((day, tuple(tuple(i) for i in intervals)) for day, intervals in (hours or {}).items())


@cache
def _calendar(
    hours: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...], tz_name: str, holidays: HolidaySet
) -> BusinessCalendar:
    working_hours = {day: [list(i) for i in intervals] for day, intervals in hours}
    calendar = BusinessCalendar.from_data(time_zone=tz_name, working_hours=working_hours)
    return calendar.with_holidays(holidays.holidays)


def interval_starts(
    hours: Mapping[str, Sequence[Sequence[str]]] | None,
    tz_name: str,
    after: datetime,
    until: datetime,
    holidays: HolidaySet = NO_HOLIDAYS,
) -> list[datetime]:
    """Starts of working intervals in (after, until] (days off for a holiday have none)."""
    if not hours and not holidays:
        return []
    calendar = _calendar(_frozen(hours), tz_name, holidays)
    first = calendar.local_date(after)
    days = [first + timedelta(days=offset) for offset in range((until - after).days + 2)]
    return [start for day in days for start, _ in calendar.intervals_on(day) if after < start <= until]


def out_of_office_at(ranges: Sequence[Mapping[str, Any]], instant: datetime) -> Mapping[str, Any] | None:
    for r in ranges:
        if parse_instant(r["start"]) <= instant < parse_instant(r["end"]):
            return r
    return None


def availability(
    hours: Mapping[str, Sequence[Sequence[str]]] | None,
    tz_name: str,
    out_of_office: Sequence[Mapping[str, Any]],
    now: datetime,
    within_hours: float | None = None,
    week: Week | None = None,
    holidays: HolidaySet = NO_HOLIDAYS,
) -> tuple[str | None, datetime | None]:
    """(None, when) if the seller is available now or within `within_hours`, else (reason, None).

    Available means inside working hours, not on a holiday of the seller's holiday list and not
    out of office at some instant of the window [now, now + within_hours]. The reason names what
    blocks them now: `out_of_office` first, then `holiday`, else `outside_hours`.
    """

    if (
        in_working_hours(hours, tz_name, now, week)
        and (not out_of_office or out_of_office_at(out_of_office, now) is None)
        and (not holidays.holidays or on_holiday(hours, tz_name, now, holidays) is None)
    ):
        return None, now  # the usual case, kept fast: a decision asks this of every seller in scope

    def works_at(instant: datetime) -> bool:
        return (
            in_working_hours(hours, tz_name, instant, week)
            and out_of_office_at(out_of_office, instant) is None
            and on_holiday(hours, tz_name, instant, holidays) is None
        )

    if within_hours is None or within_hours <= 0:
        candidates = []
    else:
        until = now + timedelta(hours=within_hours)
        ooo_ends = [parse_instant(r["end"]) for r in out_of_office]
        candidates = sorted(
            {now, *interval_starts(hours, tz_name, now, until, holidays), *(e for e in ooo_ends if now < e <= until)}
        )
    for instant in candidates:
        if works_at(instant):
            return None, instant
    if out_of_office_at(out_of_office, now) is not None:
        return "out_of_office", None
    if in_working_hours(hours, tz_name, now, week):
        return "holiday", None
    return "outside_hours", None
