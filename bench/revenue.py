"""`make bench` phases 11-13: the revenue models' figures.

- stage changes logged per second from `leads.events.v1`: an approved model (the default success
  path), a backlog of N new leads and N score changes on the topic (each lead is placed in New by
  the assignment rules, then moved to Prospect by a transition: 2N logged changes), then the
  assignment service (in this process, SQLite store) started; timed until every change is stored —
  the drain rate of its lead-event consumer, assignment's own decisions included;
- a Change Revenue Stage run over N leads: N leads received through the service's own route (as
  Kafka batches of 1,000), then one run moving every lead to another stage, pages of 500, timed;
- the Success Path Analyzer over 1,000,000 logged changes: 100,000 leads each changing stage ten
  times over six months (the real LeadStage aggregate records them; the revenue projection writes
  them to the read model, SQLite file), then the analyzer asked for days, weeks and months.

python bench/revenue.py [--leads N] [--run N] [--changes N] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/assignment.py is named like the service package: this folder must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from aiokafka import AIOKafkaProducer  # noqa: E402

from assignment.application import AssignmentApplication  # noqa: E402
from assignment.bootstrap import bootstrap as assignment_service  # noqa: E402
from assignment.domain.revenue import LeadStage, default_definition  # noqa: E402
from assignment.entrypoints.stream import subscriptions  # noqa: E402
from assignment.projections import AssignmentReadModel, AssignmentsProjection, RevenueProjection, RevenueReadModel  # noqa: E402
from assignment.projections.analysis import analyze  # noqa: E402
from assignment.settings import AssignmentSettings  # noqa: E402
from leadflow_shared.clock import FixedClock  # noqa: E402
from leadflow_shared.contracts import LeadReceivedV1, LeadUpdatedV1  # noqa: E402
from leadflow_shared.envelope import to_binary  # noqa: E402
from leadflow_shared.kafka import ensure_topics  # noqa: E402
from leadflow_shared.projection import ProjectionRunner  # noqa: E402
from leadflow_shared.readstore import SQLiteReadStore  # noqa: E402

PARTITIONS = 6
STAGES = ["new", "prospect", "lead", "opportunity", "customer", "disqualified", "recycled"]


def _snapshot(lead: uuid.UUID, version: int, score: int, now: datetime) -> dict[str, Any]:
    return {
        "aggregate_id": lead,
        "version": version,
        "previous_version": version - 1,
        "lead_id": lead,
        "source": "bench",
        "external_id": str(lead),
        "type": "customer_inquiry",
        "contact": {},
        "company": {"country": "DE"},
        "score": score,
        "campaign_id": "bench",
        "occurred_at": now,
    }


def _count(app: Any, event_class: Any) -> int:
    from eventsourcing.utils import get_topic

    with app.recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT COUNT(*) FROM {app.recorder.events_table_name} WHERE topic = ?", (get_topic(event_class),))
        return int(c.fetchone()[0])


async def stage_changes_from_topic(bootstrap: str, work: Path, count: int, say: Any = print) -> tuple[float, int]:
    """(seconds, logged stage changes) for `count` new leads and `count` score changes waiting."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topic = prefix + "leads.events.v1"
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    work.mkdir(parents=True, exist_ok=True)
    settings = AssignmentSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        run_dir=work,
        sqlite_path=work / f"assignment-{prefix}sqlite",
        consumer_group=f"{prefix}assignment",
        lead_topic_partitions=PARTITIONS,
        rerun_interval_seconds=0,
    )
    service = assignment_service(settings)
    app: Any = service.app
    app.execute(app.add_sellers, [(f"seller-{n}", f"Seller {n}") for n in range(50)])
    revenue = app.revenue
    model = app.execute(revenue.create_model, "bench", "", default_definition(), "bench").id
    app.execute(revenue.approve_stages, model, "bench")
    seed = uuid.uuid4()
    now = datetime.now(UTC)
    app.execute(_receive(app), seed, now)  # one lead in the model: it may be approved
    app.execute(revenue.approve, model, "bench")
    before = _count(app, LeadStage.StageChanged)  # type: ignore[attr-defined]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for start in range(0, count, 1000):
            for _ in range(start, min(count, start + 1000)):
                lead = uuid.uuid4()
                received = LeadReceivedV1(**_snapshot(lead, 1, 10, now), received_at=now)
                updated = LeadUpdatedV1(**_snapshot(lead, 2, 25, now), changed_fields=["score"], updated_at=now)
                for event in (received, updated):
                    key, value, headers = to_binary(event, source="bench", time=now).record()
                    await producer.send(topic, value, key=key, headers=headers)
            await producer.flush()
    finally:
        await producer.stop()
    say(f"  {count:,} new leads and {count:,} score changes waiting on {topic}")
    began = time.perf_counter()
    await service.start()
    try:
        changes = 0
        while changes < 2 * count and time.perf_counter() - began < 900:
            await asyncio.sleep(0.25)
            changes = await service.worker.call(_count, app, LeadStage.StageChanged) - before  # type: ignore[attr-defined]
        seconds = time.perf_counter() - began
    finally:
        await service.stop()
    return seconds, changes


def _receive(app: Any) -> Any:
    route = subscriptions(app)[0].routes[LeadReceivedV1.cloudevents_type].use_case

    def receive(uow: Any, lead: uuid.UUID, now: datetime) -> None:
        route(uow, LeadReceivedV1(**_snapshot(lead, 1, 10, now), received_at=now))

    return receive


def _app(work: Path, clock: FixedClock) -> tuple[AssignmentApplication, RevenueReadModel]:
    work.mkdir(parents=True, exist_ok=True)
    for name in ("assignment.sqlite", "assignment-read.sqlite"):
        (work / name).unlink(missing_ok=True)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(work / "assignment.sqlite"),
        "CREATE_TABLE": "y",
    }
    app = AssignmentApplication(env=env, clock=clock)
    store = SQLiteReadStore(work / "assignment-read.sqlite")
    app.reads = AssignmentReadModel(ProjectionRunner(app, store, AssignmentsProjection()))
    reads = RevenueReadModel(ProjectionRunner(app, store, RevenueProjection()))
    app.revenue.leads, app.revenue.counts = app.reads, reads  # type: ignore[assignment]
    return app, reads


def bulk_run(work: Path, count: int, say: Any = print) -> tuple[float, dict[str, int]]:
    """(seconds, outcomes) of one Change Revenue Stage run over `count` leads."""
    clock = FixedClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    app, _ = _app(work, clock)
    revenue = app.revenue
    model = app.execute(revenue.create_model, "bench", "", default_definition(), "bench").id
    app.execute(revenue.approve_stages, model, "bench")
    receive = _receive(app)
    for start in range(0, count, 1000):
        leads = [uuid.uuid4() for _ in range(start, min(count, start + 1000))]
        app.execute(lambda uow, leads=leads: [receive(uow, lead, clock.now()) for lead in leads])
    app.execute(revenue.approve, model, "bench")
    say(f"  {count:,} leads in New (an approved model)")
    clock.advance(timedelta(hours=1))
    began = time.perf_counter()
    run = app.execute(revenue.start_run, model, "prospect", lead_ids=None, lead_filter=None, actor="bench")
    done = revenue.run_to_end(run.id)
    seconds = time.perf_counter() - began
    app.close()
    return seconds, dict(done.counts)


def analyzer_over(work: Path, changes: int, say: Any = print) -> tuple[dict[str, float], int]:
    """({query: seconds}, intervals) for the analyzer over `changes` logged stage changes."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "revenue-read.sqlite"
    path.unlink(missing_ok=True)
    store = SQLiteReadStore(path)
    projection = RevenueProjection()
    with store.transaction(write=True) as tx:
        projection.create(tx)
    model, rng = uuid.uuid4(), random.Random(7)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    per_lead = 10
    batch: list[Any] = []
    made = 0
    for _ in range(changes // per_lead):
        position = LeadStage(model_id=model, lead_id=uuid.uuid4())
        at = start + timedelta(hours=rng.uniform(0, 24 * 150))
        for _ in range(per_lead):
            to = rng.choice(STAGES)
            position.move(
                to if to != position.stage else "customer" if to != "customer" else "new",
                generation=1,
                at=at,
                reason="transition",
                detail=None,
                actor="system",
                campaign=None,
                manual=False,
                logged=True,
                sla_hours=72 if to == "lead" else None,
            )
            at += timedelta(hours=rng.expovariate(1 / 60))
        batch += [e for e in position.collect_events() if type(e).__name__ == "StageChanged"]
        if len(batch) >= 20_000:
            with store.transaction(write=True) as tx:
                projection.apply(tx, batch)
            made += len(batch)
            batch = []
    if batch:
        with store.transaction(write=True) as tx:
            projection.apply(tx, batch)
        made += len(batch)
    say(f"  {made:,} logged stage changes in the read model")
    with store.transaction(write=True) as tx:
        tx.execute("ANALYZE")
    stages = default_definition()["stages"]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    queries = {
        "day x 90": ("day", date(2026, 9, 1), date(2026, 11, 30)),
        "week x 26": ("week", date(2026, 6, 1), date(2026, 11, 30)),
        "month x 6": ("month", date(2026, 6, 1), date(2026, 12, 1)),
    }
    timings = {}
    for name, (kind, lo, hi) in queries.items():
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            with store.transaction(write=False) as tx:
                analyze(tx, str(model), 1, stages, kind, lo, hi, now)
            best = min(best, time.perf_counter() - began)
        timings[name] = best
    store.close()
    return timings, made


def cpu_per_lead_event(work: Path, leads: int = 6000) -> dict[str, float]:
    """CPU milliseconds per lead event through the service's own leads.events.v1 routes, batches
    of 500 (as the consumer applies them, aggregates preloaded), without and with an approved
    model: what the revenue module adds to assignment's lead path (Kafka and projections aside)."""
    found = {}
    for label, live in (("no model", False), ("an approved model", True)):
        clock = FixedClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
        app, _ = _app(work / label.replace(" ", "-"), clock)
        app.execute(app.add_sellers, [(f"seller-{n}", f"Seller {n}") for n in range(50)])
        routes = subscriptions(app)[0].routes
        if live:
            model = app.execute(app.revenue.create_model, "bench", "", default_definition(), "bench").id
            app.execute(app.revenue.approve_stages, model, "bench")
            app.execute(_receive(app), uuid.uuid4(), clock.now())
            app.execute(app.revenue.approve, model, "bench")
        now = clock.now()

        def apply(uow: Any, messages: list[Any], routes: Any = routes) -> None:
            route = routes[messages[0].cloudevents_type]
            uow.preload(i for m in messages for i in route.aggregates(m))  # type: ignore[misc]
            for message in messages:
                route.use_case(uow, message)

        began = time.process_time()
        for _ in range(0, leads, 500):
            batch = [uuid.uuid4() for _ in range(500)]
            app.execute(apply, [LeadReceivedV1(**_snapshot(x, 1, 10, now), received_at=now) for x in batch])
            updated = [
                LeadUpdatedV1(**_snapshot(x, 2, 25, now), changed_fields=["score"], updated_at=now) for x in batch
            ]
            app.execute(apply, updated)
        found[label] = (time.process_time() - began) / (2 * leads) * 1000
        app.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--run", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--bootstrap", default=None, help="a running Kafka: also measure changes from the topic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        timings, made = analyzer_over(Path(tmp) / "analyzer", args.changes)
        cost = cpu_per_lead_event(Path(tmp) / "cost")
        print("CPU per lead event: " + ", ".join(f"{k} {v:.3f} ms" for k, v in cost.items()))
        print(f"analyzer over {made:,} changes: " + ", ".join(f"{k} {v:.3f}s" for k, v in timings.items()))
        seconds, outcomes = bulk_run(Path(tmp) / "run", args.run)
        print(f"Change Revenue Stage over {args.run:,} leads: {seconds:.1f}s {outcomes}")
        if args.bootstrap:
            seconds, changes = asyncio.run(stage_changes_from_topic(args.bootstrap, Path(tmp) / "topic", args.leads))
            print(
                f"{changes:,} stage changes logged from leads.events.v1 in {seconds:.1f}s ({changes / seconds:,.0f}/s)"
            )


if __name__ == "__main__":
    main()
