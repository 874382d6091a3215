"""The unit of work: what one transaction of a service records.

A Kafka batch (all messages of one partition in one poll) and an HTTP command use the same
use cases; only the size of their unit of work differs. A use case loads aggregates through
the unit of work and changes them; the caller commits once:

- an identity map: each aggregate is loaded once per unit of work, so several messages for
  the same lead apply in order to the same instance;
- events are collected in the order they happened (`flush` after each message), so the
  stored log replays the way the decisions were made, even across aggregates;
- the commit records every new event, at most one tracking row and the inbox changes in one
  transaction (`ServiceApplication.record`), then snapshots and notifies.

A unit of work that fails is simply dropped: it holds deep copies, so nothing it changed
reaches the aggregate cache or the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import CollectEventsProtocol, DomainEventProtocol
from eventsourcing.persistence import Recording, Tracking

from .store import InboxKey, ParkedMessage, ServiceApplication

A = TypeVar("A")


class UnitOfWork:
    def __init__(self, app: ServiceApplication, tracking: Tracking | None = None) -> None:
        self.app = app
        self.tracking = tracking
        self._loaded: dict[UUID, Any] = {}
        self._changed: dict[UUID, Any] = {}
        self._events: list[DomainEventProtocol[UUID]] = []
        self.inbox: dict[InboxKey, int] = {}
        self.parked: list[ParkedMessage] = []
        self.unparked: list[tuple[str, UUID, int]] = []
        self.recordings: list[Recording[UUID]] = []
        self.committed = False
        self.scratch: dict[str, Any] = {}
        """Use cases keep what they derived within this unit of work here (dropped with it)."""
        self._after_commit: list[Callable[[], None]] = []

    # -- loading -------------------------------------------------------------------------

    def get(self, aggregate_id: UUID) -> Any | None:
        """The aggregate, loaded once per unit of work (None if it does not exist)."""
        if aggregate_id not in self._loaded:
            try:
                self._loaded[aggregate_id] = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                self._loaded[aggregate_id] = None
        return self._loaded[aggregate_id]

    def require(self, aggregate_id: UUID, not_found: Callable[[], Exception]) -> Any:
        aggregate = self.get(aggregate_id)
        if aggregate is None:
            raise not_found()
        return aggregate

    def get_as(self, cls: type[A], aggregate_id: UUID) -> A | None:
        return cast("A | None", self.get(aggregate_id))

    def knows(self, aggregate_id: UUID) -> bool:
        return self._loaded.get(aggregate_id) is not None

    # -- changing ------------------------------------------------------------------------

    def add(self, *aggregates: Any) -> None:
        """New aggregates, or loaded ones that changed: their events go into this unit."""
        for aggregate in aggregates:
            if aggregate is None:
                continue
            self._loaded[aggregate.id] = aggregate
            self._changed[aggregate.id] = aggregate

    def flush(self) -> None:
        """Collect the pending events of every changed aggregate, in the order they happened."""
        for aggregate in self._changed.values():
            if isinstance(aggregate, CollectEventsProtocol):
                self._events.extend(aggregate.collect_events())

    @property
    def touched(self) -> Iterable[UUID]:
        return self._changed.keys()

    @property
    def has_changes(self) -> bool:
        return bool(self._events or self.inbox or self.parked or self.unparked or self.tracking)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this unit of work is recorded (never if it fails)."""
        self._after_commit.append(callback)

    # -- committing ----------------------------------------------------------------------

    def commit(self) -> list[Recording[UUID]]:
        """Record everything in one transaction. Raises RecordConflictError when another
        writer changed one of the aggregates first (evict and try again)."""
        self.flush()
        if not self.has_changes:
            self.committed = True
            for callback in self._after_commit:
                callback()
            return []
        processing = ProcessingEvent[UUID](tracking=self.tracking)
        processing.collect_events(*self._events, inbox=self.inbox, parked=self.parked, unparked=self.unparked)
        processing.aggregates.update(self._changed)
        self.recordings = self.app.record(processing)
        self.committed = True
        for callback in self._after_commit:
            callback()
        return self.recordings

    def forget(self) -> None:
        """After a failed commit: the aggregates this unit changed may be stale in the cache."""
        cache = self.app.repository.cache
        if cache is None:
            return
        for aggregate_id in self._changed:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    @property
    def last_notification_id(self) -> int | None:
        ids = [r.notification.id for r in self.recordings]
        return max(ids) if ids else None
