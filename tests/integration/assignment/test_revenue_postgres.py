"""Revenue models on PostgreSQL (event store and read store): the same answers as on SQLite —
the analyzer's balances and flows equal what the leads' streams say, the activity log pages,
a bulk run and a merge, an SLA miss, and a rebuilt read model equals the live one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from harness import postgres_settings
from revenue_world import RevenueWorld

from assignment.domain.revenue import default_definition
from assignment.projections.revenue import TABLES
from assignment.settings import AssignmentSettings
from leadflow_shared.readstore import open_read_store

pytestmark = pytest.mark.integration


@pytest.fixture
def w(postgres_database: dict[str, Any]) -> Iterator[RevenueWorld]:
    settings = AssignmentSettings(**postgres_settings(postgres_database))
    store = open_read_store(settings)
    world = RevenueWorld(env=settings.eventsourcing_env(), read_store=store)
    yield world
    store.close()
    world.app.close()


def test_revenue_models_on_postgresql(w: RevenueWorld) -> None:
    definition = default_definition()
    definition["stages"].insert(
        1,
        {"id": "triage", "name": "Triage", "type": "gate", "path": "success", "active": True, "default_to": "prospect"},
    )
    definition["transitions"].insert(
        0, {"id": "t", "from": "new", "to": "triage", "triggers": ["voided"], "filter": None}
    )
    model = w.model(definition=definition)
    w.approve_stages(model)
    w.later(hours=14)  # Tuesday 00:00
    leads = [w.receive(f"pg{i}", score=45 if i % 3 == 0 else 5) for i in range(12)]
    w.approve(model)
    for step in range(30):
        w.later(hours=6 * (step % 5))
        lead = leads[step % len(leads)]
        if step % 4 == 0:
            w.lifecycle(lead, "voided")  # New → the gate → Prospect
        else:
            w.move(model, lead, ["lead", "opportunity", "customer", "disqualified", "new"][step % 5])
    done = w.bulk(model, "recycled", lead_filter={"field": "score", "op": "lte", "value": 5})
    assert done.counts["moved"] + done.counts["skipped"] == 8
    w.revenue.run_to_end(w.app.execute(w.revenue.merge_stage, model, "recycled", "new", "admin").id)
    w.later(hours=80)
    assert w.deadlines.fire_due() >= 1
    now = w.clock.now()
    stages = w.revenue.get_model(model).definition["stages"]
    start = now.date() - timedelta(days=30)
    found = w.revenue_reads.analyze(model, 1, stages, "day", start, now.date() + timedelta(days=1), now)
    changes = [e for lead in leads for e in w.stream_of(model, lead) if type(e).__name__ == "StageChanged"]

    def balance_at(moment: datetime) -> Counter[str]:
        where: dict[Any, str | None] = {}
        for e in sorted(changes, key=lambda e: (e.at, e.originator_version)):
            if e.at < moment:
                where[e.originator_id] = e.to_stage
        return Counter(s for s in where.values() if s is not None)

    for row in found["periods"]:
        end = balance_at(datetime.fromisoformat(row["end"]))
        for sid, f in row["stages"].items():
            assert f["end_balance"] == f["start_balance"] + f["in_flow"] - f["out_flow"] == end[sid], (sid, row["end"])
    assert found["totals"]["triage"]["in_flow"] > 0 and found["totals"]["triage"]["end_balance"] == 0
    assert found["totals"]["lead"]["sla_due"] >= 1
    assert w.revenue_reads.leads_in_model(model, 1) == 12

    first = w.revenue_reads.activity(model_id=model, limit=7)
    rest = w.revenue_reads.activity(model_id=model, limit=500, cursor=first["next_cursor"])
    entries = first["items"] + rest["items"]
    assert len(entries) == len({e["entry_id"] for e in entries}) == sum(1 for e in changes if e.logged)
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)

    runner = w.revenue_reads.runner

    def contents() -> dict[str, list[tuple[object, ...]]]:
        runner.catch_up()
        with runner.store.transaction(write=False) as tx:
            return {t: sorted(tx.fetchall(f"SELECT * FROM {t}"), key=repr) for t in TABLES}

    live = contents()
    runner.rebuild()
    assert contents() == live
