"""assignment's use cases: one method each, shaped load → call → save (inside `_retrying`
where a write may race with another process; see store.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import Tracking

from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.contracts import LeadDeletedV1, LeadSnapshot, LeadStatusChangedV1, LeadUpdatedV1
from leadflow_shared.store import new_processing_event

from ..domain import (
    PROFILE_DEFAULTS,
    RULEBOOK_ID,
    SEGMENTS_ID,
    Assignment,
    Decision,
    Roster,
    RuleBook,
    SegmentCatalog,
    Seller,
    SellerState,
    check_profile,
    choose_owner,
    seller_uuid,
)
from ..domain.sellers import ROSTER_ID
from ..projections import AssignmentReadModel, load_report
from ..simulation import simulate
from .store import SellerNotFound, SharedStoreApplication, team_map

CLOSING_ACTIONS = {"converted": "converted", "closed_invalid": "closed as invalid"}


class AssignmentNotFound(LookupError):
    def __init__(self, lead_id: UUID) -> None:
        super().__init__(f"no assignment for lead {lead_id}")
        self.lead_id = lead_id


@dataclass(frozen=True)
class AssignmentPolicy:
    """Service-wide switches (see AssignmentSettings)."""

    segment_moves_allowed: bool = True
    """When a lead changes, may it move from one segment to another (it always may join one)?"""
    recycle_excludes_previous_owner: bool = True
    """A recycled lead is never handed straight back to the seller who had it."""


def lead_facts(lead: LeadSnapshot) -> dict[str, Any]:
    """The lead as rules and segments read it: no contact details (personal data stays in intake)."""
    return {
        "lead_id": str(lead.lead_id),
        "source": lead.source,
        "external_id": lead.external_id,
        "type": lead.type.value,
        "country": lead.company.country,
        "region": lead.company.region,
        "city": lead.company.city,
        "industry": lead.company.industry,
        "company_size": lead.company.size_band,
        "score": lead.score,
        "campaign": lead.campaign_id,
        "lifecycle_stage": lead.lifecycle_stage,
        "product_interest": lead.product_interest,
        "attributes": dict(lead.attributes),
        "occurred_at": lead.occurred_at.isoformat(),
    }


class AssignmentApplication(SharedStoreApplication):
    name = "assignment"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        policy: AssignmentPolicy | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()
        self.policy = policy or AssignmentPolicy()
        self.read_model = AssignmentReadModel()

    # -- sellers and teams -------------------------------------------------------------

    def add_sellers(self, entries: Iterable[tuple[str, str] | Mapping[str, Any]]) -> int:
        """Register sellers that are not there yet (roster file, bulk API); returns how many joined."""
        joined = 0
        for entry in entries:
            if not isinstance(entry, Mapping):
                entry = {"seller_id": entry[0], "name": entry[1]}
            fields = {k: v for k, v in entry.items() if k not in ("seller_id", "teams")}
            register = partial(self._register, entry["seller_id"], fields, entry.get("teams"), only_new=True)
            if self._retrying(register):
                joined += 1
        return joined

    def put_seller(self, seller_id: str, profile: Mapping[str, Any], teams: list[str] | None = None) -> bool:
        """Create a seller or change the given fields of an existing one; True if created."""
        return self._retrying(lambda: self._register(seller_id, dict(profile), teams, only_new=False))

    def _register(self, seller_id: str, profile: dict[str, Any], teams: list[str] | None, *, only_new: bool) -> bool:
        check_profile(profile)
        roster = self._roster()
        seller = self._find_seller(seller_id)
        created = seller is None
        if seller is None:
            seller = Seller(seller_id=seller_id, profile={**PROFILE_DEFAULTS, **profile})
            roster.add_seller(seller_id)
        elif only_new:
            return False
        else:
            seller.change_profile(profile)
        if teams is not None:
            roster.join_teams(seller_id, teams)
        self.save(roster, seller)
        return created

    def get_seller(self, seller_id: str) -> Seller:
        self._refresh()
        try:
            return self.repository.get(seller_uuid(seller_id))  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise SellerNotFound(seller_id) from None

    def roster(self) -> Roster:
        self._refresh()
        return self._roster()

    def sellers(self) -> list[SellerState]:
        self._refresh()
        return self._seller_states(self._singleton(ROSTER_ID, Roster, copy=False))

    def define_team(self, team_id: str, name: str, members: list[str]) -> None:
        def attempt() -> None:
            roster = self._roster()
            roster.define_team(team_id, name, members)
            self.save(roster)

        self._retrying(attempt)

    # -- segments and rule sets -----------------------------------------------------------

    def define_segment(self, name: str, priority: int, criteria: Any) -> None:
        def attempt() -> None:
            catalog = self.segments()
            catalog.define(name, priority, criteria)
            self.save(catalog)

        self._retrying(attempt)

    def remove_segment(self, name: str) -> None:
        def attempt() -> None:
            catalog = self.segments()
            catalog.remove(name)
            self.save(catalog)

        self._retrying(attempt)

    def segments(self) -> SegmentCatalog:
        self._refresh()
        return self._singleton(SEGMENTS_ID, SegmentCatalog)

    def preview_segment(self, name: str, draft: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Existing leads that the segment would hold now (highest priority wins). With `draft`
        ({priority, criteria}), as if the segment were defined that way; nothing is saved."""
        catalog = self.segments()
        if draft is None:
            catalog.check_exists(name)
        else:
            catalog.define(name, draft["priority"], draft["criteria"])  # validated, never saved
        self.read_model.catch_up(self)
        return [row for row in self.read_model.leads_in_order() if catalog.segment_for(row["lead"]) == name]

    def rulebook(self) -> RuleBook:
        self._refresh()
        return self._singleton(RULEBOOK_ID, RuleBook)

    def draft_ruleset(self, name: str, rules: list[dict[str, Any]]) -> int:
        def attempt() -> int:
            book = self.rulebook()
            version = book.draft(name, rules, self.clock.now())
            self.save(book)
            return version

        return self._retrying(attempt)

    def revise_ruleset(self, version: int, name: str, rules: list[dict[str, Any]]) -> None:
        def attempt() -> None:
            book = self.rulebook()
            book.revise(version, name, rules)
            self.save(book)

        self._retrying(attempt)

    def activate_ruleset(self, version: int) -> None:
        def attempt() -> None:
            book = self.rulebook()
            book.activate(version, self.clock.now())
            self.save(book)

        self._retrying(attempt)

    # -- leads from intake ------------------------------------------------------------

    def assign_received_lead(self, lead: LeadSnapshot, *, tracking: Tracking | None = None) -> None:
        """Open the lead's assignment and decide its owner; a re-sent event changes nothing."""

        def attempt() -> None:
            processing = new_processing_event(tracking)
            existing = self._find(lead.lead_id)
            if existing is not None:
                self.record(processing)  # seen already (re-sent, or an update got here first)
                return
            facts = lead_facts(lead)
            now = self.clock.now()
            assignment = Assignment(
                lead_id=lead.lead_id,
                lead_version=lead.version,
                lead=facts,
                segment=self._singleton(SEGMENTS_ID, SegmentCatalog, copy=False).segment_for(facts),
                arrived_at=now,
            )
            self._decide(processing, assignment, now)
            self.record(processing)

        self._retrying(attempt, tracking)

    def update_lead(self, lead: LeadUpdatedV1, *, tracking: Tracking | None = None) -> None:
        """Keep the lead's facts current and re-evaluate its segment."""

        def attempt() -> None:
            assignment = self._find(lead.lead_id)
            if assignment is None:
                return self.assign_received_lead(lead, tracking=tracking)  # received before we existed
            processing = new_processing_event(tracking)
            if not assignment.has_seen(lead.version):
                facts = lead_facts(lead)
                assignment.change_lead(lead.version, facts)
                segment = self.segments().segment_for(facts)
                if segment != assignment.segment and (assignment.segment is None or self.policy.segment_moves_allowed):
                    assignment.move_to_segment(segment)
                processing.collect_events(assignment)
            self.record(processing)
            return None

        self._retrying(attempt, tracking)

    def apply_status_change(self, change: LeadStatusChangedV1, *, tracking: Tracking | None = None) -> None:
        """Recycled: release the owner and decide again. Converted / invalid: release and close."""

        def attempt() -> None:
            processing = new_processing_event(tracking)
            assignment = self._find(change.lead_id)
            closing = CLOSING_ACTIONS.get(change.action)
            if (
                assignment is None
                or assignment.has_seen(change.version)
                or (closing is None and change.action != "recycled")
                or assignment.status == "closed"  # nothing left to release
            ):
                self.record(processing)
                return
            now = self.clock.now()
            previous = self._release(
                processing,
                assignment,
                change.version,
                change.previous_owner_id,
                now,
                reason=closing or "recycled",
                closed=closing is not None,
            )
            if closing is None:
                exclude = (
                    frozenset({previous}) if previous and self.policy.recycle_excludes_previous_owner else frozenset()
                )
                self._decide(processing, assignment, now, exclude)
            self.record(processing)

        self._retrying(attempt, tracking)

    def close_deleted_lead(self, deleted: LeadDeletedV1, *, tracking: Tracking | None = None) -> None:
        def attempt() -> None:
            processing = new_processing_event(tracking)
            assignment = self._find(deleted.lead_id)
            if assignment is not None and not assignment.has_seen(deleted.version) and assignment.status != "closed":
                now = self.clock.now()
                self._release(
                    processing,
                    assignment,
                    deleted.version,
                    deleted.previous_owner_id,
                    now,
                    reason="deleted",
                    closed=True,
                )
            self.record(processing)

        self._retrying(attempt, tracking)

    # -- people and jobs ----------------------------------------------------------------

    def assign_by_hand(
        self, lead_id: UUID, *, seller_id: str | None, team_id: str | None, reason: str, actor: str | None = None
    ) -> Assignment:
        """Manual assignment or reassignment. It counts as the seller's turn in round robin and
        may go over capacity (a person decided)."""

        def attempt() -> Assignment:
            assignment = self.get_assignment(lead_id)
            assignment.check_is_open()
            roster = self._roster()
            if team_id is not None:
                roster.team_members(team_id)  # raises UnknownTeam
            seller = self._read_seller(seller_id, copy=True) if seller_id is not None else None
            processing = new_processing_event(None)
            now = self.clock.now()
            if assignment.seller_id is not None and assignment.seller_id != seller_id:
                previous = self._read_seller(assignment.seller_id, copy=True)
                previous.release_lead(str(lead_id), "reassigned")
                processing.collect_events(previous)
            assignment.assign_by_hand(seller_id, team_id, now, reason, actor)
            processing.collect_events(assignment)
            if seller is not None:
                turn = max((s.last_turn for s in self._seller_states(roster)), default=0) + 1
                seller.take_lead(str(lead_id), now, turn, manual=True)
                processing.collect_events(seller)
            self.record(processing)
            return assignment

        return self._retrying(attempt)

    def rerun_waiting(self) -> dict[str, int]:
        """Try every lead in the unassigned queue again, oldest first. No cap per run."""
        self.read_model.catch_up(self)
        waiting = self.read_model.waiting_in_arrival_order()
        assigned = 0
        for lead_id in waiting:
            if self._retrying(partial(self._rerun_one, lead_id)):
                assigned += 1
        return {"tried": len(waiting), "assigned": assigned, "still_waiting": len(waiting) - assigned}

    def _rerun_one(self, lead_id: UUID) -> bool:
        assignment = self._find(lead_id)
        if assignment is None or not assignment.is_waiting_for_rerun:
            return False
        now = self.clock.now()
        decision = self._choose(
            assignment, now, frozenset(assignment.history[-1]["explanation"].get("excluded_sellers", []))
        )
        if decision.outcome == "waiting":
            return False  # still nobody: no new event, the queue does not fill the store
        processing = new_processing_event(None)
        self._apply_decision(processing, assignment, decision, now)
        self.record(processing)
        return decision.outcome == "seller" or decision.outcome == "team"

    # -- reads --------------------------------------------------------------------------

    def get_assignment(self, lead_id: UUID) -> Assignment:
        self._refresh()
        assignment = self._find(lead_id)
        if assignment is None:
            raise AssignmentNotFound(lead_id)
        return assignment

    def waiting_leads(self) -> list[dict[str, Any]]:
        self.read_model.catch_up(self)
        return self.read_model.queue()

    def load_report(self) -> dict[str, Any]:
        self._refresh()
        self.read_model.catch_up(self)
        roster = self._roster()
        sellers = [self._read_seller(s) for s in roster.order]
        return load_report(sellers, self.read_model, self.clock.now())

    def simulate_ruleset(
        self, version: int, *, last: int | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Any]:
        """What-if: replay past leads through rule-set `version` (a draft, typically). Read-only."""
        ruleset = self.rulebook().get(version)
        return simulate(self, ruleset, last=last, since=since, until=until)

    # -- internals -----------------------------------------------------------------------

    def _choose(self, assignment: Assignment, now: datetime, exclude: frozenset[str] = frozenset()) -> Decision:
        roster = self._singleton(ROSTER_ID, Roster, copy=False)
        return choose_owner(
            lead=assignment.lead,
            segment=assignment.segment,
            ruleset=self._singleton(RULEBOOK_ID, RuleBook, copy=False).active(),
            sellers=self._seller_states(roster),
            teams=team_map(roster),
            now=now,
            exclude=exclude,
        )

    def _decide(
        self,
        processing: ProcessingEvent[UUID],
        assignment: Assignment,
        now: datetime,
        exclude: frozenset[str] = frozenset(),
    ) -> Decision:
        decision = self._choose(assignment, now, exclude)
        self._apply_decision(processing, assignment, decision, now)
        return decision

    def _apply_decision(
        self, processing: ProcessingEvent[UUID], assignment: Assignment, decision: Decision, now: datetime
    ) -> None:
        # Order matters for replay: the lead's events come before the seller's LeadTaken,
        # so replaying the log sees every seller as it was when the decision was made.
        assignment.apply(decision, now)
        processing.collect_events(assignment)
        if decision.seller_id is not None:
            seller = self._read_seller(decision.seller_id, copy=True)
            seller.take_lead(str(assignment.lead_id), now, decision.turn, manual=False)
            processing.collect_events(seller)

    def _release(
        self,
        processing: ProcessingEvent[UUID],
        assignment: Assignment,
        lead_version: int,
        reported_owner: str | None,
        now: datetime,
        *,
        reason: str,
        closed: bool,
    ) -> str | None:
        previous = assignment.seller_id or reported_owner
        if previous is not None and self._find_seller(previous) is not None:
            seller = self._read_seller(previous, copy=True)
            seller.release_lead(str(assignment.lead_id), reason)
            processing.collect_events(seller)
        assignment.release(lead_version, reason, now, closed=closed)
        processing.collect_events(assignment)
        return previous
