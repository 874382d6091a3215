"""Business calendars: when work happens, and what "N business days / hours later" means.

A calendar is data: an IANA time zone, weekly working hours read on that zone's wall clock
(`{"mon": [["09:00", "17:00"]], ...}`; an interval whose end is not after its start runs past
midnight into the next day, a night shift `["22:00", "06:00"]`; no working hours at all means
around the clock), holidays (a date, optionally every year) and absences (out-of-office ranges).
Per-seller calendars and an organisation's holiday list combine with `with_holidays`.

Every computation walks concrete working intervals converted to UTC, so durations are right
across DST changes (a night shift on the night the clocks go forward is an hour shorter).
Pure: zoneinfo and datetime only; the caller passes the instant (the clock is injected).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STANDARD_HOURS: Mapping[str, Sequence[Sequence[str]]] = {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]}
"""Monday to Friday, nine to five."""

HORIZON_DAYS = 3 * 366
"""How far ahead a calendar is searched for working time before it is called empty."""


class InvalidCalendar(ValueError):
    """Working hours, a time zone, a holiday or an absence that cannot be read."""


@cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidCalendar(f"unknown time zone {name!r}") from None


def minutes_of_day(hhmm: str) -> int:
    """Minutes after midnight of an `HH:MM` wall-clock time; `24:00` is the end of the day."""
    if hhmm == "24:00":
        return 1440
    try:
        hours, minutes = hhmm.split(":")
        return time(int(hours), int(minutes)).hour * 60 + int(minutes)
    except (ValueError, AttributeError):
        raise InvalidCalendar(f"{hhmm!r} is not HH:MM") from None


def check_working_hours(hours: Mapping[str, Sequence[Sequence[str]]] | None) -> None:
    """Raise InvalidCalendar, naming the day or the value, unless `hours` can be read."""
    for day, intervals in (hours or {}).items():
        if day not in WEEKDAYS:
            raise InvalidCalendar(f"working hours day must be one of {', '.join(WEEKDAYS)}, not {day!r}")
        for interval in intervals:
            if len(interval) != 2:
                raise InvalidCalendar("a working interval is [start, end]")
            for hhmm in interval:
                minutes_of_day(hhmm)


def aware(value: str | datetime, what: str = "a time") -> datetime:
    """An aware datetime from an RFC 3339 string or a datetime; naive times are refused."""
    try:
        instant = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidCalendar(f"{what} is not an RFC 3339 time: {value!r}") from None
    if instant.tzinfo is None:
        raise InvalidCalendar(f"{what} carries no time zone offset")
    return instant


@dataclass(frozen=True)
class Shift:
    """One weekly working interval: a weekday (0 = Monday) and local minutes; `end` may pass
    1440 (into the next day)."""

    weekday: int
    start: int
    end: int


@dataclass(frozen=True)
class Holiday:
    day: date
    yearly: bool = False
    name: str = ""

    def falls_on(self, day: date) -> bool:
        if self.yearly:
            return (day.month, day.day) == (self.day.month, self.day.day)
        return day == self.day


@dataclass(frozen=True)
class HolidaySet:
    """A holiday list looked up by date in constant time (a decision asks it for every seller)."""

    holidays: tuple[Holiday, ...] = ()
    _on_date: dict[date, str] = field(init=False, compare=False, hash=False, repr=False)
    _every_year: dict[tuple[int, int], str] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_on_date", {h.day: h.name for h in self.holidays if not h.yearly})
        object.__setattr__(self, "_every_year", {(h.day.month, h.day.day): h.name for h in self.holidays if h.yearly})

    @classmethod
    def from_data(cls, holidays: Iterable[Mapping[str, Any] | str]) -> HolidaySet:
        return cls(tuple(parse_holiday(h) for h in holidays))

    def __bool__(self) -> bool:
        return bool(self.holidays)

    def name_on(self, day: date) -> str | None:
        """The holiday's name ("" if it has none) if `day` is one, else None."""
        if day in self._on_date:
            return self._on_date[day]
        return self._every_year.get((day.month, day.day))

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.name_on(day) is not None


NO_HOLIDAYS = HolidaySet()


@dataclass(frozen=True)
class Absence:
    """Out of office from `start` (inclusive) to `end` (exclusive)."""

    start: datetime
    end: datetime
    reason: str = ""


Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: str = "UTC"
    shifts: tuple[Shift, ...] | None = None
    """None: around the clock (every day that is not a holiday, all day)."""
    holidays: tuple[Holiday, ...] = ()
    absences: tuple[Absence, ...] = field(default=())

    def __post_init__(self) -> None:
        zone(self.time_zone)

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_data(
        cls,
        *,
        time_zone: str = "UTC",
        working_hours: Mapping[str, Sequence[Sequence[str]]] | None = None,
        holidays: Iterable[Mapping[str, Any] | str] = (),
        out_of_office: Iterable[Mapping[str, Any]] = (),
    ) -> BusinessCalendar:
        """A calendar from stored or posted data. Holidays are `"2026-12-25"` or
        `{"date": "2026-12-25", "yearly": true, "name": "Christmas"}`; absences are
        `{"start": <RFC 3339>, "end": <RFC 3339>, "reason": ...}`."""
        check_working_hours(working_hours)
        shifts = None
        if working_hours:
            shifts = tuple(
                _shift(WEEKDAYS.index(day), start, end)
                for day, intervals in working_hours.items()
                for start, end in intervals
            )
        return cls(
            time_zone=time_zone,
            shifts=shifts,
            holidays=tuple(parse_holiday(h) for h in holidays),
            absences=tuple(_absence(a) for a in out_of_office),
        )

    def with_holidays(self, holidays: Iterable[Holiday]) -> BusinessCalendar:
        """This calendar with an organisation-wide holiday list added to its own."""
        return replace(self, holidays=self.holidays + tuple(holidays))

    # -- questions ------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        return any(h.falls_on(day) for h in self.holidays)

    def is_working_day(self, day: date) -> bool:
        """A day with working hours that is not a holiday (absences do not change it)."""
        if self.is_holiday(day):
            return False
        return self.shifts is None or any(s.weekday == day.weekday() for s in self.shifts)

    def intervals_on(self, day: date) -> list[Interval]:
        """Working time (UTC) of the shifts that start on local date `day`, minus absences."""
        if self.is_holiday(day):
            return []
        tz = zone(self.time_zone)
        if self.shifts is None:
            raw = [(_local(day, 0, tz), _local(day, 1440, tz))]
        else:
            raw = [
                (_local(day, s.start, tz), _local(day, s.end, tz)) for s in self.shifts if s.weekday == day.weekday()
            ]
        intervals = sorted((start, end) for start, end in raw if end > start)
        for absence in self.absences:
            intervals = [piece for interval in intervals for piece in _minus(interval, absence)]
        return intervals

    def is_working(self, instant: datetime) -> bool:
        moment = aware(instant).astimezone(UTC)
        day = self.local_date(moment)
        return any(s <= moment < e for d in (day - timedelta(days=1), day) for s, e in self.intervals_on(d))

    def local_date(self, instant: datetime) -> date:
        return aware(instant).astimezone(zone(self.time_zone)).date()

    # -- arithmetic -----------------------------------------------------------------------

    def working_time_from(self, instant: datetime) -> Iterator[Interval]:
        """Working intervals (UTC) from `instant` on, the first one clipped to start there."""
        moment = aware(instant).astimezone(UTC)
        first = self.local_date(moment) - timedelta(days=1)  # a night shift from the day before
        pending: Interval | None = None
        for offset in range(HORIZON_DAYS + 2):
            for start, end in self.intervals_on(first + timedelta(days=offset)):
                if end <= moment:
                    continue
                start = max(start, moment)
                if pending is not None and start <= pending[1]:  # overlapping or touching shifts
                    pending = (pending[0], max(pending[1], end))
                    continue
                if pending is not None:
                    yield pending
                pending = (start, end)
        if pending is not None:
            yield pending
        raise InvalidCalendar(f"no working time within {HORIZON_DAYS} days of {moment.isoformat()}")

    def next_working_moment(self, instant: datetime) -> datetime:
        """`instant` itself if it is working time, else the start of the next working interval."""
        start, _ = next(self.working_time_from(instant))
        return start

    def add_business_hours(self, instant: datetime, amount: timedelta | float) -> datetime:
        """The moment when `amount` (a timedelta or hours) of working time has passed after
        `instant`; time outside working hours, on holidays and during absences does not count."""
        remaining = amount if isinstance(amount, timedelta) else timedelta(hours=amount)
        if remaining < timedelta(0):
            raise InvalidCalendar("business hours to add must not be negative")
        for start, end in self.working_time_from(instant):
            if remaining <= end - start:
                return start + remaining
            remaining -= end - start
        raise AssertionError("unreachable: working_time_from raises when it runs out")

    def add_business_days(self, instant: datetime, days: int) -> datetime:
        """The same wall-clock time `days` working days later (non-working days and holidays are
        not counted), moved to the next working moment if that time is outside working hours."""
        if days < 0:
            raise InvalidCalendar("business days to add must not be negative")
        tz = zone(self.time_zone)
        local = aware(instant).astimezone(tz)
        day = self._count_days(local.date(), days, working_only=True)
        return self.next_working_moment(datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=tz))

    def wait_days(self, done_at: datetime, days: int, *, skip_non_working: bool = True) -> datetime:
        """When a step that waits `days` days after one done at `done_at` becomes due.

        The wait counts whole days after the day `done_at` falls on (local date) — only working
        days when `skip_non_working`, every day otherwise — and the step is due at the first
        working moment after the last of them. Dynamics 365 sequences: an email done on a
        Wednesday followed by a 3-day wait is due on Tuesday when waits skip non-working days
        (Thursday, Friday, Monday are waited), on Monday when they do not (Thursday to Saturday
        are waited; Sunday is not a working day)."""
        if days < 0:
            raise InvalidCalendar("days to wait must not be negative")
        tz = zone(self.time_zone)
        last = self._count_days(self.local_date(done_at), days, working_only=skip_non_working)
        return self.next_working_moment(_local(last + timedelta(days=1), 0, tz))

    def _count_days(self, start: date, days: int, *, working_only: bool) -> date:
        day, counted = start, 0
        for _ in range(days + HORIZON_DAYS):
            if counted == days:
                return day
            day += timedelta(days=1)
            if not working_only or self.is_working_day(day):
                counted += 1
        if counted == days:
            return day
        raise InvalidCalendar(f"fewer than {days} working days within {HORIZON_DAYS} days of {start.isoformat()}")


def _shift(weekday: int, start_s: str, end_s: str) -> Shift:
    start, end = minutes_of_day(start_s), minutes_of_day(end_s)
    if end <= start:
        end += 1440  # past midnight into the next day
    return Shift(weekday, start, end)


def parse_holiday(value: Mapping[str, Any] | str) -> Holiday:
    """`"2026-12-25"` or `{"date": "2026-12-25", "yearly": true, "name": "Christmas"}`."""
    if not isinstance(value, str | Mapping):
        raise InvalidCalendar(f"a holiday is a date or an object with a date, not {value!r}")
    raw = value if isinstance(value, str) else value.get("date")
    try:
        day = date.fromisoformat(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidCalendar(f"a holiday's date is YYYY-MM-DD, not {raw!r}") from None
    if isinstance(value, str):
        return Holiday(day)
    return Holiday(day, yearly=bool(value.get("yearly", False)), name=str(value.get("name") or ""))


def _absence(value: Mapping[str, Any]) -> Absence:
    start, end = aware(value.get("start", ""), "an absence's start"), aware(value.get("end", ""), "an absence's end")
    if end <= start:
        raise InvalidCalendar("an absence ends after it starts")
    return Absence(start.astimezone(UTC), end.astimezone(UTC), str(value.get("reason") or ""))


def _local(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """UTC of local wall-clock `minutes` after the start of `day` (may pass into later days)."""
    extra_days, minute = divmod(minutes, 1440)
    local = datetime.combine(day + timedelta(days=extra_days), time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)


def _minus(interval: Interval, absence: Absence) -> list[Interval]:
    start, end = interval
    if absence.end <= start or absence.start >= end:
        return [interval]
    pieces = []
    if absence.start > start:
        pieces.append((start, absence.start))
    if absence.end < end:
        pieces.append((absence.end, end))
    return pieces
