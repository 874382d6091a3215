"""Read models off the commit path: one batched projection runner for every service.

A Projection names the event classes it reads and applies a batch of them to its tables in
a read-store transaction. The runner follows the notification log after the projection's
stored position (filtered in the database to those classes), applies each batch and moves
the position in the same transaction, so a crash keeps the whole batch or none of it. Two
runners on one store (two processes on PostgreSQL) serialise on the position row.

Commits only nudge the runner (`listener`); it catches up on its own thread. An HTTP read
that must see a command's effect waits for the position to reach the command's notification
id (`wait_for`). Every projection can be dropped and rebuilt from the log (`rebuild`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Recording

from .health import Health
from .moves import stored_topics
from .readstore import ReadStore, Tx
from .store import ServiceApplication

log = logging.getLogger(__name__)

POSITIONS = "leadflow_projection_positions"


class Projection(Protocol):
    name: str
    """Its row in the positions table; also how it is named in logs and /readyz."""
    event_classes: Sequence[type[Any]]
    """Domain event classes it reads (others are filtered out in the database)."""

    def create(self, tx: Tx) -> None: ...

    def drop(self, tx: Tx) -> None: ...

    def apply(self, tx: Tx, events: Sequence[Any]) -> None: ...

    def counts(self, tx: Tx) -> dict[str, int]: ...


class ProjectionRunner:
    """Keeps one projection up to date with one application's event store (a BackgroundJob)."""

    def __init__(
        self,
        app: ServiceApplication,
        store: ReadStore,
        projection: Projection,
        *,
        health: Health | None = None,
        batch_size: int = 1000,
        poll_seconds: float = 1.0,
        stuck_after_failures: int = 3,
    ) -> None:
        self.app = app
        self.store = store
        self.projection = projection
        self.health = health or Health()
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stuck_after_failures = stuck_after_failures
        self.name = f"projection {projection.name}"
        self._topics = stored_topics(projection.event_classes)
        self._topic_set = frozenset(self._topics)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._caught_up = asyncio.Condition()
        self._lock = threading.Lock()
        self.known_position = 0
        self.failures = 0
        with store.transaction(write=True) as tx:
            tx.lock_schema()
            tx.execute(f"CREATE TABLE IF NOT EXISTS {POSITIONS} (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
            tx.execute(
                f"INSERT INTO {POSITIONS} (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
                (projection.name,),
            )
            projection.create(tx)
        self.known_position = self.position()

    # -- following the log ----------------------------------------------------------------

    def position(self) -> int:
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(f"SELECT position FROM {POSITIONS} WHERE name = ?", (self.projection.name,))
        return int(found[0]) if found else 0

    def catch_up(self, *, lock_timeout: float = 10.0) -> int:
        """Apply everything stored so far after the position; returns how many events were applied."""
        total = 0
        with self._lock:  # one catch-up at a time per process; the row lock covers processes
            while True:
                with self.store.transaction(write=True, lock_timeout=lock_timeout) as tx:
                    found = tx.fetchone(
                        f"SELECT position FROM {POSITIONS} WHERE name = ?{tx.for_update}", (self.projection.name,)
                    )
                    position = int(found[0]) if found else 0
                    newest = self.app.recorder.max_notification_id() or 0
                    if newest <= position:
                        self.known_position = position
                        return total
                    events, last = self._read(position, newest)
                    if events:
                        self.projection.apply(tx, events)
                    reached = last if len(events) == self.batch_size else newest
                    tx.execute(f"UPDATE {POSITIONS} SET position = ? WHERE name = ?", (reached, self.projection.name))
                self.known_position = reached
                total += len(events)

    def _read(self, position: int, newest: int) -> tuple[list[Any], int]:
        """The next batch after `position` up to `newest`, and the last notification id in it."""
        recent = self.app.recent.read(position, newest, self._topic_set, self.batch_size)
        if recent is not None:  # written by this process: already decoded
            return [event for _, event in recent], (recent[-1][0] if recent else newest)
        notifications = self.app.recorder.select_notifications(
            position + 1, self.batch_size, stop=newest, topics=self._topics
        )
        events = [self.app.mapper.to_domain_event(n) for n in notifications]
        return events, (notifications[-1].id if notifications else newest)

    def listener(self, loop: asyncio.AbstractEventLoop) -> Callable[[list[Recording[UUID]]], None]:
        """For `app.on_recorded`: wake the runner when something it reads was stored."""

        def on_recorded(recordings: list[Recording[UUID]]) -> None:
            if any(r.notification.topic in self._topic_set for r in recordings):
                loop.call_soon_threadsafe(self._wake.set)

        return on_recorded

    async def wait_for(self, notification_id: int | None, timeout: float = 5.0) -> bool:
        """Wait until the projection has applied `notification_id` (read your own writes)."""
        if notification_id is None or self.known_position >= notification_id:
            return True
        self._wake.set()
        deadline = time.monotonic() + timeout
        async with self._caught_up:
            while self.known_position < notification_id:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._caught_up.wait(), remaining)
        return True

    # -- rebuilding -----------------------------------------------------------------------

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Drop and recreate the tables and replay the whole log in one transaction, so readers
        see the old model until the new one is complete. Returns the row counts."""
        target = self.app.recorder.max_notification_id() or 0
        with self._lock, self.store.transaction(write=True, lock_timeout=60.0) as tx:
            self.projection.drop(tx)
            self.projection.create(tx)
            position = 0
            while position < target:
                notifications = self.app.recorder.select_notifications(
                    position + 1, self.batch_size, stop=target, topics=self._topics
                )
                events = [self.app.mapper.to_domain_event(n) for n in notifications]
                if events:
                    self.projection.apply(tx, events)
                position = notifications[-1].id if len(notifications) == self.batch_size else target
                if progress is not None:
                    progress(position, target)
            tx.execute(f"UPDATE {POSITIONS} SET position = ? WHERE name = ?", (position, self.projection.name))
            counts = self.projection.counts(tx)
        self.known_position = position
        return counts

    # -- BackgroundJob --------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    applied = await asyncio.to_thread(self.catch_up)
                    if self.failures:
                        log.info("%s recovered after %s failures", self.name, self.failures)
                        self.failures = 0
                        self.health.clear(self.name)
                    if applied > 5000:
                        log.info("%s caught up: %d events", self.name, applied)
                except Exception as exc:
                    self.failures += 1
                    log.warning(
                        "%s failed (attempt %s): %s", self.name, self.failures, exc, exc_info=self.failures == 1
                    )
                    if self.failures >= self.stuck_after_failures:
                        self.health.report(
                            self.name,
                            f"{self.name} stuck after position {self.known_position}: {type(exc).__name__}: {exc}",
                        )
                async with self._caught_up:
                    self._caught_up.notify_all()
                delay = self.poll_seconds if not self.failures else min(10.0, 0.2 * 2**self.failures)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.catch_up)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def counts(self) -> dict[str, int]:
        with self.store.transaction(write=False) as tx:
            return self.projection.counts(tx)
