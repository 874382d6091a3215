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

Aggregates come from the cache as they are, not copied (a deep copy of every aggregate a
batch touches costs more than the rest of the batch): a unit of work that fails must `forget`
what it changed, which evicts those aggregates from the cache so the next read comes from the
store. Used as a context manager it commits on success and forgets on any error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Recording, Tracking

from . import telemetry
from .store import InboxKey, ParkedMessage, ServiceApplication, replay

A = TypeVar("A")


class UnitOfWork:
    def __init__(self, app: ServiceApplication, tracking: Tracking | None = None) -> None:
        self.app = app
        self.tracking = tracking
        self._loaded: dict[UUID, Any] = {}
        self._changed: dict[UUID, Any] = {}
        self._dirty: dict[UUID, Any] = {}
        self._events: list[DomainEventProtocol[UUID]] = []
        self.inbox: dict[InboxKey, int] = {}
        self.parked: list[ParkedMessage] = []
        self.unparked: list[tuple[str, UUID, int]] = []
        self.erased: list[UUID] = []
        """Data subjects whose keys this unit destroys (leadflow_shared.personal)."""
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
                self._loaded[aggregate_id] = self.app.repository.get(aggregate_id, deepcopy_from_cache=False)
            except AggregateNotFoundError:
                self._loaded[aggregate_id] = None
        return self._loaded[aggregate_id]

    def require(self, aggregate_id: UUID, not_found: Callable[[], Exception]) -> Any:
        aggregate = self.get(aggregate_id)
        if aggregate is None:
            raise not_found()
        return aggregate

    def preload(self, aggregate_ids: Iterable[UUID]) -> None:
        """Load these aggregates (and learn which do not exist yet) with one query for all of
        them, instead of one per aggregate when the use cases ask. Cached ones are left to the
        cache."""
        unknown = [i for i in dict.fromkeys(aggregate_ids) if i not in self._loaded]
        cache = self.app.repository.cache
        if cache is not None:
            unknown = [i for i in unknown if not _cached(cache, i)]
        if not unknown:
            return
        repository = self.app.repository
        if repository.snapshot_store is not None:
            # A stream that may have a snapshot (it reached the shortest snapshot interval) is
            # left to the repository, which starts from its latest snapshot; the others, most
            # of them, still load with one query for all.
            intervals = self.app.snapshotting_intervals
            if not intervals:
                for aggregate_id in set(unknown) - self.app.recorder.existing(unknown):
                    self._loaded[aggregate_id] = None
                return
            long = self.app.recorder.existing(unknown, version=min(intervals.values()))
            unknown = [i for i in unknown if i not in long]
            if not unknown:
                return
        stored = self.app.recorder.events_of(unknown)
        to_domain_event = self.app.mapper.to_domain_event
        for aggregate_id in unknown:
            events = stored.get(aggregate_id)
            self._loaded[aggregate_id] = replay(None, [to_domain_event(e) for e in events]) if events else None

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
            self._dirty[aggregate.id] = aggregate

    def flush(self) -> None:
        """Collect the pending events of the aggregates added since the last flush, in the order
        they happened (a use case adds an aggregate when it changes it)."""
        start = len(self._events)
        for aggregate in self._dirty.values():
            self._events.extend(aggregate.collect_events())
        self._dirty.clear()
        if len(self._events) > start:
            telemetry.stamp(self._events, start)  # the trace they were made in goes with them

    @property
    def touched(self) -> Iterable[UUID]:
        return self._changed.keys()

    @property
    def has_changes(self) -> bool:
        return bool(self._events or self.inbox or self.parked or self.unparked or self.tracking or self.erased)

    def erase_personal_data(self, subject: UUID) -> None:
        """Destroy the subject's data key when this unit commits: its personal data in every stored
        event, snapshot and sealed dead letter becomes unreadable."""
        if subject not in self.erased:
            self.erased.append(subject)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this unit of work is recorded (never if it fails)."""
        self._after_commit.append(callback)

    # -- committing ----------------------------------------------------------------------

    def commit(self) -> list[Recording[UUID]]:
        """Record everything in one transaction. Raises RecordConflictError when another
        writer changed one of the aggregates first (evict and try again)."""
        self._dirty.update(self._changed)  # anything changed but not added again since
        self.flush()
        if not self.has_changes:
            self.committed = True
            for callback in self._after_commit:
                callback()
            return []
        processing = ProcessingEvent[UUID](tracking=self.tracking)
        # Set directly: collect_events checks each event against a runtime protocol (slow).
        processing.events.extend(self._events)
        processing.saved_kwargs.update(inbox=self.inbox, parked=self.parked, unparked=self.unparked, erase=self.erased)
        uncached = self.app.uncached
        processing.aggregates.update((i, a) for i, a in self._changed.items() if not isinstance(a, uncached))
        with telemetry.storing(self.app, len(self._events)):
            self.recordings = self.app.record(processing)
        cache = self.app.repository.cache
        if uncached and cache is not None:
            for aggregate_id, aggregate in self._changed.items():
                if isinstance(aggregate, uncached):
                    with contextlib.suppress(KeyError):
                        cache.get(aggregate_id, evict=True)
        self.committed = True
        for callback in self._after_commit:
            callback()
        return self.recordings

    def forget(self) -> None:
        """After a failure: what this unit changed (cached objects, or stale) leaves the cache."""
        cache = self.app.repository.cache
        if cache is None:
            return
        for aggregate_id in {**self._changed, **self._dirty}:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is not None:
            self.forget()
            return
        try:
            self.commit()
        except BaseException:
            self.forget()
            raise

    @property
    def last_notification_id(self) -> int | None:
        ids = [r.notification.id for r in self.recordings]
        return max(ids) if ids else None


def _cached(cache: Any, aggregate_id: UUID) -> bool:
    try:
        cache.get(aggregate_id)
    except KeyError:
        return False
    return True
