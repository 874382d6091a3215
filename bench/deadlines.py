"""`make bench` phase 6: N deadlines due at once, fired by the deadline runner (SQLite store).

python bench/deadlines.py [--count N]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.domain import event

from leadflow_shared.clock import FixedClock
from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection, HasDeadlines
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import ServiceApplication, StoreWorker
from leadflow_shared.unit_of_work import UnitOfWork


class Expiring(HasDeadlines):
    """Something that expires once (a referral's 14 days, say)."""

    @event("Opened")
    def __init__(self, n: int) -> None:
        self.n = n
        self.expired = False

    @event("Expired")
    def expire(self) -> None:
        self.expired = True


class ExpiringApp(ServiceApplication):
    name = "bench-deadlines"


def on_fire(uow: UnitOfWork, aggregate: Any, deadline_id: str, purpose: str, at: datetime) -> None:
    aggregate.expire()


def fire_all_at_once(work: Path, count: int, say: Any = print) -> tuple[float, int]:
    """Store `count` aggregates with one deadline each, all due; time the runner firing them."""
    work.mkdir(parents=True, exist_ok=True)
    for name in ("deadlines.sqlite", "deadlines-read.sqlite"):
        (work / name).unlink(missing_ok=True)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(work / "deadlines.sqlite")}
    app = ExpiringApp(env={**env, "CREATE_TABLE": "y"})
    due = datetime(2026, 12, 1, tzinfo=UTC)
    for start in range(0, count, 1000):
        batch = []
        for n in range(start, min(count, start + 1000)):
            item = Expiring(n)
            item.set_deadline("expiry", due + timedelta(microseconds=n), "expire")
            batch.append(item)
        app.save(*batch)
    say(f"  {count:,} deadlines stored, all due")
    clock = FixedClock(due + timedelta(days=1))
    index = ProjectionRunner(app, SQLiteReadStore(work / "deadlines-read.sqlite"), DeadlinesProjection([Expiring]))
    runner = DeadlineRunner(app, StoreWorker("bench"), index, on_fire, clock=clock)
    began = time.perf_counter()
    fired = runner.fire_due()  # indexing what is due is part of the work
    seconds = time.perf_counter() - began
    index.store.close()
    return seconds, fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        seconds, fired = fire_all_at_once(Path(tmp), args.count)
    print(f"{fired:,} deadlines fired in {seconds:.1f}s ({fired / seconds:,.0f}/s)")


if __name__ == "__main__":
    main()
