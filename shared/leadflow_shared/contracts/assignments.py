"""Events assignment publishes on `assignments.events.v1` (key and subject = lead id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from .base import IntegrationEvent


class LeadAssignedV1(IntegrationEvent):
    """assignment decided who owns a lead.

    `team_id` is set when the target was a team (or store); `explanation` carries why
    (rule set version, matched rule, segment, candidates, tie-break) where the engine has one.
    """

    cloudevents_type: ClassVar[str] = "lead.assigned.v1"

    lead_id: UUID
    seller_id: str | None = None
    team_id: str | None = None
    method: str
    decided_at: datetime
    source: str | None = None
    external_id: str | None = None
    reason: str | None = None
    explanation: dict[str, Any] = Field(default_factory=dict)
