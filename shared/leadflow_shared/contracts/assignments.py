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
    `method` is round_robin, load_balancing, direct or manual; a manual (re)assignment
    carries its `reason`, and a reassignment names the `previous_seller_id`. `segment_id` is the
    segment (its name, as in `PUT /v1/segments/{name}`) the lead was in when the engine decided;
    null when it was in none, or when a person set the owner (`manual`, `self`: those decisions
    name no segment). Added to V1 later: older messages lack it.
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
    previous_seller_id: str | None = None
    ruleset_version: int | None = None
    segment_id: str | None = None


class LeadAwaitingAssignmentV1(IntegrationEvent):
    """Nobody was assigned: the lead waits in the unassigned queue (`queue_id` None) until a
    re-run finds an eligible seller, or a rule routed it to a named queue for pick-up.

    `reason` says why in one line; `explanation` has the same shape as LeadAssignedV1's.
    """

    cloudevents_type: ClassVar[str] = "lead.awaiting-assignment.v1"

    lead_id: UUID
    reason: str
    queue_id: str | None = None
    waiting_since: datetime
    source: str | None = None
    external_id: str | None = None
    explanation: dict[str, Any] = Field(default_factory=dict)
    ruleset_version: int | None = None
