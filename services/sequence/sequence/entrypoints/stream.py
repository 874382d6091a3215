"""sequence's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from uuid import UUID

from leadflow_shared.contracts import (
    SEQUENCE_EVENTS,
    BranchTakenV1,
    EmailFailedV1,
    EmailSentV1,
    EnrolmentExitedV1,
    IntegrationEvent,
    LeadAssignedV1,
    LeadChangedV1,
    LeadDeletedV1,
    LeadEnrolledV1,
    LeadReceivedV1,
    LeadStatusChangedV1,
    LeadUpdatedV1,
    OwnerChangedV1,
    SellerProfileChangedV1,
    SequenceEventV1,
    SequenceSignalV1,
    SmsRequestedV1,
    StepCompletedV1,
    StepDueV1,
    StepSkippedV1,
    StepSnoozedV1,
)
from leadflow_shared.relay import Mapper, Publication
from leadflow_shared.subscriptions import Route, Subscription
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, SELLERS_EVENTS, SEQUENCES_EVENTS, SEQUENCES_SIGNALS

from ..application import SequenceApplication
from ..domain import Enrolment, SequenceError, walk

EnrolmentEvent: Any = Enrolment
PUBLISHED_TOPICS = (SEQUENCES_EVENTS,)


def subscriptions(app: SequenceApplication) -> list[Subscription]:
    return [
        Subscription(
            topic=ASSIGNMENTS_EVENTS,
            description="assignment's decisions: a lead assigned in a segment linked to sequences is enrolled "
            "in each (its owner: the seller); a reassigned lead's enrolments follow the new owner.",
            routes={LeadAssignedV1.cloudevents_type: Route(LeadAssignedV1, app.on_assigned, app.the_lead)},
            refusals=(SequenceError,),
        ),
        Subscription(
            topic=LEADS_EVENTS,
            description="intake's lead events: the lead's fields and stage (for conditions), and the exits — "
            "qualified, disqualified, converted, closed as invalid, voided, recycled, deleted.",
            routes={
                LeadReceivedV1.cloudevents_type: Route(LeadReceivedV1, app.on_lead_snapshot, app.the_lead),
                LeadUpdatedV1.cloudevents_type: Route(LeadUpdatedV1, app.on_lead_snapshot, app.the_lead),
                LeadStatusChangedV1.cloudevents_type: Route(LeadStatusChangedV1, app.on_status_changed, app.the_lead),
                LeadChangedV1.cloudevents_type: Route(LeadChangedV1, app.on_lead_changed, app.the_lead),
                LeadDeletedV1.cloudevents_type: Route(LeadDeletedV1, app.on_lead_deleted, app.the_lead),
            },
            # Each use case tolerates a late or repeated message (fields keep the newest version,
            # exits happen once), so no per-lead inbox is kept: one write less per lead event.
            ordered=False,
            refusals=(SequenceError,),
        ),
        Subscription(
            topic=SELLERS_EVENTS,
            description="assignment's seller profiles: each seller's time zone, working hours and out-of-office "
            "(the calendar waits are counted on). Team membership changes are skipped.",
            routes={
                SellerProfileChangedV1.cloudevents_type: Route(
                    SellerProfileChangedV1, app.on_seller_profile, app.the_seller
                )
            },
            refusals=(SequenceError,),
        ),
        Subscription(
            topic=SEQUENCES_SIGNALS,
            description="E-mail signals from the tracking system: CloudEvents of type sequence.signal.v1 or a "
            "bare SequenceSignalV1 (opened, replied, link clicked, attachment downloaded). An invalid signal, "
            "or one the enrolment cannot use, goes to the dead-letter topic with the reason.",
            routes={SequenceSignalV1.cloudevents_type: Route(SequenceSignalV1, _signal(app), _the_enrolment)},
            bare_type=SequenceSignalV1.cloudevents_type,
            ordered=False,
            unknown_types="dead_letter",
            refusals=(SequenceError, LookupError),
            when_stuck="dead_letter",
        ),
    ]


def _signal(app: SequenceApplication) -> Any:
    def apply(uow: Any, signal: SequenceSignalV1) -> None:
        app.signal(
            uow,
            signal.enrolment_id,
            kind=signal.kind.value,
            step_id=signal.step_id,
            occurred_at=signal.occurred_at,
            source=signal.source,
        )

    return apply


def _the_enrolment(signal: SequenceSignalV1) -> list[UUID]:
    return [signal.enrolment_id]


def _base(e: Any) -> dict[str, Any]:
    """What every sequence event carries; the enrolment's identity is added by `EnrolmentFacts`."""
    return {
        "aggregate_id": e.originator_id,
        "version": e.originator_version,
        "enrolment_id": e.originator_id,
        "lead_id": e.originator_id,
        "sequence_id": e.originator_id,
        "sequence_version": 0,
        "occurred_at": e.at,
    }


def _enrolled(e: Any) -> IntegrationEvent:
    return LeadEnrolledV1(
        **{**_base(e), "lead_id": e.lead_id, "sequence_id": e.sequence_id, "sequence_version": e.sequence_version},
        owner_id=e.owner_id,
        via=e.via,
        segment_id=e.segment_id,
        actor=e.actor,
    )


def _exited(e: Any) -> IntegrationEvent:
    return EnrolmentExitedV1(**_base(e), cause=e.cause, early=True, actor=e.actor)


def _finished(e: Any) -> IntegrationEvent:
    return EnrolmentExitedV1(**_base(e), cause="completed", early=False, advanced_to=e.advanced_to, actor="system")


SEQUENCE_MAPPERS: dict[type[Any], Mapper] = {
    EnrolmentEvent.Enrolled: _enrolled,
    EnrolmentEvent.StepDue: lambda e: StepDueV1(**_base(e), step_id=e.step_id, step_type="", due_at=e.due_at),
    EnrolmentEvent.StepCompleted: lambda e: StepCompletedV1(
        **_base(e),
        step_id=e.step_id,
        step_type="",
        outcome=e.outcome,
        has_note=bool(e.note),
        command=e.command,
        actor=e.actor,
    ),
    EnrolmentEvent.StepSkipped: lambda e: StepSkippedV1(
        **_base(e), step_id=e.step_id, step_type="", reason=e.reason, actor=e.actor
    ),
    EnrolmentEvent.StepSnoozed: lambda e: StepSnoozedV1(**_base(e), step_id=e.step_id, until=e.until, actor=e.actor),
    EnrolmentEvent.BranchTaken: lambda e: BranchTakenV1(
        **_base(e), step_id=e.step_id, branch=e.branch, reason=e.reason[:4000]
    ),
    EnrolmentEvent.Exited: _exited,
    EnrolmentEvent.Finished: _finished,
    EnrolmentEvent.EmailSent: lambda e: EmailSentV1(**_base(e), step_id=e.step_id, message_id=e.message_id),
    EnrolmentEvent.EmailFailed: lambda e: EmailFailedV1(
        **_base(e), step_id=e.step_id, reason=e.reason[:4000], attempt=e.attempt, final=e.final
    ),
    EnrolmentEvent.SmsRequested: lambda e: SmsRequestedV1(**_base(e), step_id=e.step_id, text=e.text),
    EnrolmentEvent.OwnerChanged: lambda e: OwnerChangedV1(
        **{**_base(e), "owner_id": e.owner_id}, previous_owner_id=e.previous_owner_id
    ),
}
"""What goes out on sequences.events.v1. Step reached, signals received and queued e-mails stay
inside (a signal's effect goes out as the branch it took or the exit it caused)."""


class EnrolmentFacts:
    """Completes each outgoing event with the enrolment's identity: the lead, the sequence and its
    version (fixed when it was enrolled), the owner (changed only by OwnerChanged, which the relay
    passes in order) and the type of the step (from the version's steps). Remembered per
    enrolment; an enrolment first seen mid-stream (a restart) is loaded once at that version.
    Runs on the store thread."""

    def __init__(self, app: SequenceApplication, remembered: int = 50_000) -> None:
        self._app = app
        self._known: OrderedDict[UUID, dict[str, Any]] = OrderedDict()
        self._remembered = remembered
        self._step_types: dict[tuple[UUID, int], dict[str, str]] = {}

    def __call__(self, event: IntegrationEvent) -> IntegrationEvent:
        if not isinstance(event, SequenceEventV1):
            return event
        if isinstance(event, LeadEnrolledV1):
            self._remember(event.aggregate_id, event.lead_id, event.sequence_id, event.sequence_version, event.owner_id)
            return event
        known = self._known.get(event.aggregate_id)
        if known is None:
            enrolment: Enrolment = self._app.repository.get(event.aggregate_id, version=event.version)
            known = self._remember(
                event.aggregate_id,
                enrolment.lead_id,
                enrolment.sequence_id,
                enrolment.sequence_version,
                enrolment.owner_id,
            )
        elif isinstance(event, OwnerChangedV1):
            known["owner_id"] = event.owner_id
        update = dict(known)
        if "step_type" in type(event).model_fields:
            update["step_type"] = self._step_type(known["sequence_id"], known["sequence_version"], event)
        return event.model_copy(update=update)

    def _remember(
        self, enrolment_id: UUID, lead_id: UUID, sequence_id: UUID, version: int, owner_id: str | None
    ) -> dict[str, Any]:
        known = {"lead_id": lead_id, "sequence_id": sequence_id, "sequence_version": version, "owner_id": owner_id}
        self._known[enrolment_id] = known
        self._known.move_to_end(enrolment_id)
        if len(self._known) > self._remembered:
            self._known.popitem(last=False)
        return known

    def _step_type(self, sequence_id: UUID, version: int, event: IntegrationEvent) -> str:
        types = self._step_types.get((sequence_id, version))
        if types is None:
            steps = self._app.get_sequence_version(sequence_id, version)["steps"]
            types = self._step_types[(sequence_id, version)] = {str(s["id"]): str(s["type"]) for s in walk(steps)}
        return types.get(str(getattr(event, "step_id", "")), "")


def publications(app: SequenceApplication) -> list[Publication]:
    return [
        Publication(
            topic=SEQUENCES_EVENTS,
            mappers=SEQUENCE_MAPPERS,
            contracts=SEQUENCE_EVENTS,
            description="What happens to each lead in its sequences (key and subject = lead id; aggregate id "
            "and version = the enrolment's): enrolled, step due, completed, skipped, snoozed, branch taken, "
            "exited (cause), e-mail sent / failed, SMS requested, owner changed. No personal data.",
            enrich=EnrolmentFacts(app),
        )
    ]
