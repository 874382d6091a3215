"""assignment's use cases: one method each, shaped load → call → save."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking

from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.contracts import LeadReceivedV1
from leadflow_shared.store import ServiceApplication, new_processing_event

from .domain import ROSTER_ID, Assignment, NoSellerAvailable, Roster


class AssignmentNotFound(LookupError):
    def __init__(self, lead_id: UUID) -> None:
        super().__init__(f"no assignment for lead {lead_id}")
        self.lead_id = lead_id


class AssignmentApplication(ServiceApplication):
    name = "assignment"
    env = {"AGGREGATE_CACHE_MAXSIZE": "10000"}  # the roster is read for every lead

    def __init__(self, env: Mapping[str, str] | None = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()

    def add_sellers(self, sellers: Iterable[tuple[str, str]]) -> int:
        """Add sellers to the roster; ones already there are left alone. Returns how many joined."""
        roster = self._roster()
        joined = 0
        for seller_id, name in sellers:
            if not roster.has_seller(seller_id):
                roster.add_seller(seller_id, name)
                joined += 1
        if joined:
            self.save(roster)
        return joined

    def roster(self) -> Roster:
        return self._roster()

    def assign_received_lead(self, lead: LeadReceivedV1, *, tracking: Tracking | None = None) -> None:
        """Round-robin a newly received lead; a re-sent LeadReceived changes nothing."""
        processing = new_processing_event(tracking)
        existing = self._find(lead.lead_id)
        if existing is not None and existing.has_seen(lead.version):
            self.record(processing)  # tracking only
            return
        assignment = existing or Assignment(
            lead_id=lead.lead_id, lead_version=lead.version, source=lead.source, external_id=lead.external_id
        )
        roster = self._roster()
        now = self.clock.now()
        try:
            seller_id = roster.next_in_turn()
        except NoSellerAvailable as exc:
            assignment.wait_for_seller(str(exc), since=now)
        else:
            roster.take_turn(seller_id, lead.lead_id)
            assignment.decide(seller_id, "round_robin", now)
        processing.collect_events(assignment, roster)
        self.record(processing)

    def get_assignment(self, lead_id: UUID) -> Assignment:
        try:
            return self.repository.get(lead_id)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise AssignmentNotFound(lead_id) from None

    def _find(self, lead_id: UUID) -> Assignment | None:
        try:
            return self.repository.get(lead_id)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return None

    def _roster(self) -> Roster:
        try:
            return self.repository.get(ROSTER_ID)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return Roster()
