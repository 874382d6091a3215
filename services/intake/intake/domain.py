"""The Lead aggregate. Pure: standard library and eventsourcing.domain only."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

LEAD_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:lead")


def lead_id_for(source: str, external_id: str) -> UUID:
    """The same upstream lead always gets the same id, so a re-sent lead is recognised."""
    return uuid5(LEAD_NAMESPACE, f"{source}\x1f{external_id}")


class Lead(Aggregate):
    """One lead's life, from the first upstream message on."""

    @staticmethod
    def create_id(source: str, external_id: str, **_: Any) -> UUID:
        return lead_id_for(source, external_id)

    @event("Received")
    def __init__(
        self,
        source: str,
        external_id: str,
        lead_type: str,
        contact: dict[str, Any],
        company: dict[str, Any],
        score: int | None,
        campaign_id: str | None,
        details: dict[str, Any],
        occurred_at: datetime,
        received_at: datetime,
        received_via: str,
    ) -> None:
        self.source = source
        self.external_id = external_id
        self.lead_type = lead_type
        self.contact = contact
        self.company = company
        self.score = score
        self.campaign_id = campaign_id
        self.details = details
        self.occurred_at = occurred_at
        self.received_at = received_at
        self.received_via = received_via
        self.status = "unassigned"
