"""`make bench` phases 9 and 10: the sequence service's figures.

- enrolments per second from `assignments.events.v1`: a backlog of N LeadAssignedV1 decisions in a
  segment linked to an active sequence, then the sequence service (in this process, SQLite store)
  started; timed until every lead is enrolled (its enrolment stored, its first step due) — the
  drain rate of its consumer;
- N steps falling due at once: N enrolments (the real Enrolment aggregate) each waiting one day
  before a call, the clock moved past the wait, the deadline runner timed until every wait is over
  and every call has fallen due (StepDue recorded, pages of 500).

python bench/sequences.py [--count N] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import LeadAssignedV1
from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection
from leadflow_shared.envelope import to_binary
from leadflow_shared.kafka import ensure_topics
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import StoreWorker
from sequence.application import SequenceApplication
from sequence.bootstrap import bootstrap as sequence_service
from sequence.domain import Enrolment
from sequence.settings import SequenceSettings

PARTITIONS = 6  # the services' default
SEGMENT = "uk-trade-show"
STEPS = [
    {"id": "e1", "type": "email"},
    {"id": "w1", "type": "wait", "days": 3},
    {"id": "c1", "type": "call"},
]
WAITING = [{"id": "w1", "type": "wait", "days": 1}, {"id": "c1", "type": "call"}]


def _count(app: Any, event_class: Any) -> int:
    from eventsourcing.utils import get_topic

    with app.recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT COUNT(*) FROM {app.recorder.events_table_name} WHERE topic = ?", (get_topic(event_class),))
        return int(c.fetchone()[0])


async def enrolment_throughput(bootstrap: str, work: Path, count: int, say: Any = print) -> tuple[float, int]:
    """(seconds, leads enrolled) for a backlog of `count` assignments in a linked segment."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topic = prefix + "assignments.events.v1"
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    now = datetime.now(UTC)
    await producer.start()
    try:
        for start in range(0, count, 1000):
            for n in range(start, min(count, start + 1000)):
                lead = uuid.uuid4()
                assigned = LeadAssignedV1(
                    aggregate_id=lead,
                    version=2,
                    previous_version=0,
                    lead_id=lead,
                    seller_id=f"seller-{n % 50}",
                    method="round_robin",
                    decided_at=now,
                    segment_id=SEGMENT,
                )
                key, value, headers = to_binary(assigned, source="bench", time=now).record()
                await producer.send(topic, value, key=key, headers=headers)
            await producer.flush()
    finally:
        await producer.stop()
    say(f"  {count:,} assignments waiting on {topic}")
    work.mkdir(parents=True, exist_ok=True)
    settings = SequenceSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        run_dir=work,
        sqlite_path=work / f"sequence-{prefix}sqlite",
        consumer_group=f"{prefix}sequence",
        lead_topic_partitions=PARTITIONS,
    )
    service = sequence_service(settings)
    app: Any = service.app
    sequence_id = app.execute(app.create, name="bench", description="", steps=STEPS, settings={}, actor="bench")
    app.execute(app.activate, sequence_id, actor="bench")
    app.execute(app.link_segment, sequence_id, SEGMENT, actor="bench", on=True)
    enrolled_topic = Enrolment.Enrolled  # type: ignore[attr-defined]
    began = time.perf_counter()
    await service.start()
    try:
        enrolled = 0
        while enrolled < count and time.perf_counter() - began < 600:
            await asyncio.sleep(0.25)
            enrolled = await service.worker.call(_count, app, enrolled_topic)
        seconds = time.perf_counter() - began
    finally:
        await service.stop()
    return seconds, enrolled


def steps_due_at_once(work: Path, count: int, say: Any = print) -> tuple[float, int]:
    """(seconds, calls fallen due) for `count` enrolments whose one-day wait ends at once."""
    work.mkdir(parents=True, exist_ok=True)
    for name in ("sequence.sqlite", "sequence-read.sqlite"):
        (work / name).unlink(missing_ok=True)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(work / "sequence.sqlite")}
    clock = FixedClock(datetime(2026, 12, 2, 9, tzinfo=UTC))  # a Wednesday: the waits end Friday 9:00
    app = SequenceApplication(env={**env, "CREATE_TABLE": "y"}, clock=clock)
    sequence_id = app.execute(app.create, name="bench", description="", steps=WAITING, settings={}, actor="bench")
    app.execute(app.activate, sequence_id, actor="bench")
    for start in range(0, count, 1000):
        leads = [uuid.uuid4() for _ in range(start, min(count, start + 1000))]
        app.execute(lambda uow, leads=leads: [app.enrol(uow, lead, sequence_id, actor="bench") for lead in leads])
    due_before = _count(app, Enrolment.StepDue)  # type: ignore[attr-defined]
    say(f"  {count:,} enrolments waiting a business day before their call")
    clock.advance(timedelta(days=3))
    index = ProjectionRunner(app, SQLiteReadStore(work / "sequence-read.sqlite"), DeadlinesProjection([Enrolment]))
    runner = DeadlineRunner(app, StoreWorker("bench"), index, app.on_deadline, clock=clock)
    began = time.perf_counter()
    runner.fire_due()  # indexing what is due is part of the work
    seconds = time.perf_counter() - began
    fallen_due = _count(app, Enrolment.StepDue) - due_before  # type: ignore[attr-defined]
    index.store.close()
    app.close()
    return seconds, fallen_due


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--bootstrap", default=None, help="a running Kafka: also measure enrolments from the topic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seconds, due = steps_due_at_once(Path(tmp), args.count)
        print(f"{due:,} steps fell due in {seconds:.1f}s ({due / seconds:,.0f}/s)")
        if args.bootstrap:
            seconds, enrolled = asyncio.run(enrolment_throughput(args.bootstrap, Path(tmp), args.count))
            print(f"{enrolled:,} leads enrolled in {seconds:.1f}s ({enrolled / seconds:,.0f}/s)")


if __name__ == "__main__":
    main()
