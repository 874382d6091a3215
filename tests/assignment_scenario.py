"""A narrated way to drive the assignment service in-process (POPO store, fixed clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from assignment.application import AssignmentApplication, AssignmentPolicy
from assignment.entrypoints.stream import to_integration_event
from assignment.projections import AssignmentReadModel, AssignmentsProjection
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import (
    IntegrationEvent,
    LeadAssignedV1,
    LeadAwaitingAssignmentV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadStatusChangedV1,
    LeadUpdatedV1,
)
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import ReadStore, SQLiteReadStore

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
MONDAY_10_UTC = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
NINE_TO_FIVE = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def lead_id_of(external_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"test-lead:{external_id}")


def everyone(method: str = "round_robin", **rule: Any) -> dict[str, Any]:
    return {"name": rule.pop("name", "everyone"), "target": {"kind": "sellers"}, "method": method, **rule}


class Scenario:
    def __init__(
        self,
        now: datetime = MONDAY_10_UTC,
        *,
        env: dict[str, str] | None = None,
        read_store: ReadStore | None = None,
        **policy: Any,
    ) -> None:
        """POPO store and an in-memory read store, unless `env` and `read_store` name others."""
        self.clock = FixedClock(now)
        self.app = AssignmentApplication(env=env or POPO, clock=self.clock, policy=AssignmentPolicy(**policy))
        self.read_store = read_store or SQLiteReadStore.in_memory()
        self.read_model = AssignmentReadModel(ProjectionRunner(self.app, self.read_store, AssignmentsProjection()))
        self.app.reads = self.read_model
        self.versions: dict[UUID, int] = {}
        self.facts: dict[UUID, dict[str, Any]] = {}

    # -- given --

    def seller(self, seller_id: str, teams: list[str] | None = None, **profile: Any) -> Scenario:
        self.app.execute(self.app.put_seller, seller_id, {"name": seller_id.title(), **profile}, teams)
        return self

    def sellers(self, *seller_ids: str, **profile: Any) -> Scenario:
        for seller_id in seller_ids:
            self.seller(seller_id, **profile)
        return self

    def rules(self, *rules: dict[str, Any], activate: bool = True, name: str = "rules") -> int:
        version = self.app.execute(self.app.draft_ruleset, name, list(rules))
        if activate:
            self.app.execute(self.app.activate_ruleset, version)
        return version

    def later(self, **delta: float) -> Scenario:
        self.clock.advance(timedelta(**delta))
        return self

    # -- when intake says --

    def lead(self, external_id: str, **facts: Any) -> UUID:
        lead_id = lead_id_of(external_id)
        self.versions[lead_id] = 1
        self.facts[lead_id] = facts
        self.app.execute(
            self.app.assign_received_lead,
            LeadReceivedV1(**self._snapshot(lead_id, external_id, facts), received_at=self.clock.now()),
        )
        return lead_id

    def update(self, lead_id: UUID, **facts: Any) -> None:
        self.versions[lead_id] += 1
        self.facts[lead_id] = {**self.facts[lead_id], **facts}
        snapshot = self._snapshot(lead_id, str(lead_id), self.facts[lead_id])
        self.app.execute(
            self.app.update_lead, LeadUpdatedV1(**snapshot, changed_fields=list(facts), updated_at=self.clock.now())
        )

    def status(self, lead_id: UUID, action: str, previous_owner: str | None = None) -> None:
        self.versions[lead_id] += 1
        after = {"recycled": "unassigned", "converted": "converted", "closed_invalid": "closed_invalid"}
        self.app.execute(
            self.app.apply_status_change,
            LeadStatusChangedV1(
                aggregate_id=lead_id,
                version=self.versions[lead_id],
                lead_id=lead_id,
                action=action,
                status_before="assigned",
                status_after=after.get(action, "assigned"),
                previous_owner_id=previous_owner,
                occurred_at=self.clock.now(),
            ),
        )

    def deleted(self, lead_id: UUID) -> None:
        self.versions[lead_id] += 1
        self.app.execute(
            self.app.close_deleted_lead,
            LeadDeletedV1(
                aggregate_id=lead_id, version=self.versions[lead_id], lead_id=lead_id, occurred_at=self.clock.now()
            ),
        )

    def _snapshot(self, lead_id: UUID, external_id: str, facts: dict[str, Any]) -> dict[str, Any]:
        company = {k: facts[k] for k in ("country", "industry", "size_band") if k in facts}
        return {
            "aggregate_id": lead_id,
            "version": self.versions[lead_id],
            "lead_id": lead_id,
            "source": facts.get("source", "web-form"),
            "external_id": external_id,
            "type": facts.get("type", "customer_inquiry"),
            "contact": {},
            "company": company,
            "score": facts.get("score"),
            "campaign_id": facts.get("campaign"),
            "attributes": facts.get("attributes", {}),
            "occurred_at": self.clock.now(),
        }

    # -- then --

    def owner(self, lead_id: UUID) -> str | None:
        return self.app.get_assignment(lead_id).seller_id

    def explanation(self, lead_id: UUID) -> dict[str, Any]:
        return self.app.get_assignment(lead_id).history[-1]["explanation"]  # type: ignore[no-any-return]

    def reasons(self, lead_id: UUID) -> dict[str, list[str]]:
        """Why each candidate was (not) eligible in the last decision: recomputed in full."""
        return {c["seller_id"]: c["reasons"] for c in self.app.explain_in_full(lead_id)[-1]["candidates"]}

    def candidates(self, lead_id: UUID) -> list[dict[str, Any]]:
        """Every candidate of the last decision, recomputed in full (`?full=true`)."""
        return self.app.explain_in_full(lead_id)[-1]["candidates"]  # type: ignore[no-any-return]

    def ranking(self, lead_id: UUID) -> list[str]:
        """The top of the last decision's ranking, as recorded."""
        return [standing["seller_id"] for standing in self.explanation(lead_id)["tie_break"]["top"]]

    def open_leads(self, seller_id: str) -> int:
        return self.app.get_seller(seller_id).open_count

    def published(self) -> list[IntegrationEvent]:
        events = [
            to_integration_event(self.app.mapper.to_domain_event(n))
            for n in self.app.recorder.select_notifications(1, 100_000)
        ]
        return [e for e in events if e is not None]

    def assigned(self) -> list[LeadAssignedV1]:
        return [e for e in self.published() if isinstance(e, LeadAssignedV1)]

    def awaiting(self) -> list[LeadAwaitingAssignmentV1]:
        return [e for e in self.published() if isinstance(e, LeadAwaitingAssignmentV1)]
