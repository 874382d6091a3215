"""assignment's Kafka wiring: what it consumes and what it publishes, in one visible map."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from leadflow_shared.contracts import (
    IntegrationEvent,
    LeadAssignedV1,
    LeadAwaitingAssignmentV1,
    LeadChangedV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadStatusChangedV1,
    LeadUpdatedV1,
    RevenueSlaMissedV1,
    RevenueStageChangedV1,
    SellerProfileChangedV1,
    TeamMembershipChangedV1,
)
from leadflow_shared.relay import Mapper, Publication
from leadflow_shared.subscriptions import Route, Subscription
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, REVENUE_EVENTS, SELLERS_EVENTS
from leadflow_shared.unit_of_work import UnitOfWork

from ..application import AssignmentApplication
from ..domain import PROFILE_DEFAULTS, Assignment, AssignmentError, Roster, RuleError, Seller, SellerError
from ..domain.revenue import LeadStage, RevenueError

AssignmentEvent: Any = Assignment
SellerEvent: Any = Seller
PositionEvent: Any = LeadStage


def subscriptions(app: AssignmentApplication) -> list[Subscription]:
    revenue = app.revenue
    return [
        Subscription(
            topic=LEADS_EVENTS,
            description="intake's lead events: new leads are assigned, updates re-evaluate the segment, "
            "recycled leads are assigned again; converted, invalid, voided, merged, qualified, disqualified and "
            "deleted leads release their owner; unvoided, unmerged and reopened leads are decided again. "
            "The same events place leads in the live revenue models' stages and fire their transitions "
            "(received, data changes, status changes, qualification, stage moves in intake).",
            routes={
                LeadReceivedV1.cloudevents_type: Route(
                    LeadReceivedV1, _then(app.assign_received_lead, revenue.lead_received), _the_lead(app)
                ),
                LeadUpdatedV1.cloudevents_type: Route(
                    LeadUpdatedV1, _then(app.update_lead, revenue.lead_updated), _the_lead(app)
                ),
                LeadStatusChangedV1.cloudevents_type: Route(
                    LeadStatusChangedV1, _then(app.apply_status_change, revenue.status_changed), _the_lead(app)
                ),
                LeadDeletedV1.cloudevents_type: Route(
                    LeadDeletedV1, _then(app.close_deleted_lead, revenue.lead_deleted), _the_lead(app)
                ),
                LeadChangedV1.cloudevents_type: Route(
                    LeadChangedV1, _then(app.apply_lead_change, revenue.lead_changed), _the_lead(app)
                ),
            },
            refusals=(AssignmentError, RuleError, SellerError, RevenueError),
            exclusive=app.decisions,
        )
    ]


def _then(*use_cases: Callable[[UnitOfWork, Any], Any]) -> Callable[[UnitOfWork, Any], None]:
    """One message, several use cases in order, in the same unit of work (assignment decides
    first, then the revenue models place the lead)."""

    def apply(uow: UnitOfWork, message: Any) -> None:
        for use_case in use_cases:
            use_case(uow, message)

    return apply


def _the_lead(app: AssignmentApplication) -> Callable[[Any], list[UUID]]:
    """A lead event's use cases load the lead's Assignment (its id is the lead's) and its place
    in each live revenue model: looked up for the whole batch at once."""

    def aggregates(event: Any) -> list[UUID]:
        return [event.lead_id, *app.revenue.positions_of(event.lead_id)]

    return aggregates


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


def _stage_changed(e: Any) -> IntegrationEvent:
    return RevenueStageChangedV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        lead_id=e.lead_id,
        model_id=e.model_id,
        generation=e.generation,
        from_stage=e.from_stage,
        to_stage=e.to_stage,
        reason=e.reason,
        detail=e.detail,
        actor=e.actor,
        campaign_id=e.campaign,
        manual=e.manual,
        logged=e.logged,
        sla_due_at=e.sla_due_at,
        changed_at=e.at,
    )


def _sla_missed(e: Any) -> IntegrationEvent:
    return RevenueSlaMissedV1(
        aggregate_id=e.originator_id,
        version=e.originator_version,
        lead_id=e.lead_id,
        model_id=e.model_id,
        generation=e.generation,
        stage=e.stage,
        entered_at=e.entered_at,
        missed_at=e.at,
    )


REVENUE_MAPPERS: dict[type[Any], Mapper] = {
    PositionEvent.StageChanged: _stage_changed,
    PositionEvent.SlaMissed: _sla_missed,
}


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
        Publication(
            topic=REVENUE_EVENTS,
            mappers=REVENUE_MAPPERS,
            contracts=(RevenueStageChangedV1, RevenueSlaMissedV1),
            description="Every revenue stage change of every lead in a live revenue model, with the old and "
            "new stage, the reason (assignment rule, transition, gate, manual, bulk run, merge), the acting user "
            "and whether it was logged; and every SLA miss (key and subject = lead id).",
        ),
    ]


def to_integration_event(domain_event: Any) -> IntegrationEvent | None:
    """The integration event a stored domain event becomes on assignments.events.v1 (tests, tools)."""
    mapper = ASSIGNMENT_MAPPERS.get(type(domain_event))
    return mapper(domain_event) if mapper is not None else None


__all__ = ["publications", "subscriptions", "to_integration_event"]
