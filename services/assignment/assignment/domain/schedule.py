"""When a seller can take work: weekly working hours in their time zone, out-of-office ranges.

Working hours are `{"mon": [["09:00", "17:00"]], ...}`; an interval whose end is not after
its start runs past midnight into the next day (a night shift `["22:00", "06:00"]`). A seller
with no working hours set works around the clock. Pure: zoneinfo and datetime only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class InvalidSchedule(ValueError):
    """Working hours, a time zone or an out-of-office range that cannot be read."""


@cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"unknown time zone {name!r}") from None


def check_working_hours(hours: Mapping[str, Sequence[Sequence[str]]] | None) -> None:
    for day, intervals in (hours or {}).items():
        if day not in WEEKDAYS:
            raise InvalidSchedule(f"working hours day must be one of {', '.join(WEEKDAYS)}, not {day!r}")
        for interval in intervals:
            if len(interval) != 2:
                raise InvalidSchedule("a working interval is [start, end]")
            for hhmm in interval:
                _clock_time(hhmm)


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
            start, end = _minutes(start_s), _minutes(end_s)
            if end <= start:
                end += 1440  # past midnight into the next day
            intervals.append((base + start, base + end))
            if base + end > _WEEK_MINUTES:  # Sunday night into Monday morning
                intervals.append((base + start - _WEEK_MINUTES, base + end - _WEEK_MINUTES))
    return tuple(intervals)


def _minutes(hhmm: str) -> int:
    if hhmm == "24:00":
        return 1440
    clock = _clock_time(hhmm)
    return clock.hour * 60 + clock.minute


@cache
def _clock_time(hhmm: str) -> time:
    try:
        hours, minutes = hhmm.split(":")
        if hhmm == "24:00":
            return time.max
        return time(int(hours), int(minutes))
    except ValueError:
        raise InvalidSchedule(f"{hhmm!r} is not HH:MM") from None


def _intervals_around(hours: Mapping[str, Sequence[Sequence[str]]], tz: ZoneInfo, local_day: datetime):  # type: ignore[no-untyped-def]
    """Working intervals (as aware datetimes) that start on `local_day`'s date."""
    for start_s, end_s in hours.get(WEEKDAYS[local_day.weekday()], ()):
        start_t, end_t = _clock_time(start_s), _clock_time(end_s)
        start = datetime.combine(local_day.date(), start_t, tzinfo=tz)
        end_day = local_day.date() if end_t > start_t else local_day.date() + timedelta(days=1)
        end = datetime.combine(end_day, end_t, tzinfo=tz)
        yield start, end


def in_working_hours(
    hours: Mapping[str, Sequence[Sequence[str]]] | None, tz_name: str, instant: datetime, week: Week | None = None
) -> bool:
    """Is `instant` inside the working hours, read on the wall clock of the seller's zone?"""
    if not hours:
        return True
    local = instant.astimezone(zone(tz_name))
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute + local.second / 60
    return any(start <= minute < end for start, end in (week if week is not None else week_intervals(hours)))


def interval_starts(
    hours: Mapping[str, Sequence[Sequence[str]]] | None, tz_name: str, after: datetime, until: datetime
) -> list[datetime]:
    """Starts of working intervals in (after, until]."""
    if not hours:
        return []
    tz = zone(tz_name)
    local = after.astimezone(tz)
    starts = []
    for offset in range((until - after).days + 2):
        for start, _ in _intervals_around(hours, tz, local + timedelta(days=offset)):
            if after < start <= until:
                starts.append(start.astimezone(UTC))
    return starts


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
) -> tuple[str | None, datetime | None]:
    """(None, when) if the seller is available now or within `within_hours`, else (reason, None).

    Available means inside working hours and not out of office at some instant of the window
    [now, now + within_hours]; the reason is `out_of_office` when that is what blocks them now.
    """
    if in_working_hours(hours, tz_name, now, week) and out_of_office_at(out_of_office, now) is None:
        return None, now
    if within_hours is None or within_hours <= 0:
        candidates = []
    else:
        until = now + timedelta(hours=within_hours)
        ooo_ends = [parse_instant(r["end"]) for r in out_of_office]
        candidates = sorted(
            {now, *interval_starts(hours, tz_name, now, until), *(e for e in ooo_ends if now < e <= until)}
        )
    for instant in candidates:
        if in_working_hours(hours, tz_name, instant, week) and out_of_office_at(out_of_office, instant) is None:
            return None, instant
    if out_of_office_at(out_of_office, now) is not None:
        return "out_of_office", None
    return "outside_hours", None
