"""The sequence service's own settings and copies: the organisation's holidays, the links from
assignment's segments to sequences, and each seller's calendar as assignment last published it
(sellers.events.v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from leadflow_shared.calendars import STANDARD_HOURS, BusinessCalendar, HolidaySet

HOLIDAYS_ID = uuid5(NAMESPACE_URL, "leadflow:sequence:holidays")
LINKS_ID = uuid5(NAMESPACE_URL, "leadflow:sequence:segment-links")
DEFAULT_CALENDAR = BusinessCalendar.from_data(time_zone="UTC", working_hours=STANDARD_HOURS)
"""The calendar of a seller the service has not heard of (yet): Monday to Friday, 9 to 5, UTC."""


def seller_calendar_id(seller_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"leadflow:sequence:seller:{seller_id}")


class Holidays(Aggregate):
    """The organisation's holidays: no wait counts them as working days, for any seller."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return HOLIDAYS_ID

    @event("Created")
    def __init__(self) -> None:
        self.days: list[dict[str, Any]] = []

    def replace(self, days: list[dict[str, Any]], actor: str, at: datetime) -> None:
        HolidaySet.from_data(days)  # refuses what cannot be read
        if days != self.days:
            self._replaced(days=days, actor=actor, at=at)

    @event("Replaced")
    def _replaced(self, days: list[dict[str, Any]], actor: str, at: datetime) -> None:
        self.days = list(days)


class SegmentLinks(Aggregate):
    """Which sequences each of assignment's segments enrols its assigned leads in."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return LINKS_ID

    @event("Created")
    def __init__(self) -> None:
        self.by_segment: dict[str, list[str]] = {}

    def sequences_of(self, segment_id: str | None) -> list[UUID]:
        return [UUID(s) for s in self.by_segment.get(segment_id or "", [])]

    def segments_of(self, sequence_id: UUID) -> list[str]:
        return sorted(seg for seg, seqs in self.by_segment.items() if str(sequence_id) in seqs)

    def link(self, segment_id: str, sequence_id: UUID, actor: str, at: datetime) -> bool:
        if str(sequence_id) in self.by_segment.get(segment_id, []):
            return False
        self._linked(segment_id=segment_id, sequence_id=sequence_id, actor=actor, at=at)
        return True

    @event("Linked")
    def _linked(self, segment_id: str, sequence_id: UUID, actor: str, at: datetime) -> None:
        self.by_segment.setdefault(segment_id, []).append(str(sequence_id))

    def unlink(self, segment_id: str, sequence_id: UUID, actor: str, at: datetime) -> bool:
        if str(sequence_id) not in self.by_segment.get(segment_id, []):
            return False
        self._unlinked(segment_id=segment_id, sequence_id=sequence_id, actor=actor, at=at)
        return True

    @event("Unlinked")
    def _unlinked(self, segment_id: str, sequence_id: UUID, actor: str, at: datetime) -> None:
        remaining = [s for s in self.by_segment.get(segment_id, []) if s != str(sequence_id)]
        if remaining:
            self.by_segment[segment_id] = remaining
        else:
            self.by_segment.pop(segment_id, None)


class SellerCalendar(Aggregate):
    """A seller's time zone, working hours and out-of-office, as assignment published them."""

    @staticmethod
    def create_id(seller_id: str, **_: Any) -> UUID:
        return seller_calendar_id(seller_id)

    @event("Created")
    def __init__(self, seller_id: str) -> None:
        self.seller_id = seller_id
        self.profile: dict[str, Any] = {}
        self.source_version = 0

    def update(self, profile: dict[str, Any], source_version: int) -> bool:
        """Take assignment's profile at `source_version` (an older or repeated one changes nothing)."""
        if source_version <= self.source_version:
            return False
        self._updated(profile=profile, source_version=source_version)
        return True

    @event("Updated")
    def _updated(self, profile: dict[str, Any], source_version: int) -> None:
        self.profile, self.source_version = dict(profile), source_version


def calendar_from(profile: dict[str, Any], holidays: list[dict[str, Any]]) -> BusinessCalendar:
    """A seller's calendar from its copied profile (empty: not heard of yet, the default) with the
    organisation's holidays."""
    if not profile:
        return DEFAULT_CALENDAR.with_holidays(HolidaySet.from_data(holidays).holidays)
    return BusinessCalendar.from_data(
        time_zone=profile.get("time_zone") or "UTC",
        working_hours=profile.get("working_hours") or None,
        holidays=holidays,
        out_of_office=profile.get("out_of_office") or [],
    )
