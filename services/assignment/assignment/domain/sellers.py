"""Sellers and teams. A seller's stream holds its profile, how many open leads it holds and its
round-robin state, so taking a lead is an optimistic-concurrency write on that one stream: two
processes that both pick the last free slot of a seller cannot both succeed.

Which leads a seller holds is each lead's Assignment's business; the seller keeps the count,
so a seller's state stays small however many leads it has had."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from leadflow_shared.calendars import NO_HOLIDAYS, HolidaySet

from .holidays import ORGANISATION_HOLIDAYS, check_list_id
from .schedule import Week, check_out_of_office, check_working_hours, week_intervals, zone

ROSTER_ID = uuid5(NAMESPACE_URL, "leadflow:assignment:roster")

PROFILE_DEFAULTS: dict[str, Any] = {
    "name": "",
    "time_zone": "UTC",
    "working_hours": {},
    "out_of_office": [],
    "capacity": None,
    "languages": [],
    "territories": [],
    "product_lines": [],
    "tags": [],
    "active": True,
    "accepts_assignments": True,
    "holiday_list": ORGANISATION_HOLIDAYS,
}
"""A seller's profile fields and their defaults: no working hours means always working,
no capacity means no limit on open leads, the organisation's holiday list applies (null: none)."""


class SellerError(Exception):
    """A seller command broke a rule."""


class SellerOverCapacity(SellerError):
    def __init__(self, seller_id: str, capacity: int) -> None:
        super().__init__(f"seller {seller_id} already holds {capacity} open leads (capacity)")


class SellerNotTakingLeads(SellerError):
    pass


class InvalidProfile(SellerError, ValueError):
    pass


class SellerDeleted(SellerNotTakingLeads):
    """A deleted seller takes no lead at all (by hand neither)."""

    def __init__(self, seller_id: str) -> None:
        super().__init__(f"seller {seller_id} was deleted: a deleted seller takes no leads and their id is not reused")


class StillInUse(SellerError):
    """A seller or team still in use (named by the active rule set, holding open leads) cannot go."""


class SellerStillOwnsLeads(StillInUse):
    def __init__(self, seller_id: str, open_leads: int) -> None:
        super().__init__(
            f"seller {seller_id} still owns {open_leads} open lead(s): reassign them first "
            "(POST /v1/leads/{id}/assignment); deactivating the seller stops new ones meanwhile"
        )
        self.open_leads = open_leads


@cache
def seller_uuid(seller_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"leadflow:assignment:seller:{seller_id}")


_LISTS = ("languages", "territories", "product_lines", "tags")
_FLAGS = ("active", "accepts_assignments")


def check_profile(changes: dict[str, Any]) -> None:
    """Refuse anything that could not be used by a decision later: unknown fields, a null or
    wrongly typed value, a time zone, working hours or out-of-office range that cannot be read."""
    unknown = set(changes) - set(PROFILE_DEFAULTS)
    if unknown:
        raise InvalidProfile(f"unknown seller fields: {', '.join(sorted(unknown))}")
    for name in _LISTS:
        if name in changes and (
            not isinstance(changes[name], list) or not all(isinstance(v, str) for v in changes[name])
        ):
            raise InvalidProfile(f"{name} is a list of texts (send [] for none, not null)")
    for name in _FLAGS:
        if name in changes and not isinstance(changes[name], bool):
            raise InvalidProfile(f"{name} is true or false")
    if "holiday_list" in changes and changes["holiday_list"] is not None:
        try:
            check_list_id(changes["holiday_list"])
        except ValueError as exc:
            raise InvalidProfile(f"holiday_list: {exc}") from None
    if "name" in changes and not isinstance(changes["name"], str):
        raise InvalidProfile("name is a text")
    if "working_hours" in changes and not isinstance(changes["working_hours"], dict):
        raise InvalidProfile("working_hours is an object of days (send {} for always working, not null)")
    if "out_of_office" in changes and not isinstance(changes["out_of_office"], list):
        raise InvalidProfile("out_of_office is a list of ranges (send [] for none, not null)")
    try:
        if "time_zone" in changes:
            if not isinstance(changes["time_zone"], str):
                raise InvalidProfile("time_zone is an IANA time zone name")
            zone(changes["time_zone"])
        check_working_hours(changes.get("working_hours"))
        check_out_of_office(changes.get("out_of_office", []))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidProfile(str(exc)) from None
    capacity = changes.get("capacity")
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0):
        raise InvalidProfile("capacity is a whole number ≥ 0, or null for no limit")


@dataclass(frozen=True)
class SellerState:
    """What the assignment engine reads of a seller: a value, so decisions stay pure."""

    seller_id: str
    name: str
    join_index: int
    teams: tuple[str, ...]
    time_zone: str
    working_hours: dict[str, Any]
    out_of_office: tuple[dict[str, Any], ...]
    capacity: int | None
    open_count: int
    languages: tuple[str, ...]
    territories: tuple[str, ...]
    product_lines: tuple[str, ...]
    tags: tuple[str, ...]
    active: bool
    accepts_assignments: bool
    last_assigned_at: datetime | None
    last_turn: int
    extra: dict[str, Any] = field(default_factory=dict)
    week: Week = ()
    """`working_hours` as minutes of the week, read once per seller version (the hot path)."""
    holiday_list: str | None = None
    holidays: HolidaySet = NO_HOLIDAYS
    """The days off of the holiday list the seller follows, as that list stands."""

    @cached_property
    def last_assigned_iso(self) -> str | None:
        return self.last_assigned_at.isoformat() if self.last_assigned_at else None

    def field(self, name: str) -> Any:
        """A seller field as seller conditions read it."""
        if name in ("seller_id", "name", "time_zone", "capacity", "active", "accepts_assignments", "holiday_list"):
            return getattr(self, name)
        if name in ("languages", "territories", "product_lines", "tags", "teams"):
            return list(getattr(self, name))
        if name == "open_leads":
            return self.open_count
        return self.extra.get(name.removeprefix("attributes."))


class Seller(Aggregate):
    """One seller: profile, how many open leads, and when they last got a lead (round robin)."""

    @staticmethod
    def create_id(seller_id: str, **_: Any) -> UUID:
        return seller_uuid(seller_id)

    @event("Registered")
    def __init__(self, seller_id: str, profile: dict[str, Any]) -> None:
        self.seller_id = seller_id
        self.profile: dict[str, Any] = {**PROFILE_DEFAULTS, **profile}
        self.open_count = 0
        self.last_assigned_at: datetime | None = None
        self.last_turn = 0
        self.assigned_total = 0

    def change_profile(self, changes: dict[str, Any]) -> None:
        self.check_not_deleted()
        check_profile(changes)
        changed = {k: v for k, v in changes.items() if self.profile.get(k) != v}
        if changed:
            self._profile_changed(changed)

    @event("ProfileChanged")
    def _profile_changed(self, changes: dict[str, Any]) -> None:
        self.profile.update(changes)

    def take_lead(self, lead_id: str, at: datetime, turn: int, *, manual: bool) -> None:
        """Record that this seller got a lead. Automatic decisions respect capacity; a person
        assigning by hand may go over it. Both count as this seller's turn in round robin.
        The lead's Assignment makes sure a seller is given a lead it does not hold already.
        A deleted seller gets none, not even by hand."""
        self.check_not_deleted()
        if not manual:
            self.check_takes_assignments()
            self.check_has_capacity()
        self._lead_taken(lead_id, at, turn, manual)

    @property
    def deleted(self) -> bool:
        return getattr(self, "deleted_at", None) is not None

    def check_not_deleted(self) -> None:
        if self.deleted:
            raise SellerDeleted(self.seller_id)

    def delete(self, at: datetime) -> None:
        """The seller goes from the roster for good; their stream (and every decision naming
        them) stays. Refused while they own open leads: those are reassigned first."""
        self.check_not_deleted()
        if self.open_count > 0:
            raise SellerStillOwnsLeads(self.seller_id, self.open_count)
        self._deleted(at)

    @event("Deleted")
    def _deleted(self, at: datetime) -> None:
        self.deleted_at: datetime | None = at

    def check_takes_assignments(self) -> None:
        self.check_not_deleted()
        if not (self.profile["active"] and self.profile["accepts_assignments"]):
            raise SellerNotTakingLeads(f"seller {self.seller_id} is inactive or does not accept assignments")

    def check_has_capacity(self) -> None:
        capacity = self.profile["capacity"]
        if capacity is not None and self.open_count >= capacity:
            raise SellerOverCapacity(self.seller_id, capacity)

    @event("LeadTaken")
    def _lead_taken(self, lead_id: str, at: datetime, turn: int, manual: bool) -> None:
        self.open_count += 1
        self.last_assigned_at = at
        self.last_turn = max(self.last_turn, turn)
        self.assigned_total += 1

    def release_lead(self, lead_id: str, reason: str) -> None:
        """The lead this seller held was recycled, reassigned or closed."""
        self._lead_released(lead_id, reason)

    @event("LeadReleased")
    def _lead_released(self, lead_id: str, reason: str) -> None:
        self.open_count = max(0, self.open_count - 1)

    @property
    def holiday_list(self) -> str | None:
        """The holiday list this seller follows (profiles stored before lists existed: the organisation's)."""
        return self.profile.get("holiday_list", ORGANISATION_HOLIDAYS)  # type: ignore[no-any-return]

    def state(self, join_index: int, teams: tuple[str, ...], holidays: HolidaySet = NO_HOLIDAYS) -> SellerState:
        p = self.profile
        return SellerState(
            seller_id=self.seller_id,
            name=p["name"],
            join_index=join_index,
            teams=teams,
            time_zone=p["time_zone"],
            working_hours=p["working_hours"],
            out_of_office=tuple(p["out_of_office"]),
            capacity=p["capacity"],
            open_count=self.open_count,
            languages=tuple(p["languages"]),
            territories=tuple(p["territories"]),
            product_lines=tuple(p["product_lines"]),
            tags=tuple(p["tags"]),
            active=p["active"],
            accepts_assignments=p["accepts_assignments"],
            last_assigned_at=self.last_assigned_at,
            last_turn=self.last_turn,
            week=week_intervals(p["working_hours"]),
            holiday_list=self.holiday_list,
            holidays=holidays,
        )


class UnknownTeam(LookupError):
    pass


MEMBERS_PER_EVENT = 500
"""Team membership changes are recorded in events of at most this many sellers, so an event
stays small whatever the team's size."""


class Roster(Aggregate):
    """Which sellers exist (in the order they joined) and the teams they form.

    Besides the recorded state (`order`, `teams`), it keeps indexes derived from the same events
    (who is known, which teams a seller is in), so membership questions cost the same for a
    team of 10 as for a team of 10,000.
    """

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return ROSTER_ID

    @event("Opened")
    def __init__(self) -> None:
        self.order: list[str] = []
        self.teams: dict[str, dict[str, Any]] = {}
        self._known: set[str] = set()
        self._teams_of: dict[str, list[str]] = {}

    def has_seller(self, seller_id: str) -> bool:
        return seller_id in self._known

    @event("SellerJoined")
    def add_seller(self, seller_id: str) -> None:
        self.order.append(seller_id)
        self._known.add(seller_id)

    def remove_seller(self, seller_id: str) -> None:
        """A deleted seller leaves every team (published, so others drop them too), then the roster."""
        for team_id in self.teams_of(seller_id):
            self._members_removed(team_id, [seller_id])
        if seller_id in self._known:
            self._seller_left(seller_id)

    @event("SellerLeft")
    def _seller_left(self, seller_id: str) -> None:
        self.order.remove(seller_id)
        self._known.discard(seller_id)

    def define_team(self, team_id: str, name: str, members: list[str]) -> None:
        """The team is named `name` and holds exactly `members` (in that order) from now on."""
        self.check_members_known(members)
        wanted = list(dict.fromkeys(members))
        current = self.teams.get(team_id)
        if current is None or current["name"] != name:
            self._team_named(team_id, name)
        present = set(self.teams[team_id]["members"])
        wanted_set = set(wanted)
        removed = [m for m in self.teams[team_id]["members"] if m not in wanted_set]
        added = [m for m in wanted if m not in present]
        for start in range(0, len(removed), MEMBERS_PER_EVENT):
            self._members_removed(team_id, removed[start : start + MEMBERS_PER_EVENT])
        for start in range(0, len(added), MEMBERS_PER_EVENT):
            self._members_added(team_id, added[start : start + MEMBERS_PER_EVENT])

    def remove_team(self, team_id: str) -> None:
        """The members leave the team (published as membership changes), then the team goes."""
        members = self.team_members(team_id)
        for start in range(0, len(members), MEMBERS_PER_EVENT):
            self._members_removed(team_id, members[start : start + MEMBERS_PER_EVENT])
        self._team_removed(team_id)

    @event("TeamRemoved")
    def _team_removed(self, team_id: str) -> None:
        for member in self.teams.pop(team_id)["members"]:
            self._teams_of[member].remove(team_id)

    def check_members_known(self, members: list[str]) -> None:
        unknown = [m for m in members if m not in self._known]
        if unknown:
            raise UnknownTeam(f"unknown sellers: {', '.join(unknown[:20])}")

    @event("TeamDefined")
    def _team_defined(self, team_id: str, name: str, members: list[str]) -> None:
        """Recorded before Spine v2: a team and its whole member list in one event."""
        for member in self.teams.get(team_id, {}).get("members", []):
            self._teams_of[member].remove(team_id)
        self.teams[team_id] = {"name": name, "members": []}
        self._add_members(team_id, members)

    @event("TeamNamed")
    def _team_named(self, team_id: str, name: str) -> None:
        team = self.teams.setdefault(team_id, {"name": name, "members": []})
        team["name"] = name

    @event("MembersAdded")
    def _members_added(self, team_id: str, sellers: list[str]) -> None:
        self._add_members(team_id, sellers)

    @event("MembersRemoved")
    def _members_removed(self, team_id: str, sellers: list[str]) -> None:
        gone = set(sellers)
        self.teams[team_id]["members"] = [m for m in self.teams[team_id]["members"] if m not in gone]
        for member in gone:
            self._teams_of[member].remove(team_id)

    def _add_members(self, team_id: str, sellers: list[str]) -> None:
        for member in sellers:
            self.teams[team_id]["members"].append(member)
            self._teams_of.setdefault(member, []).append(team_id)

    def join_teams(self, seller_id: str, team_ids: list[str]) -> None:
        for team_id in team_ids:
            if team_id not in self.teams:
                self._team_named(team_id, team_id)
            if team_id not in self._teams_of.get(seller_id, []):
                self._members_added(team_id, [seller_id])

    def teams_of(self, seller_id: str) -> tuple[str, ...]:
        return tuple(self._teams_of.get(seller_id, ()))

    def team_members(self, team_id: str) -> list[str]:
        if team_id not in self.teams:
            raise UnknownTeam(f"unknown team {team_id}")
        return list(self.teams[team_id]["members"])
