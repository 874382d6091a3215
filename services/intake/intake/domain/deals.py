"""Deals: what qualifying a lead creates (HubSpot's "require a deal to qualify")."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event


def deal_id_for(lead_id: UUID, qualification: int) -> UUID:
    """The deal of a lead's n-th qualification: the same unit of work replayed makes the same id."""
    return uuid5(lead_id, f"deal:{qualification}")


class Deal(Aggregate):
    """A deal created when a lead is qualified, linked to the lead (and the lead to it)."""

    @staticmethod
    def create_id(lead_id: UUID, qualification: int, **_: object) -> UUID:
        return deal_id_for(lead_id, qualification)

    @event("Created")
    def __init__(
        self,
        lead_id: UUID,
        qualification: int,
        name: str,
        amount: float,
        currency: str,
        owner_id: str | None,
        created_by: str,
        at: datetime,
    ) -> None:
        self.lead_id = lead_id
        self.qualification = qualification
        self.name = name
        self.amount = amount
        self.currency = currency
        self.owner_id = owner_id
        self.created_by = created_by
        self.created_at = at
