"""Reading customers: one by id, or those whose phone or email is exactly the one asked for.

A lookup goes through the contact index (the same entries conversion consults), so it is an
exact match on the normalised value — E.164 phone, lower-cased email — and finds at most the
first `contact_index.KEPT` customers that share it. A customer's contact details are the
personal data of the lead it was made from: once that lead is erased they read as empty and the
customer is no longer in the index, so no lookup finds it; by id it still answers, without them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from leadflow_shared.store import ServiceApplication

from ..domain import ContactIndexEntry, Customer, index_id


class CustomerNotFound(LookupError):
    def __init__(self, customer_id: UUID) -> None:
        super().__init__(f"customer {customer_id} not found")
        self.customer_id = customer_id


class Customers:
    """intake's customers, read from its event store (the application's `customers`)."""

    def __init__(self, app: ServiceApplication) -> None:
        self._app = app

    def get(self, customer_id: UUID) -> Customer:
        customer = self._find(customer_id)
        if not isinstance(customer, Customer):
            raise CustomerNotFound(customer_id)
        return customer

    def find(self, *, phone: str | None = None, email: str | None = None) -> list[Customer]:
        """The customers with this normalised phone (E.164) and/or email (both given: both match)."""
        wanted: list[str] | None = None
        for kind, value in (("phone", phone), ("email", email.lower() if email else None)):
            if value is None:
                continue
            entry = self._find(index_id(kind, value))
            found = list(entry.customer_ids) if isinstance(entry, ContactIndexEntry) else []
            wanted = found if wanted is None else [i for i in wanted if i in found]
        customers = (self._find(UUID(i)) for i in wanted or [])
        return [c for c in customers if isinstance(c, Customer)]

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self._app.latest(aggregate_id)
        except AggregateNotFoundError:
            return None
