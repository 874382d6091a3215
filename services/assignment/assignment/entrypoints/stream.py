"""assignment's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from leadflow_shared.contracts import (
    IntegrationEvent,
    LeadAssignedV1,
    LeadAwaitingAssignmentV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadStatusChangedV1,
    LeadUpdatedV1,
    TeamMembershipChangedV1,
)
from leadflow_shared.relay import Publication
from leadflow_shared.subscriptions import Route, Subscription
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, SELLERS_EVENTS

from ..application import AssignmentApplication
from ..domain import Assignment, AssignmentError, Roster, RuleError, SellerError

AssignmentEvent: Any = Assignment


def subscriptions(app: AssignmentApplication) -> list[Subscription]:
    return [
        Subscription(
            topic=LEADS_EVENTS,
            description="intake's lead events: new leads are assigned, updates re-evaluate the segment, "
            "recycled leads are assigned again, converted, invalid and deleted leads release their owner.",
            routes={
                LeadReceivedV1.cloudevents_type: Route(LeadReceivedV1, app.assign_received_lead, _the_lead),
                LeadUpdatedV1.cloudevents_type: Route(LeadUpdatedV1, app.update_lead, _the_lead),
                LeadStatusChangedV1.cloudevents_type: Route(LeadStatusChangedV1, app.apply_status_change, _the_lead),
                LeadDeletedV1.cloudevents_type: Route(LeadDeletedV1, app.close_deleted_lead, _the_lead),
            },
            refusals=(AssignmentError, RuleError, SellerError),
        )
    ]


def _the_lead(event: Any) -> list[UUID]:
    """Each lead event's use case loads the lead's Assignment (its id is the lead's)."""
    return [event.lead_id]


def _decided(e: Any) -> IntegrationEvent:
    return LeadAssignedV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        lead_id=e.originator_id,
        seller_id=e.seller_id,
        team_id=e.team_id,
        method=e.method,
        decided_at=e.decided_at,
        source=e.source,
        external_id=e.external_id,
        reason=e.reason,
        explanation=e.explanation,
        previous_seller_id=e.previous_seller_id,
        ruleset_version=e.explanation.get("ruleset_version"),
    )


def _waited(e: Any) -> IntegrationEvent:
    return LeadAwaitingAssignmentV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        lead_id=e.originator_id,
        reason=e.reason,
        queue_id=e.queue_id,
        waiting_since=e.since,
        source=e.source,
        external_id=e.external_id,
        explanation=e.explanation,
        ruleset_version=e.explanation.get("ruleset_version"),
    )


def _members_added(e: Any) -> IntegrationEvent:
    return _membership(e, added=list(e.sellers))


def _members_removed(e: Any) -> IntegrationEvent:
    return _membership(e, removed=list(e.sellers))


def _team_defined(e: Any) -> IntegrationEvent:
    """Recorded before Spine v2: the team's whole member list at once."""
    return _membership(e, added=list(e.members), replaced=True)


def _membership(
    e: Any, *, added: list[str] | None = None, removed: list[str] | None = None, replaced: bool = False
) -> IntegrationEvent:
    return TeamMembershipChangedV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        team_id=e.team_id,
        added=added or [],
        removed=removed or [],
        replaced=replaced,
        changed_at=e.timestamp,
    )


def publications() -> list[Publication]:
    return [
        Publication(
            topic=ASSIGNMENTS_EVENTS,
            mappers={AssignmentEvent.Decided: _decided, AssignmentEvent.Waited: _waited},
            contracts=(LeadAssignedV1, LeadAwaitingAssignmentV1),
            description="Who got each lead, or why it waits, with the explanation (key and subject = lead id).",
        ),
        Publication(
            topic=SELLERS_EVENTS,
            mappers={
                Roster.MembersAdded: _members_added,
                Roster.MembersRemoved: _members_removed,
                Roster.TeamDefined: _team_defined,
            },
            contracts=(TeamMembershipChangedV1,),
            description="Who is in which team, change by change (key and subject = the roster's id: one "
            "partition, in order). intake uses it to show sales managers their team members' leads.",
        ),
    ]


def to_integration_event(domain_event: Any) -> IntegrationEvent | None:
    """The integration event a stored domain event becomes on assignments.events.v1 (tests, tools)."""
    mapper = publications()[0].mappers.get(type(domain_event))
    return mapper(domain_event) if mapper is not None else None


__all__ = ["publications", "subscriptions", "to_integration_event"]
