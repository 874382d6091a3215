"""Revenue models on real Kafka, with intake beside assignment: leads come in on
leads.inbound.v1, intake publishes their events on leads.events.v1, and assignment's revenue
module places them by the assignment rules (unlogged while only the stages are approved), then,
once the model is approved, moves them by transitions as their data changes and a seller
qualifies them — every change on revenue.events.v1 keyed by the lead, the logged ones in the
activity log with the acting user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import as_bytes, eventually, inbound_lead, new_prefix, produce, read_topic, settings_for, started

from assignment.bootstrap import bootstrap as assignment_service
from assignment.settings import AssignmentSettings
from intake.bootstrap import bootstrap as intake_service
from intake.domain import lead_id_for
from intake.settings import IntakeSettings
from leadflow_shared.contracts import INTEGRATION_EVENTS, RevenueStageChangedV1

pytestmark = pytest.mark.integration


async def test_transitions_fire_from_lead_events_end_to_end_on_kafka(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = new_prefix()

    def settings(cls: Any) -> Any:
        return settings_for(cls, tmp_path=tmp_path / cls.__name__, bootstrap=kafka_bootstrap, prefix=prefix)

    intake, assignment = intake_service(settings(IntakeSettings)), assignment_service(settings(AssignmentSettings))
    app: Any = assignment.app
    intake_app: Any = intake.app
    revenue = app.revenue
    app.execute(app.put_seller, "ann", {"name": "Ann"})
    model = app.execute(revenue.create_model, "Funnel", "", None, "admin").id
    app.execute(revenue.approve_stages, model, "admin")
    hot, cold = lead_id_for("web-form", "hot"), lead_id_for("web-form", "cold")
    topic = prefix + "revenue.events.v1"

    async def changes(expect: int) -> list[RevenueStageChangedV1]:
        async def read() -> list[Any]:
            records = await read_topic(kafka_bootstrap, topic, expect=expect, settle=0.3, timeout=30)
            assert all(r.key in (str(hot).encode(), str(cold).encode()) for r in records)  # keyed by the lead
            return [
                INTEGRATION_EVENTS[dict(r.headers)["ce_type"].decode()].model_validate_json(r.value) for r in records
            ]

        return await eventually(read, until=lambda found: len(found) >= expect, timeout=60)  # type: ignore[no-any-return]

    async with started(intake), started(assignment):
        inbound = prefix + "leads.inbound.v1"
        await produce(
            kafka_bootstrap,
            inbound,
            [
                (b"hot", as_bytes(inbound_lead("hot", score=55)), []),
                (b"cold", as_bytes(inbound_lead("cold", score=5)), []),
            ],
        )
        placed = await changes(2)
        assert {(c.lead_id, c.to_stage, c.reason, c.logged) for c in placed} == {
            (hot, "lead", "assignment_rule", False),  # Marketo's example: score at least 40 → Lead
            (cold, "new", "assignment_rule", False),
        }
        await assignment.worker.call(app.execute, revenue.approve, model, "admin")
        later = "2026-11-01T11:00:00+00:00"
        await produce(
            kafka_bootstrap, inbound, [(b"cold", as_bytes(inbound_lead("cold", score=25, occurred_at=later)), [])]
        )
        await intake.worker.call(lambda: intake_app.execute(intake_app.qualify, hot, actor="ann"))
        moved = (await changes(4))[2:]
        assert {(c.lead_id, c.from_stage, c.to_stage, c.reason, c.detail, c.actor, c.logged) for c in moved} == {
            (cold, "new", "prospect", "transition", "engaged", "system", True),
            (hot, "lead", "opportunity", "transition", "qualified", "ann", True),
        }
        activity = await eventually(
            lambda: assignment.worker.call(lambda: app.revenue.counts.activity(model_id=model, limit=10)),
            until=lambda found: len(found["items"]) == 2,
        )
        assert {(x["lead_id"], x["to_stage"], x["campaign"]) for x in activity["items"]} == {
            (str(cold), "prospect", "spring"),
            (str(hot), "opportunity", "spring"),
        }
