"""Events intake publishes on `leads.events.v1` (key and subject = lead id)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from .base import IntegrationEvent
from .inbound import Company, Contact, LeadType


class LeadSnapshot(IntegrationEvent):
    """The lead's attributes as assignment rules and segments see them.

    No personal data: `contact` is always empty and `company` has no name (intake keeps them,
    encrypted with the lead's key; a subscriber that needs them reads the lead by id)."""

    lead_id: UUID
    source: str
    external_id: str
    type: LeadType
    contact: Contact
    company: Company
    score: int | None = None
    campaign_id: str | None = None
    lifecycle_stage: str | None = None
    product_interest: str | None = None
    contact_requested: bool = False
    attributes: dict[str, str] = Field(default_factory=dict)
    occurred_at: datetime


class LeadReceivedV1(LeadSnapshot):
    """intake recorded a new lead."""

    cloudevents_type: ClassVar[str] = "lead.received.v1"

    received_at: datetime
    owner_id: str | None = None
    """Set when the lead was made with an owner (a seller's own lead, or a manager's pick):
    assignment records it as a manual assignment instead of deciding. Added to V1 later."""
    created_by: str | None = None
    """Who made it: `upstream:<source>`, or the user who posted it. Added to V1 later."""


class LeadUpdatedV1(LeadSnapshot):
    """An upstream system sent a newer version of an existing lead; the snapshot is current."""

    cloudevents_type: ClassVar[str] = "lead.updated.v1"

    changed_fields: list[str]
    updated_at: datetime


class LeadStatus(StrEnum):
    unassigned = "unassigned"
    assigned = "assigned"
    converted = "converted"
    closed_invalid = "closed_invalid"
    voided = "voided"
    deleted = "deleted"


class LeadStatusChangedV1(IntegrationEvent):
    """A lifecycle transition of a lead.

    `action` names what happened (assigned, unassigned — assignment found nobody when deciding
    again —, recycled, converted, closed_invalid, voided, unvoided, merged, unmerged); the owner
    fields say who held the lead before and after, so a consumer can keep open-lead counts per
    seller without reading intake's store.
    """

    cloudevents_type: ClassVar[str] = "lead.status-changed.v1"

    lead_id: UUID
    source: str | None = None
    external_id: str | None = None
    action: str
    status_before: LeadStatus
    status_after: LeadStatus
    owner_id: str | None = None
    team_id: str | None = None
    previous_owner_id: str | None = None
    previous_team_id: str | None = None
    reason: str | None = None
    actor: str | None = None
    related_lead_id: UUID | None = None
    occurred_at: datetime


class LeadDeletedV1(IntegrationEvent):
    """Tombstone: the lead is gone from every read model."""

    cloudevents_type: ClassVar[str] = "lead.deleted.v1"

    lead_id: UUID
    source: str | None = None
    external_id: str | None = None
    previous_owner_id: str | None = None
    reason: str | None = None
    actor: str | None = None
    occurred_at: datetime


class LeadChangedV1(IntegrationEvent):
    """Any other change to a lead: its stage, qualification, follow-ups, documents, duplicates, associations.

    `change` names it (stage_moved, qualified, disqualified, reopened, followed_up, document_linked,
    document_unlinked, marked_possible_duplicate, associated, absorbed, released, erased — the lead's personal data
    was erased: a subscriber drops whatever it keeps of it);
    `data` holds that change's fields. `qualified` and `disqualified` take the lead out of open
    work (`data.status_after`; absent on messages from before they did) and `reopened` brings it
    back (`data.restored_status`): assignment releases and re-decides the owner, sequences exit.
    """

    cloudevents_type: ClassVar[str] = "lead.changed.v1"

    lead_id: UUID
    source: str | None = None
    external_id: str | None = None
    change: str
    data: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = None
    occurred_at: datetime
