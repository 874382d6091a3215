"""`make bench` phase 7: the referral service's figures.

- referrals taken in per second from `referrals.inbound.v1`: a backlog of N bare referrals on the
  topic, then the referral service (in this process, SQLite store) started; timed until every one
  is stored (received, its answer deadline set) — the drain rate of its consumer;
- N open referrals expiring at once: stored with the real Referral aggregate (personal data sealed,
  a 14-day answer deadline each), the clock moved 14 days on, the deadline runner timed until every
  one is closed/expired (the service's `on_deadline`, pages of 500).

python bench/referrals.py [--count N] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from leadflow_shared.clock import FixedClock
from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection
from leadflow_shared.kafka import ensure_topics
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import StoreWorker
from referral.application import ReferralApplication
from referral.bootstrap import bootstrap as referral_service
from referral.domain import Referral
from referral.settings import ReferralSettings

SENT_AT = "2026-11-02T08:00:00Z"
PARTITIONS = 6  # the services' default


def referral(n: int, batch: str) -> dict[str, Any]:
    return {
        "sender": "partner-center",
        "external_reference_id": f"{batch}-{n}",
        "name": f"Opportunity {n}",
        "target_org": f"partner-{n % 20}",
        "qualification": ("direct", "marketing_qualified", "sales_qualified")[n % 3],
        "customer": {
            "name": f"Customer {n}",
            "address": {"city": "Berlin", "country": "DE"},
            "size": "51to250employees",
            "contacts": [{"first_name": "Ada", "last_name": f"Nr{n}", "email": f"ada{n}@customer.example"}],
        },
        "consent": {"share_information": True, "be_contacted": True},
        "details": {"notes": "wants a demo", "requirements": {"products": ["Dynamics 365"]}},
        "contact_requested": n % 10 == 0,
        "occurred_at": SENT_AT,
    }


async def inbound_throughput(bootstrap: str, work: Path, count: int, say: Any = print) -> tuple[float, int]:
    """(seconds, referrals stored) for a backlog of `count` inbound referrals."""
    prefix, batch = f"bench{uuid.uuid4().hex[:6]}.", uuid.uuid4().hex[:6]
    await ensure_topics(bootstrap, {prefix + "referrals.inbound.v1": PARTITIONS})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for start in range(0, count, 1000):
            for n in range(start, min(count, start + 1000)):
                await producer.send(prefix + "referrals.inbound.v1", json.dumps(referral(n, batch)).encode())
            await producer.flush()
    finally:
        await producer.stop()
    say(f"  {count:,} referrals waiting on {prefix}referrals.inbound.v1")
    work.mkdir(parents=True, exist_ok=True)
    settings = ReferralSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        run_dir=work,
        sqlite_path=work / f"referral-{batch}.sqlite",
        consumer_group=f"{prefix}referral",
        lead_topic_partitions=PARTITIONS,
    )
    service = referral_service(settings)
    app: Any = service.app
    received_topic = Referral.Received  # type: ignore[attr-defined]
    began = time.perf_counter()
    await service.start()
    try:
        stored = 0
        while stored < count and time.perf_counter() - began < 600:
            await asyncio.sleep(0.25)
            stored = await service.worker.call(_count_received, app, received_topic)
        seconds = time.perf_counter() - began
    finally:
        await service.stop()
    return seconds, stored


def _count_received(app: Any, event_class: Any) -> int:
    from eventsourcing.utils import get_topic

    with app.recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT COUNT(*) FROM {app.recorder.events_table_name} WHERE topic = ?", (get_topic(event_class),))
        return int(c.fetchone()[0])


def expire_all_at_once(work: Path, count: int, say: Any = print) -> tuple[float, int]:
    """(seconds, referrals expired) for `count` open referrals whose answer deadline passed."""
    from leadflow_shared.contracts import InboundReferralV1

    work.mkdir(parents=True, exist_ok=True)
    for name in ("referrals.sqlite", "referrals-read.sqlite"):
        (work / name).unlink(missing_ok=True)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(work / "referrals.sqlite")}
    clock = FixedClock(datetime(2026, 11, 2, 9, tzinfo=UTC))
    app = ReferralApplication(env={**env, "CREATE_TABLE": "y"}, clock=clock)
    batch = uuid.uuid4().hex[:6]
    for start in range(0, count, 1000):
        rows = [InboundReferralV1.model_validate(referral(n, batch)) for n in range(start, min(count, start + 1000))]
        app.execute(lambda uow, rows=rows: [app.receive(uow, row) for row in rows])
    say(f"  {count:,} open referrals stored, answer deadline in 14 days")
    clock.advance(timedelta(days=14))
    index = ProjectionRunner(app, SQLiteReadStore(work / "referrals-read.sqlite"), DeadlinesProjection([Referral]))
    runner = DeadlineRunner(app, StoreWorker("bench"), index, app.on_deadline, clock=clock)
    began = time.perf_counter()
    runner.fire_due()  # indexing what is due is part of the work
    seconds = time.perf_counter() - began
    closed = _count_received(app, Referral.Closed)  # type: ignore[attr-defined]
    index.store.close()
    app.close()
    return seconds, closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--bootstrap", default=None, help="a running Kafka: also measure the inbound topic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seconds, expired = expire_all_at_once(Path(tmp), args.count)
        print(f"{expired:,} referrals expired in {seconds:.1f}s ({expired / seconds:,.0f}/s)")
        if args.bootstrap:
            seconds, stored = asyncio.run(inbound_throughput(args.bootstrap, Path(tmp), args.count))
            print(f"{stored:,} referrals taken in in {seconds:.1f}s ({stored / seconds:,.0f}/s)")


if __name__ == "__main__":
    main()
