"""How assignment reads and writes its store when other processes share it.

Sellers, rules and segments are read for every lead, so they stay in the aggregate cache.
Instead of asking the store for newer events of each cached aggregate on every read (100
sellers → 100 queries per decision), `_refresh` reads the notification log once per attempt
and fast-forwards only the aggregates another process changed. Writes that race (two
processes taking the last slot of one seller) fail on the seller stream's version; `_retrying`
forgets what the failed attempt changed and runs the use case again on fresh state.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.persistence import IntegrityError, RecordConflictError, Tracking

from leadflow_shared.store import ServiceApplication

from ..domain import Assignment, Roster, Seller, SellerNotTakingLeads, SellerOverCapacity, SellerState, seller_uuid
from ..domain.sellers import ROSTER_ID

log = logging.getLogger(__name__)
T = TypeVar("T")


class SellerNotFound(LookupError):
    def __init__(self, seller_id: str) -> None:
        super().__init__(f"no seller {seller_id}")
        self.seller_id = seller_id


def seller_states(roster: Roster, get_seller: Callable[[str], Seller]) -> list[SellerState]:
    """Every seller as the engine sees them, in the order they joined."""
    return [get_seller(s).state(i, roster.teams_of(s)) for i, s in enumerate(roster.order)]


def team_map(roster: Roster) -> dict[str, list[str]]:
    return {team_id: team["members"] for team_id, team in roster.teams.items()}


class SharedStoreApplication(ServiceApplication):
    """A ServiceApplication whose hot aggregates stay cached and correct across processes."""

    env = {"AGGREGATE_CACHE_MAXSIZE": "20000", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    max_conflict_retries = 30

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.conflicts_retried = 0
        self._working: dict[str, Seller] = {}
        self._states: dict[str, tuple[int, int, SellerState]] = {}
        self._refreshed_to = self.recorder.max_notification_id() or 0

    def _retrying(self, attempt: Callable[[], T], tracking: Tracking | None = None) -> T:
        for n in range(self.max_conflict_retries + 1):
            self._working = {}
            self._refresh()
            try:
                return attempt()
            except (RecordConflictError, IntegrityError, SellerOverCapacity, SellerNotTakingLeads):
                self._forget_working()
                # Another process wrote the same stream first: read again and decide again.
                if tracking is not None:
                    position = self.recorder.max_tracking_id(tracking.application_name)
                    if position is not None and position >= tracking.notification_id:
                        return None  # type: ignore[return-value]  # that message is done already
                if n == self.max_conflict_retries:
                    raise
                self.conflicts_retried += 1
                log.info("version conflict; retrying (attempt %s)", n + 1)
                time.sleep(0.002 * (n + 1))
            except BaseException:
                self._forget_working()
                raise
            finally:
                self._working = {}
        raise AssertionError("unreachable")

    def _forget_working(self) -> None:
        """Sellers are commanded in place (no copy: they are big and hot); after a failed attempt
        the changed instances leave the cache, so the next read comes from the store."""
        cache = self.repository.cache
        for seller_id in self._working:
            self._states.pop(seller_id, None)
            if cache is not None:
                with contextlib.suppress(KeyError):
                    cache.get(seller_uuid(seller_id), evict=True)
        self._working = {}

    def _find(self, lead_id: UUID) -> Assignment | None:
        try:
            return self.repository.get(lead_id)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return None

    def _find_seller(self, seller_id: str) -> Seller | None:
        """A seller to give a command to within an attempt of `_retrying`: one instance shared by
        everything the attempt does (a release and a take of the same seller build on each
        other), forgotten by the cache if the attempt fails."""
        if seller_id in self._working:
            return self._working[seller_id]
        try:
            seller: Seller = self.repository.get(seller_uuid(seller_id), deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None
        self._working[seller_id] = seller
        return seller

    def _read_seller(self, seller_id: str, copy: bool = False) -> Seller:
        """A seller to read (straight from the cache: ~100 of these per decision), or to
        command (`copy`: see `_find_seller`)."""
        if copy or seller_id in self._working:
            seller = self._find_seller(seller_id)
            if seller is None:
                raise SellerNotFound(seller_id)
            return seller
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                return cast("Seller", cache.get(seller_uuid(seller_id)))
        return self.repository.get(seller_uuid(seller_id), deepcopy_from_cache=False)  # type: ignore[no-any-return]

    def _roster(self) -> Roster:
        return self._singleton(ROSTER_ID, Roster)

    def _singleton(self, aggregate_id: UUID, cls: type[T], *, copy: bool = True) -> T:
        try:
            return self.repository.get(aggregate_id, deepcopy_from_cache=copy)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return cls()

    def _refresh(self) -> None:
        """Catch up with writes made by other processes sharing the store: read the notification
        log since the last look and fast-forward the cached aggregates it names."""
        cache = self.repository.cache
        while cache is not None:
            notifications = self.recorder.select_notifications(self._refreshed_to + 1, 1000)
            for notification in notifications:
                self._refreshed_to = notification.id
                originator_id = UUID(str(notification.originator_id))
                try:
                    cached = cache.get(originator_id)
                except KeyError:
                    continue
                if cached.version < notification.originator_version:
                    newer = self.repository.event_store.get(originator_id, gt=cached.version)
                    cache.put(originator_id, project_aggregate(cached, newer))
            if len(notifications) < 1000:
                return

    def _seller_states(self, roster: Roster) -> list[SellerState]:
        """The engine's view of every seller, rebuilt only for sellers (or teams) that changed."""
        states = []
        for index, seller_id in enumerate(roster.order):
            seller = self._read_seller(seller_id)
            cached = self._states.get(seller_id)
            if cached is not None and cached[0] == seller.version and cached[1] == roster.version:
                state = cached[2]
            else:
                state = seller.state(index, roster.teams_of(seller_id))
                if seller_id not in self._working:
                    self._states[seller_id] = (seller.version, roster.version, state)
            states.append(state)
        return states
