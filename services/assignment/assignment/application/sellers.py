"""The engine's view of every seller, kept in memory and updated as sellers change.

A decision reads every seller in scope, so their states are kept ready: built once when the
service starts, then updated for just the sellers (or the roster) a committed unit of work
changed. Inside a unit of work, sellers it has already changed (a batch of leads taking turns)
are read from the unit itself, so the next lead of the same batch sees the previous one's
effect. When other processes share the store (PostgreSQL), the log since the last look is read
before each unit of work and the sellers it names are reloaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from leadflow_shared.moves import stored_topics
from leadflow_shared.store import ServiceApplication
from leadflow_shared.unit_of_work import UnitOfWork

from ..domain import HOLIDAYS_ID, HolidayLists, Roster, Seller, SellerState, seller_uuid
from ..domain.sellers import ROSTER_ID

SellerEvent: Any = Seller
RosterEvent: Any = Roster
HolidaysEvent: Any = HolidayLists

_CHANGED = "changed sellers"

SELLER_AND_ROSTER_EVENTS: tuple[type[Any], ...] = (
    SellerEvent.Registered,
    SellerEvent.ProfileChanged,
    SellerEvent.LeadTaken,
    SellerEvent.LeadReleased,
    SellerEvent.Deleted,
    RosterEvent.Opened,
    RosterEvent.SellerJoined,
    RosterEvent.SellerLeft,
    RosterEvent.TeamDefined,
    RosterEvent.TeamNamed,
    RosterEvent.MembersAdded,
    RosterEvent.MembersRemoved,
    RosterEvent.TeamRemoved,
    HolidaysEvent.Opened,
    HolidaysEvent.ListDefined,
    HolidaysEvent.ListRemoved,
)
"""Everything that changes what the engine reads of a seller (holiday lists included)."""


class SellerNotFound(LookupError):
    def __init__(self, seller_id: str, *, deleted: bool = False) -> None:
        super().__init__(f"seller {seller_id} was deleted" if deleted else f"no seller {seller_id}")
        self.seller_id = seller_id


class SellerViews:
    def __init__(self, app: ServiceApplication, *, shared_store: bool) -> None:
        self._app = app
        self._shared_store = shared_store
        self._states: dict[str, SellerState] = {}
        self._roster: Roster = Roster()
        self._holidays: HolidayLists = HolidayLists()
        self._join_index: dict[str, int] = {}
        self._topics = stored_topics(SELLER_AND_ROSTER_EVENTS)
        self._seen = 0
        self._own: set[int] = set()
        self.problems: dict[str, str] = {}
        """Sellers whose stored profile cannot be read (written before profiles were checked):
        left out of decisions and named by /readyz until an admin corrects them."""
        self.reload()

    # -- reading ---------------------------------------------------------------------------

    @property
    def roster(self) -> Roster:
        return self._roster

    def states(self, uow: UnitOfWork | None = None) -> list[SellerState]:
        """Every seller in the order they joined, as changed so far by `uow`."""
        changed: dict[str, Seller] = uow.scratch.get(_CHANGED, {}) if uow is not None else {}
        if not changed:
            return [self._states[s] for s in self._roster.order if s in self._states]
        fresh: dict[str, tuple[int, SellerState]] = uow.scratch.setdefault("seller states", {})  # type: ignore[union-attr]
        overlay = {}
        for seller_id, seller in changed.items():
            known = fresh.get(seller_id)
            if known is None or known[0] != seller.version:
                if seller_id in self.problems:
                    continue  # unreadable profile: left out (see `problems`)
                known = fresh[seller_id] = (seller.version, self._state_of(seller))
            overlay[seller_id] = known[1]
        return [overlay.get(s) or self._states[s] for s in self._roster.order if s in self._states or s in overlay]

    def state(self, seller_id: str) -> SellerState:
        try:
            return self._states[seller_id]
        except KeyError:
            raise SellerNotFound(seller_id) from None

    def teams(self) -> dict[str, list[str]]:
        return {team_id: team["members"] for team_id, team in self._roster.teams.items()}

    @property
    def holiday_lists(self) -> HolidayLists:
        return self._holidays

    # -- changing through a unit of work --------------------------------------------------------

    def seller_to_change(self, uow: UnitOfWork, seller_id: str) -> Seller:
        """The seller as loaded by this unit of work (once), to give a command to."""
        changed = uow.scratch.setdefault(_CHANGED, {})
        if seller_id not in changed:
            seller = uow.get(seller_uuid(seller_id))
            if seller is None:
                raise SellerNotFound(seller_id)
            changed[seller_id] = seller
            uow.after_commit(lambda: self._update(seller))
            self._remember_own_writes(uow)
        uow.add(changed[seller_id])  # about to change: its events go into this unit
        return changed[seller_id]  # type: ignore[no-any-return]

    def holidays_changed(self, uow: UnitOfWork, lists: HolidayLists) -> None:
        uow.after_commit(lambda: self._set_holidays(lists))
        self._remember_own_writes(uow)

    def roster_changed(self, uow: UnitOfWork, roster: Roster) -> None:
        uow.after_commit(lambda: self._set_roster(roster))
        self._remember_own_writes(uow)

    def seller_created(self, uow: UnitOfWork, seller: Seller) -> None:
        uow.scratch.setdefault(_CHANGED, {})[seller.seller_id] = seller
        uow.after_commit(lambda: self._update(seller))
        self._remember_own_writes(uow)

    def _remember_own_writes(self, uow: UnitOfWork) -> None:
        """What this process commits is in the views already: `catch_up` need not reload it."""
        if self._shared_store and not uow.scratch.get("own writes noted"):
            uow.scratch["own writes noted"] = True
            uow.after_commit(lambda: self._own.update(r.notification.id for r in uow.recordings))

    # -- keeping up ------------------------------------------------------------------------

    def reload(self) -> None:
        """Build every state from the store (at start, and after a conflict)."""
        self._seen = self._app.recorder.max_notification_id() or 0
        roster = self._load(ROSTER_ID)
        self._roster = roster if roster is not None else Roster()
        lists = self._load(HOLIDAYS_ID)
        self._holidays = lists if lists is not None else HolidayLists()
        self._join_index = {s: i for i, s in enumerate(self._roster.order)}
        self._states = {}
        for seller_id in self._roster.order:
            seller = self._load(seller_uuid(seller_id))
            if seller is not None:
                self._update(seller)

    def catch_up(self, uow: UnitOfWork | None = None) -> None:
        """Other processes share the store: reload what they changed since the last look
        (once per unit of work)."""
        if not self._shared_store:
            return
        if uow is not None:
            if uow.scratch.get("sellers caught up"):
                return
            uow.scratch["sellers caught up"] = True
        recorder = self._app.recorder
        newest = recorder.max_notification_id() or 0
        if newest <= self._seen:
            return
        changed: set[UUID] = set()
        while self._seen < newest:
            notifications = recorder.select_notifications(self._seen + 1, 1000, stop=newest, topics=self._topics)
            changed.update(UUID(str(n.originator_id)) for n in notifications if n.id not in self._own)
            self._seen = notifications[-1].id if len(notifications) == 1000 else newest
        self._own = {i for i in self._own if i > self._seen}
        if changed:
            self._reload_changed(changed)

    def _reload_changed(self, changed: Iterable[UUID]) -> None:
        ids = set(changed)
        self._app.fast_forward_cached(ids)  # another process wrote these: bring them up to date
        if ROSTER_ID in ids:
            roster = self._load(ROSTER_ID)
            if roster is not None:
                self._set_roster(roster)
        if HOLIDAYS_ID in ids:
            lists = self._load(HOLIDAYS_ID)
            if lists is not None:
                self._set_holidays(lists)
        by_uuid = {seller_uuid(s): s for s in self._roster.order}
        for aggregate_id in ids:
            if aggregate_id in by_uuid:
                seller = self._load(aggregate_id)
                if seller is not None:
                    self._update(seller)

    def refresh(self, seller: Seller) -> None:
        """The store knows better than this view: take the seller as loaded now."""
        self._update(seller)

    def _update(self, seller: Seller) -> None:
        if seller.deleted:
            self._states.pop(seller.seller_id, None)  # deleted: out of decisions and lists
            self.problems.pop(seller.seller_id, None)
            return
        try:
            self._states[seller.seller_id] = self._state_of(seller)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            self._states.pop(seller.seller_id, None)
            self.problems[seller.seller_id] = (
                f"seller {seller.seller_id} left out of decisions: unreadable profile ({exc})"
            )
        else:
            self.problems.pop(seller.seller_id, None)

    def _set_roster(self, roster: Roster) -> None:
        teams_before = self._roster.teams
        index_before = self._join_index
        self._roster = roster
        self._join_index = {s: i for i, s in enumerate(roster.order)}
        if roster.teams != teams_before:
            for seller_id in list(self._states):
                seller = self._load(seller_uuid(seller_id))
                if seller is not None:
                    self._update(seller)
        elif self._join_index != index_before:
            # A seller left: the others' join order (a round-robin tie-break) is what a replay
            # of the roster gives, so it is taken over here too.
            for seller_id, state in list(self._states.items()):
                index = self._join_index.get(seller_id)
                if index is None:
                    del self._states[seller_id]
                elif index != state.join_index:
                    self._states[seller_id] = replace(state, join_index=index)

    def _set_holidays(self, lists: HolidayLists) -> None:
        """Sellers keep their states; only the days off of those whose list changed are replaced."""
        self._holidays = lists
        for seller_id, state in list(self._states.items()):
            holidays = lists.holidays_of(state.holiday_list)
            if holidays != state.holidays:
                self._states[seller_id] = replace(state, holidays=holidays)

    def _state_of(self, seller: Seller) -> SellerState:
        index = self._join_index.get(seller.seller_id, len(self._join_index))
        holidays = self._holidays.holidays_of(seller.holiday_list)
        return seller.state(index, self._roster.teams_of(seller.seller_id), holidays)

    def _load(self, aggregate_id: UUID) -> Any:
        try:
            return self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
