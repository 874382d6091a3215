"""Integration-event contracts: frozen, versioned pydantic v2 models.

A breaking change is a new model (``...V2``), never an edit of an existing one. Every
outgoing event carries its aggregate id and version, the consumers' idempotency key.
Each topic's events live in their own module; this package re-exports them all.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .assignments import LeadAssignedV1, LeadAwaitingAssignmentV1
from .base import Contract, IntegrationEvent
from .inbound import (
    MAX_INBOUND_BYTES,
    Company,
    Contact,
    ContactLifecycleChangedV1,
    InboundLeadV1,
    LeadType,
    normalise_phone,
)
from .leads import (
    LeadChangedV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadSnapshot,
    LeadStatus,
    LeadStatusChangedV1,
    LeadUpdatedV1,
)
from .referrals import (
    REFERRAL_EVENTS,
    InboundReferralV1,
    Qualification,
    ReferralAcceptedV1,
    ReferralContactFlagChangedV1,
    ReferralDeclinedV1,
    ReferralEventV1,
    ReferralExpiredV1,
    ReferralLostV1,
    ReferralReceivedV1,
    ReferralTeamMemberAddedV1,
    ReferralUpdatedV1,
    ReferralWonV1,
)
from .revenue import REVENUE_EVENTS, RevenueEventV1, RevenueSlaMissedV1, RevenueStageChangedV1
from .sellers import SellerProfileChangedV1, TeamMembershipChangedV1
from .sequences import (
    SEQUENCE_EVENTS,
    BranchTakenV1,
    EmailFailedV1,
    EmailSentV1,
    EmailSignal,
    EnrolmentExitedV1,
    LeadEnrolledV1,
    OwnerChangedV1,
    SequenceEventV1,
    SequenceSignalV1,
    SmsRequestedV1,
    StepCompletedV1,
    StepDueV1,
    StepSkippedV1,
    StepSnoozedV1,
)

_PUBLISHED: tuple[type[IntegrationEvent], ...] = (
    LeadReceivedV1,
    LeadUpdatedV1,
    LeadStatusChangedV1,
    LeadDeletedV1,
    LeadChangedV1,
    LeadAssignedV1,
    LeadAwaitingAssignmentV1,
    TeamMembershipChangedV1,
    SellerProfileChangedV1,
    *REFERRAL_EVENTS,
    *SEQUENCE_EVENTS,
    *REVENUE_EVENTS,
)
INTEGRATION_EVENTS: dict[str, type[IntegrationEvent]] = {model.cloudevents_type: model for model in _PUBLISHED}
"""CloudEvents type → contract model, for consumers decoding a topic."""

ALL_CONTRACTS: tuple[type[BaseModel], ...] = (
    InboundLeadV1,
    ContactLifecycleChangedV1,
    InboundReferralV1,
    SequenceSignalV1,
    *INTEGRATION_EVENTS.values(),
)


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every contract, keyed by model name (see `make schemas`)."""
    return {model.__name__: model.model_json_schema() for model in ALL_CONTRACTS}


__all__ = [
    "ALL_CONTRACTS",
    "INTEGRATION_EVENTS",
    "MAX_INBOUND_BYTES",
    "REFERRAL_EVENTS",
    "REVENUE_EVENTS",
    "SEQUENCE_EVENTS",
    "BranchTakenV1",
    "Company",
    "Contact",
    "ContactLifecycleChangedV1",
    "Contract",
    "EmailFailedV1",
    "EmailSentV1",
    "EmailSignal",
    "EnrolmentExitedV1",
    "InboundLeadV1",
    "InboundReferralV1",
    "IntegrationEvent",
    "LeadAssignedV1",
    "LeadAwaitingAssignmentV1",
    "LeadChangedV1",
    "LeadDeletedV1",
    "LeadEnrolledV1",
    "LeadReceivedV1",
    "LeadSnapshot",
    "LeadStatus",
    "LeadStatusChangedV1",
    "LeadType",
    "LeadUpdatedV1",
    "OwnerChangedV1",
    "Qualification",
    "ReferralAcceptedV1",
    "ReferralContactFlagChangedV1",
    "ReferralDeclinedV1",
    "ReferralEventV1",
    "ReferralExpiredV1",
    "ReferralLostV1",
    "ReferralReceivedV1",
    "ReferralTeamMemberAddedV1",
    "ReferralUpdatedV1",
    "ReferralWonV1",
    "RevenueEventV1",
    "RevenueSlaMissedV1",
    "RevenueStageChangedV1",
    "SellerProfileChangedV1",
    "SequenceEventV1",
    "SequenceSignalV1",
    "SmsRequestedV1",
    "StepCompletedV1",
    "StepDueV1",
    "StepSkippedV1",
    "StepSnoozedV1",
    "TeamMembershipChangedV1",
    "json_schemas",
    "normalise_phone",
]
