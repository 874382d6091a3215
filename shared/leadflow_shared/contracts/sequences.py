"""The sequence service's events on `sequences.events.v1` (key and subject = the lead's id, so a
lead's sequence events stay in order on one partition; `aggregate_id` + `version` = the
enrolment's, the consumers' idempotency key), and the e-mail signals it takes in on
`sequences.signals.v1` (or `POST /v1/enrolments/{id}/signals`).

No personal data: ids, step ids and types, outcomes, causes. The automated SMS request names the
lead, not its phone number: the gateway looks the number up itself.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from .base import Contract, Identifier, IntegrationEvent, LongText, ShortText


class EmailSignal(StrEnum):
    email_opened = "email_opened"
    email_replied = "email_replied"
    link_clicked = "link_clicked"
    attachment_downloaded = "attachment_downloaded"


class SequenceSignalV1(Contract):
    """Something the customer did with an e-mail of a sequence (from the e-mail tracking system)."""

    cloudevents_type: ClassVar[str] = "sequence.signal.v1"

    enrolment_id: UUID
    step_id: Identifier
    """The e-mail step the signal is about (its id in the sequence)."""
    kind: EmailSignal
    occurred_at: datetime
    source: ShortText = "email-tracking"


class SequenceEventV1(IntegrationEvent):
    """What every sequence event carries."""

    lead_id: UUID
    enrolment_id: UUID
    sequence_id: UUID
    sequence_version: int
    owner_id: str | None = None
    occurred_at: datetime

    @property
    def subject(self) -> str:
        return str(self.lead_id)


class LeadEnrolledV1(SequenceEventV1):
    """A lead was connected to a sequence (`via`: segment, manual or advance)."""

    cloudevents_type: ClassVar[str] = "sequence.enrolled.v1"

    via: str
    segment_id: str | None = None
    actor: str


class StepDueV1(SequenceEventV1):
    """A step fell due (once per due time: again only after a snooze)."""

    cloudevents_type: ClassVar[str] = "sequence.step-due.v1"

    step_id: str
    step_type: str
    due_at: datetime


class StepCompletedV1(SequenceEventV1):
    """A step was done: by its seller (`outcome` for calls), by the service (automated steps,
    waits), or a command (`command`: the lead field to update and its value)."""

    cloudevents_type: ClassVar[str] = "sequence.step-completed.v1"

    step_id: str
    step_type: str
    outcome: str | None = None
    has_note: bool = False
    command: dict[str, Any] | None = None
    actor: str


class StepSkippedV1(SequenceEventV1):
    cloudevents_type: ClassVar[str] = "sequence.step-skipped.v1"

    step_id: str
    step_type: str
    reason: LongText
    actor: str


class StepSnoozedV1(SequenceEventV1):
    cloudevents_type: ClassVar[str] = "sequence.step-snoozed.v1"

    step_id: str
    until: datetime
    actor: str


class BranchTakenV1(SequenceEventV1):
    """A condition step decided: `branch` yes or no, and why."""

    cloudevents_type: ClassVar[str] = "sequence.branch-taken.v1"

    step_id: str
    branch: str
    reason: LongText


class EnrolmentExitedV1(SequenceEventV1):
    """The lead left the sequence: `cause` one of disconnected, replied, disqualified, converted,
    qualified, closed_invalid, voided, deleted, recycled, sequence_deactivated,
    sequence_deleted — or `completed` (every step done; `advanced_to`: the sequence an advance step
    moved it to)."""

    cloudevents_type: ClassVar[str] = "sequence.exited.v1"

    cause: str
    early: bool
    """True for every cause but `completed`."""
    advanced_to: UUID | None = None
    actor: str


class EmailSentV1(SequenceEventV1):
    cloudevents_type: ClassVar[str] = "sequence.email-sent.v1"

    step_id: str
    message_id: str


class EmailFailedV1(SequenceEventV1):
    """A delivery attempt failed; `final`: no more attempts (the step is skipped)."""

    cloudevents_type: ClassVar[str] = "sequence.email-failed.v1"

    step_id: str
    reason: LongText
    attempt: int
    final: bool


class SmsRequestedV1(SequenceEventV1):
    """An automated SMS step asks the external gateway to send `text` to the lead."""

    cloudevents_type: ClassVar[str] = "sequence.sms-requested.v1"

    step_id: str
    text: str = Field(max_length=1600)


class OwnerChangedV1(SequenceEventV1):
    """The lead was reassigned: the enrolment (and its work) follows the new owner."""

    cloudevents_type: ClassVar[str] = "sequence.owner-changed.v1"

    previous_owner_id: str | None = None


SEQUENCE_EVENTS: tuple[type[SequenceEventV1], ...] = (
    LeadEnrolledV1,
    StepDueV1,
    StepCompletedV1,
    StepSkippedV1,
    StepSnoozedV1,
    BranchTakenV1,
    EnrolmentExitedV1,
    EmailSentV1,
    EmailFailedV1,
    SmsRequestedV1,
    OwnerChangedV1,
)
