"""The normalised email/phone index that finds duplicates.

An index entry is an aggregate per normalised value, so "is this phone already a
customer?" is answered consistently: two writers racing on the same phone conflict on
the entry's version and one retries.

An entry keeps the first `KEPT` leads and customers that share its value and then stops
changing: a value thousands of leads share (a switchboard number, "test@test.com") must not
make each new lead load, store and publish a list that grows with every lead before it
(measured: at 500,000 leads the bench's entries held up to 84 events and intake's throughput
fell by half). A lead matching a full entry is still marked a possible duplicate, of those
first ones.

An entry does not record the value itself (its id is derived from it, which is all a lookup
needs), so no email or phone is stored in plain text here; entries recorded before kept it.
A lead whose personal data is erased is removed from its entries.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_INDEX_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:intake:contact-index")
KEPT = 20
"""Leads (and, apart, customers) an entry remembers; later ones add no event."""


@lru_cache(maxsize=20_000)  # asked several times per lead while it is taken in
def index_id(kind: str, normalised: str) -> UUID:
    return uuid5(_INDEX_NAMESPACE, f"{kind}:{normalised}")


class ContactIndexEntry(Aggregate):
    """The leads and customers that share one normalised email or phone."""

    @classmethod
    def open(cls, kind: str, value: str, lead_id: UUID | None = None) -> ContactIndexEntry:
        return cls(id=index_id(kind, value), kind=kind, lead_id=lead_id)

    @event("Opened")
    def __init__(self, id: UUID, kind: str, lead_id: UUID | None = None) -> None:
        # `lead_id`: the lead that opened the entry (one event instead of Opened + LeadAdded;
        # entries opened before it was recorded have their first lead in a LeadAdded).
        self.kind = kind
        self.lead_ids: list[str] = [str(lead_id)] if lead_id is not None else []
        self.customer_ids: list[str] = []

    def add_lead(self, lead_id: UUID) -> None:
        if len(self.lead_ids) < KEPT and str(lead_id) not in self.lead_ids:
            self._lead_added(lead_id=lead_id)

    @event("LeadAdded")
    def _lead_added(self, lead_id: UUID) -> None:
        self.lead_ids.append(str(lead_id))

    def remove_lead(self, lead_id: UUID) -> None:
        """The lead's personal data was erased: it no longer shares this value with anyone."""
        if str(lead_id) in self.lead_ids:
            self._lead_removed(lead_id=lead_id)

    @event("LeadRemoved")
    def _lead_removed(self, lead_id: UUID) -> None:
        self.lead_ids.remove(str(lead_id))

    def remove_customer(self, customer_id: UUID) -> None:
        if str(customer_id) in self.customer_ids:
            self._customer_removed(customer_id=customer_id)

    @event("CustomerRemoved")
    def _customer_removed(self, customer_id: UUID) -> None:
        self.customer_ids.remove(str(customer_id))

    def add_customer(self, customer_id: UUID) -> None:
        if len(self.customer_ids) < KEPT and str(customer_id) not in self.customer_ids:
            self._customer_added(customer_id=customer_id)

    @event("CustomerAdded")
    def _customer_added(self, customer_id: UUID) -> None:
        self.customer_ids.append(str(customer_id))
