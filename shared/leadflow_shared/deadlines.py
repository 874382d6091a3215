"""Durable deadlines: an aggregate records them as events; a runner fires the due ones.

- **In the aggregate** (`HasDeadlines`): `set_deadline(id, due_at, purpose)` and
  `cancel_deadline(id)` record events; `fire_deadline(id, at)` records that it fired and returns
  its purpose — or None, recording nothing, for an unknown, cancelled or already fired deadline.
  So a runner that crashes after firing and fires again changes nothing: exactly once in effect.
- **The index** (`DeadlinesProjection`): open deadlines by due time, in the service's read
  store, kept by the shared projection runner (position stored with the rows).
- **The runner** (`DeadlineRunner`, a background job): one active per store (the relay's
  PostgreSQL lease; a SQLite store has one process). It pages through what is due — oldest
  first, `page_size` at a time, so 100,000 due deadlines never load at once — and fires each page
  as one unit of work through the application (`on_fire` applies the domain effect). Deadlines
  that passed while the service was down fire at start, in due order. `/readyz` names a runner
  that is behind by more than `behind_after_seconds`, and a deadline whose firing keeps failing
  (it is set aside, the others go on).

The clock is injected: tests move it; the runner asks it for "now".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from .clock import Clock, SystemClock
from .consumer import is_infrastructure
from .health import Health
from .lease import PublishLease
from .metrics import ServiceMetrics
from .projection import ProjectionRunner
from .readstore import ReadStore, Tx
from .store import ServiceApplication, StoreWorker
from .unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

TABLE = "leadflow_deadlines"
OPEN, CANCELLED, FIRED = "open", "cancelled", "fired"


class HasDeadlines(Aggregate):
    """Base class of aggregates that keep deadlines (each subclass gets its own event classes:
    `Referral.DeadlineSet`, …)."""

    class DeadlineSet(Aggregate.Event):
        deadline_id: str
        due_at: datetime
        purpose: str

        def apply(self, aggregate: Any) -> None:
            aggregate.__dict__.setdefault("deadlines", {})[self.deadline_id] = {
                "due_at": self.due_at,
                "purpose": self.purpose,
                "state": OPEN,
            }

    class DeadlineCancelled(Aggregate.Event):
        deadline_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.deadline_book()[self.deadline_id]["state"] = CANCELLED

    class DeadlineFired(Aggregate.Event):
        deadline_id: str
        fired_at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.deadline_book()[self.deadline_id]["state"] = FIRED

    def deadline_book(self) -> dict[str, dict[str, Any]]:
        """Every deadline this aggregate ever set: due time, purpose and state (read only; the
        attribute exists once a deadline was set, so aggregates without any keep their state)."""
        book: dict[str, dict[str, Any]] = self.__dict__.get("deadlines", {})
        return book

    def set_deadline(self, deadline_id: str, due_at: datetime, purpose: str) -> None:
        if due_at.tzinfo is None:
            raise ValueError("a deadline's due time carries a time zone")
        if deadline_id in self.deadline_book():
            raise ValueError(f"deadline {deadline_id!r} was already set")
        self.trigger_event(self.DeadlineSet, deadline_id=deadline_id, due_at=due_at.astimezone(UTC), purpose=purpose)

    def cancel_deadline(self, deadline_id: str) -> bool:
        """Cancel an open deadline; False (nothing recorded) if it is not open."""
        if self.deadline_book().get(deadline_id, {}).get("state") != OPEN:
            return False
        self.trigger_event(self.DeadlineCancelled, deadline_id=deadline_id)
        return True

    def fire_deadline(self, deadline_id: str, at: datetime) -> str | None:
        """Record that an open deadline fired and return its purpose; None (nothing recorded)
        for an unknown, cancelled or already fired one."""
        deadline = self.deadline_book().get(deadline_id)
        if deadline is None or deadline["state"] != OPEN:
            return None
        self.trigger_event(self.DeadlineFired, deadline_id=deadline_id, fired_at=at)
        return str(deadline["purpose"])

    def open_deadlines(self) -> dict[str, dict[str, Any]]:
        return {i: d for i, d in self.deadline_book().items() if d["state"] == OPEN}


def _key(instant: datetime) -> str:
    """A due time as fixed-width UTC text: sorts as time does, on SQLite and PostgreSQL alike."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DeadlinesProjection:
    """Open deadlines by due time (a Projection for the shared runner)."""

    name = "deadlines"

    def __init__(self, aggregates: Sequence[type[HasDeadlines]]) -> None:
        self.event_classes: Sequence[type[Any]] = [
            cls for a in aggregates for cls in (a.DeadlineSet, a.DeadlineCancelled, a.DeadlineFired)
        ]
        self._set = tuple(a.DeadlineSet for a in aggregates)

    def create(self, tx: Tx) -> None:
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (aggregate_id TEXT NOT NULL, deadline_id TEXT NOT NULL, "
            "due_at TEXT NOT NULL, purpose TEXT NOT NULL, PRIMARY KEY (aggregate_id, deadline_id))"
        )
        tx.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (due_at)")

    def drop(self, tx: Tx) -> None:
        tx.execute(f"DROP TABLE IF EXISTS {TABLE}")

    def apply(self, tx: Tx, events: Sequence[Any]) -> None:
        for event in events:
            if isinstance(event, self._set):
                tx.execute(
                    f"INSERT INTO {TABLE} (aggregate_id, deadline_id, due_at, purpose) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (aggregate_id, deadline_id) DO UPDATE SET due_at = excluded.due_at, "
                    "purpose = excluded.purpose",
                    (str(event.originator_id), event.deadline_id, _key(event.due_at), event.purpose),
                )
            else:  # cancelled or fired: no longer open
                tx.execute(
                    f"DELETE FROM {TABLE} WHERE aggregate_id = ? AND deadline_id = ?",
                    (str(event.originator_id), event.deadline_id),
                )

    def counts(self, tx: Tx) -> dict[str, int]:
        found = tx.fetchone(f"SELECT COUNT(*) FROM {TABLE}")
        return {"open deadlines": int(found[0]) if found else 0}


@dataclass(frozen=True)
class Due:
    aggregate_id: UUID
    deadline_id: str
    due_at: str
    purpose: str


OnFire = Callable[[UnitOfWork, Any, str, str, datetime], None]
"""`on_fire(uow, aggregate, deadline_id, purpose, at)`: the domain effect of a deadline that just
fired (the aggregate has recorded `DeadlineFired`; add what else changes to the unit of work)."""


class DeadlineRunner:
    """Fires due deadlines through the unit of work (a BackgroundJob)."""

    def __init__(
        self,
        app: ServiceApplication,
        worker: StoreWorker,
        index: ProjectionRunner,
        on_fire: OnFire,
        *,
        clock: Clock | None = None,
        health: Health | None = None,
        lease: PublishLease | None = None,
        page_size: int = 500,
        poll_seconds: float = 0.5,
        behind_after_seconds: float = 60.0,
        give_up_after: int = 3,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.app = app
        self.worker = worker
        self.index = index
        self.on_fire = on_fire
        self.clock = clock or SystemClock()
        self.health = health or Health()
        self.lease = lease
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self.behind_after_seconds = behind_after_seconds
        self.give_up_after = give_up_after
        self.name = "deadline runner"
        metrics = metrics or ServiceMetrics()
        self._due_gauge, self._overdue_gauge = metrics.deadlines_due, metrics.deadlines_overdue
        self.fired = 0
        self.failing: dict[tuple[str, str], tuple[int, str]] = {}
        """(aggregate id, deadline id) → (attempts, last error) of deadlines whose firing failed."""
        self._stopping = asyncio.Event()
        # One thread reads the index (one read-store connection, one page cache), not the pool.
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deadlines")

    @property
    def store(self) -> ReadStore:
        return self.index.store

    # -- one pass -------------------------------------------------------------------------

    def due(self, now: datetime, limit: int) -> list[Due]:
        """The oldest due deadlines (at most `limit`), skipping those set aside as failing."""
        set_aside = [k for k, (attempts, _) in self.failing.items() if attempts >= self.give_up_after]
        with self.store.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT aggregate_id, deadline_id, due_at, purpose FROM {TABLE} WHERE due_at <= ? "
                "ORDER BY due_at, aggregate_id, deadline_id LIMIT ?",
                (_key(now), limit + len(set_aside)),
            )
        skipped = set(set_aside)
        found = [Due(UUID(str(r[0])), str(r[1]), str(r[2]), str(r[3])) for r in rows]
        return [d for d in found if (str(d.aggregate_id), d.deadline_id) not in skipped][:limit]

    def fire_due(self) -> int:
        """Fire everything due now, a page at a time; returns how many fired (synchronously:
        tests, benches; the job does the same steps without holding the store thread)."""
        total = 0
        while not self._stopping.is_set():
            self.index.catch_up()
            now = self.clock.now()
            page = self.due(now, self.page_size)
            if not page:
                return total
            fired, more = self.fire_page(page, now)
            total += fired
            if not more:
                return total
        return total

    async def fire_due_async(self) -> int:
        """`fire_due` for the job: reading the index runs beside the store thread; only firing a
        page (one unit of work) takes it, so consumers never wait behind the index."""
        total = 0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            await loop.run_in_executor(self._reader, self.index.catch_up)
            now = self.clock.now()
            page = await loop.run_in_executor(self._reader, self.due, now, self.page_size)
            if not page:
                return total
            fired, more = await self.worker.call(self.fire_page, page, now)
            total += fired
            if not more:
                return total
        return total

    def fire_page(self, page: list[Due], now: datetime) -> tuple[int, bool]:
        """Fire one page as one unit of work: (how many fired, whether to go on now).

        Store or broker trouble raises (the job retries with back-off and `/readyz` names it).
        A page that fails for one deadline's sake is fired one by one; the culprit is tried
        again on the next pass and set aside after `give_up_after` attempts."""
        try:
            fired = self.app.execute(self._fire_page, page, now)
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            log.warning("firing %s deadlines at once failed (%s); one by one", len(page), exc)
            fired = sum(self._fire_one(due, now) for due in page)
            self.fired += fired
            return fired, False
        self.fired += fired
        return fired, True

    def _fire_page(self, uow: UnitOfWork, page: list[Due], now: datetime) -> int:
        uow.preload(d.aggregate_id for d in page)
        fired = 0
        for due in page:
            aggregate = uow.get(due.aggregate_id)
            if not isinstance(aggregate, HasDeadlines):
                continue  # unknown to this store: nothing to fire (the index will learn it)
            purpose = aggregate.fire_deadline(due.deadline_id, now)
            if purpose is not None:
                self.on_fire(uow, aggregate, due.deadline_id, purpose, now)
                fired += 1
            uow.add(aggregate)
        return fired

    def _fire_one(self, due: Due, now: datetime) -> int:
        key = (str(due.aggregate_id), due.deadline_id)
        try:
            fired = self.app.execute(self._fire_page, [due], now)
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            attempts = self.failing.get(key, (0, ""))[0] + 1
            self.failing[key] = (attempts, f"{type(exc).__name__}: {exc}"[:300])
            log.warning(
                "deadline %s of %s failed to fire (attempt %s): %s", due.deadline_id, due.aggregate_id, attempts, exc
            )
            return 0
        self.failing.pop(key, None)
        return fired

    def check(self) -> None:
        """Name in /readyz what is behind or failing; clear it when it is not."""
        problems = []
        now = self.clock.now()
        late = datetime.fromtimestamp(now.timestamp() - self.behind_after_seconds, UTC)
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(
                f"SELECT MIN(due_at), COUNT(*), SUM(CASE WHEN due_at <= ? THEN 1 ELSE 0 END) FROM {TABLE} "
                "WHERE due_at <= ?",
                (_key(late), _key(now)),
            )
        self._due_gauge.set(int(found[1]) if found else 0)
        self._overdue_gauge.set(int(found[2] or 0) if found else 0)
        if found and found[0] is not None:
            oldest = datetime.strptime(str(found[0]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            behind = (now - oldest).total_seconds()
            if behind > self.behind_after_seconds:
                problems.append(f"{found[1]} deadlines due, the oldest {behind:.0f}s ago ({oldest.isoformat()})")
        for (aggregate_id, deadline_id), (attempts, error) in list(self.failing.items())[:3]:
            if attempts >= self.give_up_after:
                problems.append(
                    f"deadline {deadline_id} of {aggregate_id} set aside after {attempts} attempts: {error}"
                )
        if problems:
            self.health.report(self.name, "; ".join(problems))
        else:
            self.health.clear(self.name)

    def next_due_in(self) -> float | None:
        with self.store.transaction(write=False) as tx:
            found = tx.fetchone(f"SELECT MIN(due_at) FROM {TABLE}")
        if not found or found[0] is None:
            return None
        due = datetime.strptime(str(found[0]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return max(0.0, (due - self.clock.now()).total_seconds())

    # -- BackgroundJob --------------------------------------------------------------------

    async def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            wait = self.poll_seconds
            try:
                if self.lease is not None and not await self.lease.hold():
                    wait = self.lease.retry_seconds
                else:
                    started = time.monotonic()
                    fired = await self.fire_due_async()
                    if fired > 1000:
                        log.info("fired %s deadlines in %.1fs", fired, time.monotonic() - started)
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(self._reader, self.check)
                    upcoming = await loop.run_in_executor(self._reader, self.next_due_in)
                    if upcoming is not None:
                        wait = min(wait, upcoming)
                    failures = 0
            except Exception as exc:
                failures += 1
                log.warning("deadline runner failed (attempt %s): %s", failures, exc, exc_info=failures == 1)
                if failures >= 3:
                    self.health.report(self.name, f"failing: {type(exc).__name__}: {exc}"[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=max(wait, 0.01))
        if self.lease is not None:
            await self.lease.release()
        self._reader.shutdown(wait=False)

    def stop(self) -> None:
        self._stopping.set()
