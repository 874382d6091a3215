"""Holiday lists: an organisation's days off, as data the assignment engine reads.

Every seller follows one list (the organisation's, `organisation`, unless their profile names
another, e.g. `uk`, or none). On a day of their list a seller takes no lead: a shift that starts
on a holiday is not worked (a night shift from the eve of one is); without working hours the
whole local day is off. Lists live in one aggregate, so a decision replayed from the log sees
every list as it stood when the decision was made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from leadflow_shared.calendars import NO_HOLIDAYS, HolidaySet, InvalidCalendar, parse_holiday

HOLIDAYS_ID = uuid5(NAMESPACE_URL, "leadflow:assignment:holiday-lists")
ORGANISATION_HOLIDAYS = "organisation"
"""The list every seller follows unless their profile names another."""
MAX_HOLIDAYS = 1000
"""Days in one list (a list is one event when it changes: this keeps it far below 64 KiB)."""
LIST_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_LIST_ID = re.compile(LIST_ID_PATTERN)


class InvalidHolidays(ValueError):
    pass


class HolidayListNotFound(LookupError):
    pass


class HolidayListInUse(Exception):
    pass


def check_list_id(list_id: Any) -> None:
    if not isinstance(list_id, str) or not _LIST_ID.match(list_id):
        raise InvalidHolidays(f"a holiday list id is 1-64 lower-case letters, digits, '-' or '_', not {list_id!r}")


def normalised(holidays: Iterable[Mapping[str, Any] | str]) -> list[dict[str, Any]]:
    """Holidays as stored: `{"date", "name", "yearly"}` in date order; a day listed twice is refused."""
    days: dict[tuple[int, int, int], dict[str, Any]] = {}
    for index, value in enumerate(holidays):
        try:
            holiday = parse_holiday(value)
        except InvalidCalendar as exc:
            raise InvalidHolidays(f"holidays[{index}]: {exc}") from None
        key = (0 if holiday.yearly else holiday.day.year, holiday.day.month, holiday.day.day)
        if key in days:
            raise InvalidHolidays(f"holidays[{index}]: {holiday.day.isoformat()} is listed twice")
        days[key] = {"date": holiday.day.isoformat(), "name": holiday.name, "yearly": holiday.yearly}
    if len(days) > MAX_HOLIDAYS:
        raise InvalidHolidays(f"a holiday list holds at most {MAX_HOLIDAYS} days, not {len(days)}")
    return sorted(days.values(), key=lambda h: (h["date"][5:], h["date"]) if h["yearly"] else (h["date"], ""))


@lru_cache(maxsize=256)
def _holiday_set(days: tuple[tuple[str, str, bool], ...]) -> HolidaySet:
    return HolidaySet.from_data({"date": d, "name": n, "yearly": y} for d, n, y in days)


class HolidayLists(Aggregate):
    """Every holiday list of the organisation, by id."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return HOLIDAYS_ID

    @event("Opened")
    def __init__(self) -> None:
        self.lists: dict[str, dict[str, Any]] = {}

    def define(self, list_id: str, name: str, holidays: Iterable[Mapping[str, Any] | str]) -> bool:
        """The list `list_id` is named `name` and holds exactly `holidays` from now on; True if it changed."""
        check_list_id(list_id)
        if not isinstance(name, str) or not name.strip():
            raise InvalidHolidays("a holiday list has a name")
        days = normalised(holidays)
        if self.lists.get(list_id) == {"name": name, "holidays": days}:
            return False
        self._defined(list_id, name, days)
        return True

    @event("ListDefined")
    def _defined(self, list_id: str, name: str, holidays: list[dict[str, Any]]) -> None:
        self.lists[list_id] = {"name": name, "holidays": holidays}

    def remove(self, list_id: str) -> None:
        self.check_exists(list_id)
        self._removed(list_id)

    @event("ListRemoved")
    def _removed(self, list_id: str) -> None:
        del self.lists[list_id]

    def check_exists(self, list_id: str) -> None:
        if list_id not in self.lists:
            raise HolidayListNotFound(f"no holiday list {list_id!r}")

    def holidays_of(self, list_id: str | None) -> HolidaySet:
        """The days off of a list (none for no list, or a list not defined yet)."""
        if list_id is None or list_id not in self.lists:
            return NO_HOLIDAYS
        return _holiday_set(tuple((h["date"], h["name"], h["yearly"]) for h in self.lists[list_id]["holidays"]))

    def name_on(self, list_id: str | None, day: date) -> str | None:
        return self.holidays_of(list_id).name_on(day)
