"""Deadlines on a shared PostgreSQL store: two replicas, one lease — the holder pages through a
backlog of 1,200 due deadlines (at most 500 at a time) and fires each exactly once; when it
stops, the other takes over."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.domain import event
from harness import postgres_settings

from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection, HasDeadlines
from leadflow_shared.lease import PostgresAdvisoryLease
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import open_read_store
from leadflow_shared.settings import ServiceSettings
from leadflow_shared.store import ServiceApplication, StoreWorker
from leadflow_shared.unit_of_work import UnitOfWork

pytestmark = pytest.mark.integration


class Alarm(HasDeadlines):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.rang: list[str] = []

    @event("Rang")
    def ring(self, deadline_id: str) -> None:
        self.rang.append(deadline_id)


class Alarms(ServiceApplication):
    name = "alarms"


def on_fire(uow: UnitOfWork, aggregate: Any, deadline_id: str, purpose: str, at: datetime) -> None:
    aggregate.ring(deadline_id)


async def until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout}s")
        await asyncio.sleep(0.1)


async def test_one_replica_fires_a_paged_backlog_exactly_once_and_the_other_takes_over(
    postgres_database: dict[str, Any],
) -> None:
    settings = ServiceSettings(service_name="deadlinetest", **postgres_settings(postgres_database))
    writer = Alarms(env=settings.eventsourcing_env())
    past = datetime.now(UTC) - timedelta(hours=1)
    alarms = []
    for i in range(120):  # 1,200 deadlines already due, oldest first by index
        alarm = Alarm(f"a{i}")
        for k in range(10):
            alarm.set_deadline(f"a{i}-{k}", past + timedelta(seconds=i * 10 + k), "ring")
        alarms.append(alarm)
    writer.save(*alarms)

    replicas = []
    for n in range(2):
        app = Alarms(env=settings.eventsourcing_env())
        index = ProjectionRunner(app, open_read_store(settings), DeadlinesProjection([Alarm]))
        lease = PostgresAdvisoryLease(settings.postgres_conninfo(), "test:deadlines", retry_seconds=0.1)
        runner = DeadlineRunner(app, StoreWorker(f"r{n}"), index, on_fire, lease=lease, page_size=500, poll_seconds=0.1)
        pages: list[int] = []
        due = runner.due

        def paged(now: datetime, limit: int, due: Any = due, pages: list[int] = pages) -> list[Any]:
            found = due(now, limit)
            pages.append(len(found))
            return found

        runner.due = paged  # type: ignore[method-assign]
        replicas.append((runner, pages, asyncio.create_task(runner.run())))
    try:
        await until(lambda: sum(r.fired for r, _, _ in replicas) >= 1200, 60, "1,200 deadlines fired")
        await asyncio.sleep(0.5)  # a wrong implementation would fire some twice by now
        fired = sorted(r.fired for r, _, _ in replicas)
        assert fired == [0, 1200]  # one holder of the lease did it all
        holder, holder_pages, holder_task = next(x for x in replicas if x[0].fired)
        assert max(holder_pages) == 500 and holder_pages.count(500) >= 2  # paged, never all at once
        reader = Alarms(env=settings.eventsourcing_env())
        for alarm in alarms:
            assert sorted(reader.repository.get(alarm.id).rang) == sorted(f"{alarm.name}-{k}" for k in range(10))

        # When the holder stops, the other replica takes the lease and fires what falls due.
        holder.stop()
        await holder_task
        late = Alarm("late")
        late.set_deadline("late-1", datetime.now(UTC), "ring")
        writer.save(late)
        other = next(r for r, _, _ in replicas if r is not holder)
        await until(lambda: other.fired == 1, 30, "the other replica firing")
        assert reader.repository.get(late.id).rang == ["late-1"]
    finally:
        for runner, _, task in replicas:
            runner.stop()
            await task
            runner.index.store.close()
