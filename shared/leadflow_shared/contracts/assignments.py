"""Events assignment publishes on `assignments.events.v1`."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from .base import IntegrationEvent


class LeadAssignedV1(IntegrationEvent):
    """assignment decided who owns a lead (topic `assignments.events.v1`)."""

    cloudevents_type: ClassVar[str] = "lead.assigned.v1"

    lead_id: UUID
    seller_id: str
    method: str
    decided_at: datetime
    source: str | None = None
    external_id: str | None = None
