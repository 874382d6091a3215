"""Durable deadlines (leadflow_shared.deadlines) with an injected clock: set, cancel, fire once,
in due order, paged, a failing one set aside and named, a runner behind named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.domain import event

from leadflow_shared.clock import FixedClock
from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection, HasDeadlines
from leadflow_shared.health import Health
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import ServiceApplication, StoreWorker
from leadflow_shared.unit_of_work import UnitOfWork

pytestmark = pytest.mark.unit
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Reminder(HasDeadlines):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.rang: list[str] = []

    @event("Rang")
    def ring(self, deadline_id: str, at: datetime) -> None:
        self.rang.append(deadline_id)


class Reminders(ServiceApplication):
    name = "reminders"


class World:
    def __init__(self, page_size: int = 500) -> None:
        self.clock = FixedClock(T0)
        self.app = Reminders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.health = Health()
        self.index = ProjectionRunner(self.app, SQLiteReadStore.in_memory(), DeadlinesProjection([Reminder]))
        self.order: list[str] = []
        self.runner = DeadlineRunner(
            self.app,
            StoreWorker("test"),
            self.index,
            self.on_fire,
            clock=self.clock,
            health=self.health,
            page_size=page_size,
            behind_after_seconds=60,
        )

    def on_fire(self, uow: UnitOfWork, aggregate: Any, deadline_id: str, purpose: str, at: datetime) -> None:
        if purpose == "boom":
            raise RuntimeError("the domain refused")
        aggregate.ring(deadline_id, at)
        self.order.append(deadline_id)

    def reminder(self, name: str, *deadlines: tuple[str, timedelta, str]) -> Reminder:
        reminder = Reminder(name)
        for deadline_id, after, purpose in deadlines:
            reminder.set_deadline(deadline_id, T0 + after, purpose)
        self.app.save(reminder)
        return reminder

    def at(self, after: timedelta) -> int:
        self.clock._now = T0 + after
        return self.runner.fire_due()


def test_a_deadline_fires_once_and_never_when_unknown_or_cancelled() -> None:
    reminder = Reminder("r")
    reminder.set_deadline("d1", T0, "call back")
    reminder.set_deadline("d2", T0, "call back")
    with pytest.raises(ValueError, match="already set"):
        reminder.set_deadline("d1", T0, "again")
    assert reminder.cancel_deadline("d2") is True and reminder.cancel_deadline("d2") is False
    assert reminder.fire_deadline("d1", T0) == "call back"
    recorded = len(reminder.collect_events())
    assert reminder.fire_deadline("d1", T0) is None  # already fired
    assert reminder.fire_deadline("d2", T0) is None  # cancelled
    assert reminder.fire_deadline("nope", T0) is None  # unknown
    assert reminder.collect_events() == [] and recorded == 5
    assert reminder.open_deadlines() == {}


def test_due_deadlines_fire_in_due_order_when_the_clock_reaches_them() -> None:
    w = World()
    w.reminder("a", ("a-30", timedelta(minutes=30), "x"), ("a-10", timedelta(minutes=10), "x"))
    b = w.reminder("b", ("b-20", timedelta(minutes=20), "x"), ("b-05", timedelta(minutes=5), "x"))
    again = w.app.repository.get(b.id)
    again.cancel_deadline("b-05")  # cancelled before it was due: never fires
    w.app.save(again)
    assert w.at(timedelta(minutes=0)) == 0
    assert w.at(timedelta(minutes=25)) == 2
    assert w.order == ["a-10", "b-20"]
    assert w.at(timedelta(minutes=25)) == 0  # nothing fires twice
    assert w.at(timedelta(hours=2)) == 1
    assert w.order == ["a-10", "b-20", "a-30"]
    assert w.app.repository.get(b.id).rang == ["b-20"]
    with w.index.store.transaction(write=False) as tx:
        assert DeadlinesProjection([Reminder]).counts(tx) == {"open deadlines": 0}


def test_a_runner_that_fires_again_after_a_crash_changes_nothing() -> None:
    w = World()
    r = w.reminder("r", ("r-1", timedelta(minutes=1), "x"))
    w.clock._now = T0 + timedelta(minutes=2)
    w.index.catch_up()
    page = w.runner.due(w.clock.now(), 10)
    assert w.app.execute(w.runner._fire_page, page, w.clock.now()) == 1
    # The runner died before the index learnt it fired; the next one fires the same page again:
    version = w.app.repository.get(r.id).version
    assert w.app.execute(w.runner._fire_page, page, w.clock.now()) == 0
    assert w.app.repository.get(r.id).version == version
    assert w.app.repository.get(r.id).rang == ["r-1"]


def test_a_backlog_fires_a_page_at_a_time_oldest_first() -> None:
    w = World(page_size=100)
    for i in range(25):  # 25 reminders x 10 deadlines, due over the past 250 minutes
        w.reminder(f"r{i}", *[(f"r{i}-{k}", timedelta(minutes=-(i * 10 + k)), "x") for k in range(10)])
    pages: list[int] = []
    due = w.runner.due

    def paged(now: datetime, limit: int) -> list[Any]:
        found = due(now, limit)
        pages.append(len(found))
        return found

    w.runner.due = paged  # type: ignore[method-assign]
    assert w.at(timedelta(0)) == 250
    assert max(pages) == 100 and pages[-1] == 0
    assert w.order == [f"r{n // 10}-{n % 10}" for n in range(249, -1, -1)]  # oldest due first


def test_a_deadline_whose_firing_keeps_failing_is_set_aside_and_named_while_the_others_fire() -> None:
    w = World()
    ok = w.reminder("ok", ("ok-1", timedelta(minutes=1), "x"), ("ok-2", timedelta(minutes=3), "x"))
    w.reminder("bad", ("bad-1", timedelta(minutes=2), "boom"))
    for _ in range(3):  # each pass tries it once more
        w.at(timedelta(minutes=5))
    assert w.app.repository.get(ok.id).rang == ["ok-1", "ok-2"]
    assert w.at(timedelta(minutes=5)) == 0  # set aside: not tried again
    w.runner.check()
    problem = w.health.problems()["deadline runner"]
    assert "deadline bad-1" in problem and "set aside after 3 attempts" in problem and "the domain refused" in problem


def test_a_runner_behind_by_more_than_the_limit_is_named_until_it_catches_up() -> None:
    w = World()
    w.reminder("r", ("r-1", timedelta(minutes=1), "x"))
    w.clock._now = T0 + timedelta(minutes=5)  # due 4 minutes ago, not fired yet
    w.index.catch_up()
    w.runner.check()
    assert "1 deadlines due, the oldest 240s ago" in w.health.problems()["deadline runner"]
    w.runner.fire_due()
    w.runner.check()
    assert w.health.problems() == {}


def test_due_and_overdue_deadlines_are_reported_as_metrics() -> None:
    from leadflow_shared.metrics import ServiceMetrics

    w = World()
    metrics = ServiceMetrics()
    w.runner = DeadlineRunner(
        w.app, StoreWorker("test"), w.index, w.on_fire, clock=w.clock, behind_after_seconds=60, metrics=metrics
    )
    w.reminder("a", ("a-1", timedelta(minutes=1), "x"), ("a-2", timedelta(minutes=2), "x"))
    w.reminder("b", ("b-5", timedelta(minutes=5), "x"))
    w.index.catch_up()

    def gauges() -> tuple[float | None, float | None]:
        due = metrics.registry.get_sample_value("leadflow_deadlines_due")
        return due, metrics.registry.get_sample_value("leadflow_deadlines_overdue")

    w.clock._now = T0
    w.runner.check()
    assert gauges() == (0, 0)
    w.clock._now = T0 + timedelta(minutes=2, seconds=30)  # two due, a-1 more than 60 s ago
    w.runner.check()
    assert gauges() == (2, 1)
    w.clock._now = T0 + timedelta(minutes=10)
    w.runner.check()
    assert gauges() == (3, 3)
    w.runner.fire_due()
    w.runner.check()
    assert gauges() == (0, 0)
