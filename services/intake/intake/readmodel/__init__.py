"""intake's read models: the lead list (tabs, filters, counts, favorites), rebuildable from the events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ..application import IntakeApplication
from . import schema
from .api import lead_list_router
from .projector import LeadListProjector
from .queries import InvalidQuery, LeadFilters, LeadList, LeadPage
from .store import ReadStore, open_read_store, read_store_path


@dataclass
class LeadReadModel:
    """The read store, the projector that fills it and the queries that read it."""

    store: ReadStore
    projector: LeadListProjector
    leads: LeadList

    @classmethod
    def open(cls, app: IntakeApplication, store: ReadStore, **projector_options: Any) -> LeadReadModel:
        return cls(store=store, projector=LeadListProjector(app, store, **projector_options), leads=LeadList(store))

    def leads_in_stage(self, stage_id: str) -> list[UUID]:
        """For `IntakeApplication.leads_in_stage`: caught up first, so a just-moved lead counts."""
        self.projector.catch_up()
        return self.leads.leads_in_stage(stage_id)

    def rebuild(self, progress: Any = None) -> dict[str, int]:
        return self.projector.rebuild(progress)

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        with self.store.transaction(write=False) as tx:
            return schema.dump(tx)

    def close(self) -> None:
        self.store.close()


__all__ = [
    "InvalidQuery",
    "LeadFilters",
    "LeadList",
    "LeadListProjector",
    "LeadPage",
    "LeadReadModel",
    "ReadStore",
    "lead_list_router",
    "open_read_store",
    "read_store_path",
]
