"""Events intake publishes on `leads.events.v1`."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from .base import IntegrationEvent
from .inbound import Company, Contact, LeadType


class LeadReceivedV1(IntegrationEvent):
    """intake recorded a new lead (topic `leads.events.v1`)."""

    cloudevents_type: ClassVar[str] = "lead.received.v1"

    lead_id: UUID
    source: str
    external_id: str
    type: LeadType
    contact: Contact
    company: Company
    score: int | None = None
    campaign_id: str | None = None
    occurred_at: datetime
    received_at: datetime
