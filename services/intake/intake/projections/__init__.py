"""intake's read models: the lead list (tabs, filters, counts, favorites), rebuildable from the
events, and the views of one lead, its events and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import ReadStore
from leadflow_shared.views import event_view

from . import schema
from .lead_list import LeadListProjection
from .queries import InvalidQuery, LeadFilters, LeadList, LeadPage
from .views import contact_view, customer_view, deal_view, lead_view, settings_view


@dataclass
class LeadReadModel:
    """The lead list's runner (which fills it) and queries (which read it)."""

    runner: ProjectionRunner
    leads: LeadList

    @classmethod
    def of(cls, runner: ProjectionRunner) -> LeadReadModel:
        return cls(runner=runner, leads=LeadList(runner.store))

    @property
    def store(self) -> ReadStore:
        return self.runner.store

    def leads_in_stage(self, stage_id: str) -> list[UUID]:
        """For `IntakeApplication.leads_in_stage`: caught up first, so a just-moved lead counts."""
        self.runner.catch_up()
        return self.leads.leads_in_stage(stage_id)

    def teams_of(self, seller_id: str) -> frozenset[str]:
        """The teams a seller is in (the object rules), caught up first: a membership intake has
        stored is in force at once."""
        self.runner.catch_up()
        return self.leads.teams_of(seller_id)

    def rebuild(self, progress: Any = None) -> dict[str, int]:
        return self.runner.rebuild(progress)

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        with self.store.transaction(write=False) as tx:
            return schema.dump(tx)


__all__ = [
    "InvalidQuery",
    "LeadFilters",
    "LeadList",
    "LeadListProjection",
    "LeadPage",
    "LeadReadModel",
    "contact_view",
    "customer_view",
    "deal_view",
    "event_view",
    "lead_view",
    "settings_view",
]
