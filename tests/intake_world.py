"""An intake application with its lead-list read model, driven the way the tests need it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from intake.application import IntakeApplication
from intake.projections import LeadFilters, LeadListProjection, LeadReadModel
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import InboundLeadV1, LeadAssignedV1
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import ReadStore, SQLiteReadStore

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def assigned(
    lead_id: UUID | str,
    seller: str | None,
    team: str | None = None,
    *,
    version: int = 2,
    at: datetime | str = "2026-11-01T10:01:00Z",
    method: str = "round_robin",
) -> LeadAssignedV1:
    """assignment's decision about a lead, as intake consumes it."""
    return LeadAssignedV1(
        aggregate_id=lead_id,
        version=version,
        lead_id=lead_id,
        seller_id=seller,
        team_id=team,
        method=method,
        decided_at=at,
    )


def lead_list_of(app: IntakeApplication, read_store: ReadStore | None = None) -> LeadReadModel:
    """intake's lead list for `app`, in the given read store (a private in-memory one by default)."""
    return LeadReadModel.of(ProjectionRunner(app, read_store or SQLiteReadStore.in_memory(), LeadListProjection()))


class LeadListWorld:
    """intake on the given event store, its lead list in `read_store`, and a clock that moves per lead."""

    def __init__(self, env: Mapping[str, str], read_store: ReadStore) -> None:
        self.clock = FixedClock(START)
        self.app = IntakeApplication(env=env, clock=self.clock)
        self.model = lead_list_of(self.app, read_store)
        self.app.leads_in_stage = self.model.leads_in_stage
        self._versions = itertools.count(1)

    def receive(self, external_id: str, **overrides: Any) -> UUID:
        """A lead received a minute after the previous one."""
        self.clock.advance(timedelta(minutes=1))
        body: dict[str, Any] = {
            "source": "web-form",
            "external_id": external_id,
            "type": "customer_inquiry",
            "contact": {"first_name": "Ada", "last_name": "Lovelace"},
            "company": {"name": "Analytical Engines"},
            "campaign_id": "spring",
            "occurred_at": "2026-11-01T10:00:00Z",
        }
        body.update(overrides)
        return self.app.execute(self.app.receive_lead, InboundLeadV1.model_validate(body), via="http").lead_id

    def assign(self, lead_id: UUID, seller: str | None = "s1", team: str | None = None) -> None:
        decision = assigned(lead_id, seller, team, version=next(self._versions), at=self.clock.now())
        self.app.execute(self.app.on_assignment_decided, decision)

    def ids(self, tab: str = "all", user: str = "ana", **filters: Any) -> set[UUID]:
        self.model.runner.catch_up()
        page = self.model.leads.page(filters=LeadFilters(**filters), tab=tab, user_id=user, limit=200)
        return {UUID(item["lead_id"]) for item in page.items}

    def counts(self, user: str = "ana", **filters: Any) -> dict[str, int]:
        self.model.runner.catch_up()
        return self.model.leads.counts(filters=LeadFilters(**filters), user_id=user)

    def row(self, lead_id: UUID) -> dict[str, Any]:
        self.model.runner.catch_up()
        page = self.model.leads.page(filters=LeadFilters(include_voided=True), user_id="ana", limit=200)
        return next(i for i in page.items if i["lead_id"] == str(lead_id))

    def close(self) -> None:
        self.model.store.close()
        self.app.close()
