"""Customers, created by converting a lead."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Customer(Aggregate):
    """A customer created by converting a lead."""

    links: tuple[tuple[str, datetime], ...] = ()
    """(lead id, when it became the customer's), in order: set by the events that link a lead, so
    customers recorded before it existed have it too once loaded (customers are not snapshotted)."""
    erased_at: datetime | None = None
    """When the contact details were erased (with the lead the customer was made from)."""

    @event("Created")
    def __init__(
        self,
        name: str | None,
        email: str | None,
        phone: str | None,
        company: str | None,
        from_lead_id: UUID,
        at: datetime,
    ) -> None:
        self.name = name
        self.email = email
        self.phone = phone
        self.company = company
        self.lead_ids = [str(from_lead_id)]
        self.links = ((str(from_lead_id), at),)

    @event("LeadLinked")
    def link_lead(self, lead_id: UUID, at: datetime) -> None:
        self.lead_ids.append(str(lead_id))
        self.links = (*self.links, (str(lead_id), at))

    def linked_at(self, lead_id: str) -> datetime | None:
        return next((at for linked, at in self.links if linked == lead_id), None)

    @property
    def from_lead_id(self) -> UUID:
        """The lead the customer was made from: its contact details are that lead's personal data."""
        return UUID(self.lead_ids[0])

    def erase(self, at: datetime) -> None:
        if any(v is not None for v in (self.name, self.email, self.phone, self.company)):
            self._erased(at=at)

    @event("Erased")
    def _erased(self, at: datetime) -> None:
        self.name = self.email = self.phone = self.company = None
        self.erased_at = at
