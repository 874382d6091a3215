"""An intake application with its lead-list read model, driven the way the tests need it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from intake.application import IntakeApplication
from intake.readmodel import LeadFilters, LeadReadModel
from intake.readmodel.store import ReadStore
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import InboundLeadV1, LeadAssignedV1

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class LeadListWorld:
    """intake on the given event store, its lead list in `read_store`, and a clock that moves per lead."""

    def __init__(self, env: Mapping[str, str], read_store: ReadStore) -> None:
        self.clock = FixedClock(START)
        self.app = IntakeApplication(env=env, clock=self.clock)
        self.model = LeadReadModel.open(self.app, read_store)
        self.app.leads_in_stage = self.model.leads_in_stage
        self.app.on_recorded.append(self.model.projector.on_recorded)
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
        return self.app.receive_lead(InboundLeadV1.model_validate(body), via="http").lead_id

    def assign(self, lead_id: UUID, seller: str | None = "s1", team: str | None = None) -> None:
        self.app.on_assignment_decided(
            LeadAssignedV1(
                aggregate_id=lead_id,
                version=next(self._versions),
                lead_id=lead_id,
                seller_id=seller,
                team_id=team,
                method="round_robin",
                decided_at=self.clock.now(),
            )
        )

    def ids(self, tab: str = "all", user: str = "ana", **filters: Any) -> set[UUID]:
        page = self.model.leads.page(filters=LeadFilters(**filters), tab=tab, user_id=user, limit=200)
        return {UUID(item["lead_id"]) for item in page.items}

    def counts(self, user: str = "ana", **filters: Any) -> dict[str, int]:
        return self.model.leads.counts(filters=LeadFilters(**filters), user_id=user)

    def row(self, lead_id: UUID) -> dict[str, Any]:
        page = self.model.leads.page(filters=LeadFilters(include_voided=True), user_id="ana", limit=200)
        return next(i for i in page.items if i["lead_id"] == str(lead_id))

    def close(self) -> None:
        self.model.close()
        self.app.close()
