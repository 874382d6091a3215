"""assignment's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

from collections.abc import Mapping
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
    SellerProfileChangedV1,
    TeamMembershipChangedV1,
)
from leadflow_shared.relay import Mapper, Publication
from leadflow_shared.subscriptions import Route, Subscription
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, SELLERS_EVENTS

from ..application import AssignmentApplication
from ..domain import PROFILE_DEFAULTS, Assignment, AssignmentError, Roster, RuleError, Seller, SellerError

AssignmentEvent: Any = Assignment
SellerEvent: Any = Seller


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
        segment_id=e.explanation.get("segment"),
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


ASSIGNMENT_MAPPERS: dict[type[Any], Mapper] = {AssignmentEvent.Decided: _decided, AssignmentEvent.Waited: _waited}
"""Every decision about a lead goes out on assignments.events.v1 (releases stay inside the service)."""


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


def _seller_registered(e: Any) -> IntegrationEvent:
    return SellerProfileChangedV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        changed_at=e.timestamp,
        **_calendar(e.seller_id, e.profile),
    )


def _seller_profile_changed(e: Any) -> IntegrationEvent:
    # The domain event holds only the fields that changed: `SellerCalendars` makes it whole.
    return SellerProfileChangedV1.model_construct(
        aggregate_id=e.originator_id, version=e.originator_version, previous_version=None, changed_at=e.timestamp
    )


def _calendar(seller_id: str, profile: Mapping[str, Any]) -> dict[str, Any]:
    """What a seller's calendar event carries of their profile. Defaults fill the fields a profile
    stored before they existed lacks; an out-of-office range's note (free text) is left out."""
    p = {**PROFILE_DEFAULTS, **profile}
    return {
        "seller_id": seller_id,
        "name": p["name"],
        "time_zone": p["time_zone"],
        "working_hours": p["working_hours"],
        "out_of_office": [{"start": r["start"], "end": r["end"]} for r in p["out_of_office"]],
        "holiday_list": p["holiday_list"],
        "active": p["active"],
    }


class SellerCalendars:
    """Completes a seller's profile change from the seller as stored at that event's version (its
    whole calendar, not just what changed). Runs on the store thread."""

    def __init__(self, app: AssignmentApplication) -> None:
        self._app = app

    def __call__(self, event: IntegrationEvent) -> IntegrationEvent:
        if not isinstance(event, SellerProfileChangedV1) or event.version == 1:
            return event  # membership changes, and registrations (a seller's version 1), are whole already
        seller: Seller = self._app.repository.get(event.aggregate_id, version=event.version)
        # the mapper made it without validation (it lacked these): validated here, whole
        return SellerProfileChangedV1.model_validate({**event.__dict__, **_calendar(seller.seller_id, seller.profile)})


def publications(app: AssignmentApplication) -> list[Publication]:
    return [
        Publication(
            topic=ASSIGNMENTS_EVENTS,
            mappers=ASSIGNMENT_MAPPERS,
            contracts=(LeadAssignedV1, LeadAwaitingAssignmentV1),
            description="Who got each lead, or why it waits, with the explanation and the lead's segment "
            "(key and subject = lead id).",
        ),
        Publication(
            topic=SELLERS_EVENTS,
            mappers={
                Roster.MembersAdded: _members_added,
                Roster.MembersRemoved: _members_removed,
                Roster.TeamDefined: _team_defined,
                SellerEvent.Registered: _seller_registered,
                SellerEvent.ProfileChanged: _seller_profile_changed,
            },
            contracts=(TeamMembershipChangedV1, SellerProfileChangedV1),
            description="Who is in which team, change by change (key and subject = the roster's id: one "
            "partition, in order). intake uses it to show sales managers their team members' leads. "
            "Each seller's whole calendar (time zone, working hours, out of office, holiday list) after "
            "every registration or profile change (key and subject = the seller's id: in order per seller): "
            "the sequence service computes its due times in the seller's calendar.",
            enrich=SellerCalendars(app),
        ),
    ]


def to_integration_event(domain_event: Any) -> IntegrationEvent | None:
    """The integration event a stored domain event becomes on assignments.events.v1 (tests, tools)."""
    mapper = ASSIGNMENT_MAPPERS.get(type(domain_event))
    return mapper(domain_event) if mapper is not None else None


__all__ = ["publications", "subscriptions", "to_integration_event"]
