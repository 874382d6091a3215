"""A narrated way to drive assignment's revenue models in-process: lead events go through the
service's own leads.events.v1 routes (the same use cases a Kafka batch runs), a fixed clock."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from assignment_scenario import MONDAY_10_UTC, Scenario, lead_id_of

from assignment.domain.revenue import LeadStage
from assignment.entrypoints.stream import subscriptions
from assignment.projections import RevenueProjection, RevenueReadModel
from leadflow_shared.contracts import LeadChangedV1, LeadDeletedV1, LeadReceivedV1, LeadStatusChangedV1, LeadUpdatedV1
from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import ReadStore
from leadflow_shared.store import StoreWorker


class RevenueWorld(Scenario):
    def __init__(self, *, env: dict[str, str] | None = None, read_store: ReadStore | None = None) -> None:
        """POPO and in-memory SQLite, or the stores named (PostgreSQL in the integration tests)."""
        super().__init__(MONDAY_10_UTC, env=env, read_store=read_store)
        self.revenue = self.app.revenue
        self.revenue_reads = RevenueReadModel(ProjectionRunner(self.app, self.read_store, RevenueProjection()))
        self.revenue.leads, self.revenue.counts = self.read_model, self.revenue_reads
        self.routes = subscriptions(self.app)[0].routes
        index = ProjectionRunner(self.app, self.read_store, DeadlinesProjection([LeadStage]))
        self.deadlines = DeadlineRunner(
            self.app, StoreWorker("revenue-test"), index, self.revenue.deadline_fired, clock=self.clock
        )
        self.sellers("ann")

    # -- lead events, through the subscription's routes --

    def _route(self, message: Any) -> None:
        self.app.execute(self.routes[message.cloudevents_type].use_case, message)

    def receive(self, external_id: str, **facts: Any) -> UUID:
        lead_id = lead_id_of(external_id)
        self.versions[lead_id] = 1
        self.facts[lead_id] = facts
        self._route(LeadReceivedV1(**self._snapshot(lead_id, external_id, facts), received_at=self.clock.now()))
        return lead_id

    def change_data(self, lead_id: UUID, **facts: Any) -> None:
        self.versions[lead_id] += 1
        self.facts[lead_id] = {**self.facts[lead_id], **facts}
        snapshot = self._snapshot(lead_id, str(lead_id), self.facts[lead_id])
        self._route(LeadUpdatedV1(**snapshot, changed_fields=list(facts), updated_at=self.clock.now()))

    def lifecycle(self, lead_id: UUID, action: str, actor: str | None = None) -> None:
        self.versions[lead_id] += 1
        after = {"recycled": "unassigned", "converted": "converted", "closed_invalid": "closed_invalid"}
        self._route(
            LeadStatusChangedV1(
                aggregate_id=lead_id,
                version=self.versions[lead_id],
                lead_id=lead_id,
                action=action,
                status_before="assigned",
                status_after=after.get(action, "assigned"),
                actor=actor,
                occurred_at=self.clock.now(),
            )
        )

    def delete(self, lead_id: UUID, actor: str | None = "ada") -> None:
        self.versions[lead_id] += 1
        self._route(
            LeadDeletedV1(
                aggregate_id=lead_id,
                version=self.versions[lead_id],
                lead_id=lead_id,
                actor=actor,
                occurred_at=self.clock.now(),
            )
        )

    def intake_change(self, lead_id: UUID, change: str, actor: str | None = "maria") -> None:
        self.versions[lead_id] += 1
        self._route(
            LeadChangedV1(
                aggregate_id=lead_id,
                version=self.versions[lead_id],
                lead_id=lead_id,
                change=change,
                actor=actor,
                occurred_at=self.clock.now(),
            )
        )

    # -- the model --

    def model(self, name: str = "Funnel", definition: dict[str, Any] | None = None) -> UUID:
        return self.app.execute(self.revenue.create_model, name, "", definition, "admin").id  # type: ignore[no-any-return]

    def approve_stages(self, model_id: UUID) -> None:
        self.app.execute(self.revenue.approve_stages, model_id, "admin")

    def approve(self, model_id: UUID) -> None:
        self.app.execute(self.revenue.approve, model_id, "admin")

    def unapprove(self, model_id: UUID) -> None:
        self.app.execute(self.revenue.unapprove, model_id, "admin")

    def live(self, model_id: UUID, *leads_in: tuple[UUID, str]) -> None:
        """Stages approved, the given leads placed by hand, then approved."""
        self.approve_stages(model_id)
        for lead_id, stage in leads_in:
            self.move(model_id, lead_id, stage)
        self.approve(model_id)

    def move(self, model_id: UUID, lead_id: UUID, stage: str, actor: str = "maria") -> str:
        return self.app.execute(self.revenue.move_lead, model_id, lead_id, stage, actor)  # type: ignore[no-any-return]

    def bulk(self, model_id: UUID, stage: str, *, lead_ids: list[UUID] | None = None, lead_filter: Any = None) -> Any:
        run = self.app.execute(
            self.revenue.start_run, model_id, stage, lead_ids=lead_ids, lead_filter=lead_filter, actor="maria"
        )
        return self.revenue.run_to_end(run.id)

    # -- then --

    def stage(self, model_id: UUID, lead_id: UUID) -> str | None:
        return self.revenue.position(model_id, lead_id)["stage"]  # type: ignore[no-any-return]

    def activity(self, **filters: Any) -> list[dict[str, Any]]:
        return self.revenue_reads.activity(limit=500, **filters)["items"]  # type: ignore[no-any-return]

    def stream_of(self, model_id: UUID, lead_id: UUID) -> list[Any]:
        from assignment.domain.revenue import lead_stage_id

        return list(self.app.events.get(lead_stage_id(model_id, lead_id)))
