"""assignment's use cases: one method each, shaped load → call, over a unit of work.

A Kafka batch passes one unit of work for all its messages, an HTTP command one of its own
(`app.execute(app.put_seller, ...)`); the caller commits. Decisions read sellers from the
seller views (updated incrementally); the sellers a decision changes are loaded once per unit
of work, so their optimistic-concurrency versions protect capacity across processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.contracts import (
    LeadChangedV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadSnapshot,
    LeadStatusChangedV1,
    LeadUpdatedV1,
)
from leadflow_shared.store import ServiceApplication
from leadflow_shared.timetravel import DidNotExistYet, state_as_of
from leadflow_shared.unit_of_work import UnitOfWork

from ..domain import (
    HOLIDAYS_ID,
    MOVED_TOPICS,
    ORGANISATION_HOLIDAYS,
    PROFILE_DEFAULTS,
    QUEUES_ID,
    RULEBOOK_ID,
    SEGMENTS_ID,
    Assignment,
    Decision,
    HolidayListInUse,
    HolidayListNotFound,
    HolidayLists,
    InvalidProfile,
    QueueCatalog,
    QueueInUse,
    References,
    Roster,
    RuleBook,
    SegmentCatalog,
    Seller,
    SellerNotTakingLeads,
    SellerOverCapacity,
    SellerState,
    StillInUse,
    check_profile,
    choose_owner,
    seller_uuid,
)
from ..domain.revenue import RevenueCatalog, RevenueModel
from ..domain.sellers import ROSTER_ID
from .facts import lead_facts
from .revenue import RevenueModels
from .sellers import SellerNotFound, SellerViews
from .simulation import explain_in_full
from .whatif import WhatIf, Window

CLOSING_ACTIONS = {
    "converted": "converted",
    "closed_invalid": "closed as invalid",
    "voided": "voided",
    "merged": "merged into another lead",
}
"""intake's lifecycle actions (lead.status-changed.v1) after which a lead is no open work."""
CLOSING_CHANGES = {"qualified": "qualified", "disqualified": "disqualified"}
"""intake's lead changes (lead.changed.v1) that close it (when they moved its status)."""
RESTORING = {"unvoided": "unvoided", "unmerged": "unmerged", "reopened": "reopened"}
"""What brings a closed lead back to open work: assignment decides its owner again."""
OPEN_STATUSES = frozenset({"unassigned", "assigned"})
POOL_REASON = "automatic assignment is off: waiting in the unassigned pool for a manager"


class StaleSellerView(RecordConflictError):
    """The engine chose a seller another process had just filled (or deactivated): decide again."""


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
    auto_assign: bool = True
    """Are leads assigned by the rules at once? Off: they wait in the pool for a manager."""


class AssignmentReads(Protocol):
    """What the use cases read from assignment's read model (injected by the bootstrap)."""

    def waiting_in_arrival_order(self) -> list[UUID]: ...

    def waiting_in_queue(self, queue_id: str) -> int: ...

    def leads_in_order(self) -> Iterator[dict[str, Any]]: ...

    def unowned_in_team(self, team_id: str) -> int: ...

    def arrivals(
        self, *, last: int | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[UUID]: ...


class AssignmentApplication(ServiceApplication):
    name = "assignment"
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "5000"}
    moved_topics = MOVED_TOPICS
    # A seller's stream grows by one event per lead it takes or releases: a snapshot every 500
    # events keeps loading one (after a restart) as cheap at 500,000 leads as at 500. The roster
    # grows by one event per seller or team change, rule sets and segments per edit.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Seller: 500,
        Roster: 200,
        RuleBook: 50,
        SegmentCatalog: 50,
        QueueCatalog: 50,
        HolidayLists: 50,
        RevenueModel: 50,
        RevenueCatalog: 50,
    }

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        policy: AssignmentPolicy | None = None,
        *,
        shared_store: bool = False,
    ) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()
        self.policy = policy or AssignmentPolicy()
        self.views = SellerViews(self, shared_store=shared_store)
        self.reads: AssignmentReads | None = None
        self.revenue = RevenueModels(self, self.clock)
        """Revenue models: their own module (application/revenue.py) on this service's store."""
        self.decisions: AbstractContextManager[Any] | None = None
        """Held around each unit of work of the lead events (bootstrap: a PostgreSQL advisory
        mutex when replicas share the store). Every decision changes the sellers' streams, which
        all replicas share: they take turns instead of racing for them (docs/operations.md)."""

    # -- sellers and teams -------------------------------------------------------------

    def add_sellers(self, uow: UnitOfWork, entries: Iterable[tuple[str, str] | Mapping[str, Any]]) -> int:
        """Register sellers that are not there yet (roster file, bulk API); returns how many joined."""
        joined = 0
        for entry in entries:
            if not isinstance(entry, Mapping):
                entry = {"seller_id": entry[0], "name": entry[1]}
            fields = {k: v for k, v in entry.items() if k not in ("seller_id", "teams")}
            if self._register(uow, entry["seller_id"], fields, entry.get("teams"), only_new=True):
                joined += 1
        return joined

    def put_seller(
        self, uow: UnitOfWork, seller_id: str, profile: Mapping[str, Any], teams: list[str] | None = None
    ) -> bool:
        """Create a seller or change the given fields of an existing one; True if created."""
        return self._register(uow, seller_id, dict(profile), teams, only_new=False)

    def _register(
        self, uow: UnitOfWork, seller_id: str, profile: dict[str, Any], teams: list[str] | None, *, only_new: bool
    ) -> bool:
        check_profile(profile)
        self._check_holiday_list(profile.get("holiday_list"))
        roster = self._roster(uow)
        seller: Seller | None = uow.get(seller_uuid(seller_id))
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
        uow.add(roster, seller)
        self.views.roster_changed(uow, roster)
        self.views.seller_created(uow, seller)
        return created

    def define_team(self, uow: UnitOfWork, team_id: str, name: str, members: list[str]) -> None:
        roster = self._roster(uow)
        roster.define_team(team_id, name, members)
        uow.add(roster)
        self.views.roster_changed(uow, roster)

    def set_seller_active(self, uow: UnitOfWork, seller_id: str, active: bool) -> None:
        """Deactivate (no new automatic assignments; the leads they own stay theirs) or activate
        again: the profile's `active` flag, so the change is published like any profile change."""
        seller = self._existing_seller(uow, seller_id)
        seller.change_profile({"active": active})
        uow.add(seller)
        self.views.seller_created(uow, seller)

    def delete_seller(self, uow: UnitOfWork, seller_id: str) -> None:
        """The seller leaves their teams and the roster for good; their stream stays (every decision
        that named them can still be explained). Refused while they own open leads (reassign them
        first) or while the active rule set names them."""
        seller = self._existing_seller(uow, seller_id)
        self._check_not_routed_to(uow, f"seller {seller_id}", seller_id=seller_id)
        seller.delete(self.clock.now())
        roster = self._roster(uow)
        roster.remove_seller(seller_id)
        uow.add(roster, seller)
        self.views.roster_changed(uow, roster)
        self.views.seller_created(uow, seller)

    def delete_team(self, uow: UnitOfWork, team_id: str) -> None:
        """The members leave the team, then it goes (its events stay). Refused while the active
        rule set routes leads to it, or while leads placed with it have no owner yet."""
        roster = self._roster(uow)
        roster.team_members(team_id)  # raises UnknownTeam
        self._check_not_routed_to(uow, f"team {team_id}", team_id=team_id)
        unowned = self._reads().unowned_in_team(team_id)
        if unowned:
            raise StillInUse(
                f"team {team_id} holds {unowned} open lead(s) nobody owns yet: assign them first "
                "(POST /v1/leads/{id}/assignment)"
            )
        roster.remove_team(team_id)
        uow.add(roster)
        self.views.roster_changed(uow, roster)

    def _existing_seller(self, uow: UnitOfWork, seller_id: str) -> Seller:
        seller: Seller | None = uow.get(seller_uuid(seller_id))
        if seller is None or seller.deleted:
            raise SellerNotFound(seller_id, deleted=seller is not None)
        return seller

    def _check_not_routed_to(
        self,
        uow: UnitOfWork,
        what: str,
        *,
        seller_id: str | None = None,
        team_id: str | None = None,
        queue_id: str | None = None,
    ) -> None:
        book = self._rulebook(uow)
        rules = book.references_in_active(seller_id=seller_id, team_id=team_id, queue_id=queue_id)
        if rules:
            raise StillInUse(
                f"{what} is named by the active rule set (version {book.active()['version']}): "
                f"{', '.join(rules[:20])}; activate a rule set without it first"
            )

    # -- holiday lists --------------------------------------------------------------------

    def define_holiday_list(self, uow: UnitOfWork, list_id: str, name: str, holidays: list[Any]) -> bool:
        """The list holds exactly these days from now on; True if that changed anything.
        Sellers who follow it are off on them from the moment this commits."""
        lists = self._holiday_lists(uow)
        changed = lists.define(list_id, name, holidays)
        if changed:
            uow.add(lists)
            self.views.holidays_changed(uow, lists)
        return changed

    def remove_holiday_list(self, uow: UnitOfWork, list_id: str) -> None:
        """Refused while a seller follows the list (except the organisation's, which sellers
        then follow as an empty list)."""
        lists = self._holiday_lists(uow)
        lists.check_exists(list_id)
        if list_id != ORGANISATION_HOLIDAYS:
            self.views.catch_up(uow)
            followers = [s.seller_id for s in self.views.states(uow) if s.holiday_list == list_id]
            if followers:
                raise HolidayListInUse(
                    f"holiday list {list_id!r} is followed by {len(followers)} seller(s): "
                    f"{', '.join(followers[:20])}; give them another holiday_list first"
                )
        lists.remove(list_id)
        uow.add(lists)
        self.views.holidays_changed(uow, lists)

    def holiday_lists(self) -> HolidayLists:
        self.views.catch_up()
        return self.views.holiday_lists

    def holiday_list_as_of(self, list_id: str, as_of: datetime) -> dict[str, Any]:
        """One list as the log had recorded it at `as_of` (time travel)."""
        try:
            lists = state_as_of(self, HOLIDAYS_ID, as_of, what="the holiday lists")
        except DidNotExistYet as exc:
            raise HolidayListNotFound(
                f"no holiday list {list_id!r} at {as_of.isoformat()}: the first holiday list was defined at "
                f"{exc.first_recorded_at.isoformat()}"
            ) from None
        if lists is None or list_id not in lists.lists:
            raise HolidayListNotFound(f"no holiday list {list_id!r} at {as_of.isoformat()}")
        return lists.lists[list_id]  # type: ignore[no-any-return]

    def _check_holiday_list(self, list_id: Any) -> None:
        if list_id is None or list_id == ORGANISATION_HOLIDAYS:
            return
        self.views.catch_up()
        if list_id not in self.views.holiday_lists.lists:
            raise InvalidProfile(f"holiday_list: there is no holiday list {list_id!r} (define it first)")

    def _holiday_lists(self, uow: UnitOfWork) -> HolidayLists:
        lists: HolidayLists | None = uow.get(HOLIDAYS_ID) or uow.scratch.get(str(HOLIDAYS_ID))
        if lists is None:
            lists = uow.scratch[str(HOLIDAYS_ID)] = HolidayLists()
        return lists

    def get_seller(self, seller_id: str) -> Seller:
        """A seller of the roster (a deleted one is not found)."""
        self.views.catch_up()
        try:
            seller: Seller = self.latest(seller_uuid(seller_id))
        except AggregateNotFoundError:
            raise SellerNotFound(seller_id) from None
        if seller.deleted:
            raise SellerNotFound(seller_id, deleted=True)
        return seller

    def roster(self) -> Roster:
        self.views.catch_up()
        return self.views.roster

    def sellers(self) -> list[SellerState]:
        self.views.catch_up()
        return self.views.states()

    def problems(self) -> dict[str, str]:
        return dict(self.views.problems)

    def seller_aggregates(self) -> list[Seller]:
        """Every seller in the order they joined (the load report)."""
        return [self.get_seller(s) for s in self.roster().order]

    # -- segments and rule sets -----------------------------------------------------------

    def define_segment(
        self, uow: UnitOfWork, name: str, priority: int, criteria: Any, *, match_all: bool = False
    ) -> None:
        catalog = self._segments(uow)
        catalog.define(name, priority, criteria, match_all=match_all)
        uow.add(catalog)

    def remove_segment(self, uow: UnitOfWork, name: str) -> None:
        catalog = self._segments(uow)
        catalog.remove(name)
        uow.add(catalog)

    def segments(self) -> SegmentCatalog:
        return self._find(SEGMENTS_ID) or SegmentCatalog()

    # -- named queues -----------------------------------------------------------------------

    def define_queue(self, uow: UnitOfWork, queue_id: str, name: str, description: str | None = None) -> bool:
        """Define (or rename) a named queue rules may route leads to; True if that changed anything."""
        catalog = self._queues(uow)
        changed = catalog.define(queue_id, name, description)
        if changed:
            uow.add(catalog)
        return changed

    def remove_queue(self, uow: UnitOfWork, queue_id: str) -> None:
        """Refused while the active rule set routes leads to it, or while leads wait in it."""
        catalog = self._queues(uow)
        catalog.check_exists(queue_id)
        self._check_not_routed_to(uow, f"queue {queue_id}", queue_id=queue_id)
        waiting = self._reads().waiting_in_queue(queue_id)
        if waiting:
            raise QueueInUse(f"{waiting} lead(s) wait in queue {queue_id}: assign them first")
        catalog.remove(queue_id)
        uow.add(catalog)

    def queues(self) -> QueueCatalog:
        return self._find(QUEUES_ID) or QueueCatalog()

    def _queues(self, uow: UnitOfWork) -> QueueCatalog:
        catalog: QueueCatalog | None = uow.get(QUEUES_ID) or uow.scratch.get(str(QUEUES_ID))
        if catalog is None:
            catalog = uow.scratch[str(QUEUES_ID)] = QueueCatalog()
        return catalog

    def preview_segment(self, name: str, draft: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Existing leads that the segment would hold now (highest priority wins). With `draft`
        ({priority, criteria, match_all}), as if the segment were defined that way; nothing is saved."""
        catalog = self.segments()
        if draft is None:
            catalog.check_exists(name)
        else:  # validated, never saved
            catalog.define(name, draft["priority"], draft["criteria"], match_all=draft.get("match_all", False))
        return [row for row in self._reads().leads_in_order() if catalog.segment_for(row["lead"]) == name]

    def rulebook(self) -> RuleBook:
        return self._find(RULEBOOK_ID) or RuleBook()

    def draft_ruleset(self, uow: UnitOfWork, name: str, rules: list[dict[str, Any]]) -> int:
        book = self._rulebook(uow)
        version = book.draft(name, rules, self.clock.now(), self._references(uow))
        uow.add(book)
        return version

    def revise_ruleset(self, uow: UnitOfWork, version: int, name: str, rules: list[dict[str, Any]]) -> None:
        book = self._rulebook(uow)
        book.revise(version, name, rules, self._references(uow))
        uow.add(book)

    def activate_ruleset(self, uow: UnitOfWork, version: int) -> int:
        """Activate a draft, or a retired version as a new copy; returns the version now active."""
        book = self._rulebook(uow)
        active = book.activate(version, self.clock.now(), self._references(uow))
        uow.add(book)
        return active

    def delete_ruleset(self, uow: UnitOfWork, version: int) -> None:
        """Only a draft (409 for an active or retired version); the history keeps it."""
        book = self._rulebook(uow)
        book.delete_draft(version)
        uow.add(book)

    def _references(self, uow: UnitOfWork) -> References:
        """What rules may name now, as this unit of work sees it."""
        roster: Roster = uow.get(ROSTER_ID) or Roster()  # never saved from here
        return References(
            sellers=frozenset(roster.order),
            teams=frozenset(roster.teams),
            segments=frozenset(self._segments(uow).segments),
            queues=frozenset(self._queues(uow).queues),
        )

    # -- leads from intake ------------------------------------------------------------

    def assign_received_lead(self, uow: UnitOfWork, lead: LeadSnapshot) -> None:
        """Open the lead's assignment and decide its owner; a re-sent event changes nothing."""
        self.views.catch_up(uow)
        if uow.get(lead.lead_id) is not None:
            return  # seen already (an update got here first)
        facts = lead_facts(lead)
        now = self.clock.now()
        assignment = Assignment(
            lead_id=lead.lead_id,
            lead_version=lead.version,
            lead=facts,
            segment=self._segments(uow).segment_for(facts),
            arrived_at=now,
        )
        uow.add(assignment)
        if (
            isinstance(lead, LeadReceivedV1)
            and lead.owner_id is not None
            and self._owner_takes(uow, lead.owner_id, manual=True)
        ):
            # Made by a seller (or given an owner by a manager): a manual assignment, which counts
            # for capacity and round robin like one made by hand.
            self._hand_to(uow, assignment, lead.owner_id, now, reason="created with an owner", actor=lead.created_by)
            return
        self._decide(uow, assignment, now)

    def update_lead(self, uow: UnitOfWork, lead: LeadUpdatedV1) -> None:
        """Keep the lead's facts current and re-evaluate its segment."""
        assignment: Assignment | None = uow.get(lead.lead_id)
        if assignment is None:
            self.assign_received_lead(uow, lead)  # received before this service existed
            return
        if assignment.has_seen(lead.version):
            return
        facts = lead_facts(lead)
        assignment.change_lead(lead.version, facts)
        segment = self._segments(uow).segment_for(facts)
        if segment != assignment.segment and (assignment.segment is None or self.policy.segment_moves_allowed):
            assignment.move_to_segment(segment)
        uow.add(assignment)

    def apply_status_change(self, uow: UnitOfWork, change: LeadStatusChangedV1) -> None:
        """Recycled: release the owner and decide again. Converted, invalid, voided, merged:
        release and close. Unvoided, unmerged back to an open status: decide again."""
        if change.action in RESTORING:
            if change.status_after.value in OPEN_STATUSES:
                self._reopen(uow, change.lead_id, change.version, RESTORING[change.action], change.status_after.value)
            return
        closing = CLOSING_ACTIONS.get(change.action)
        if closing is None and change.action != "recycled":
            return
        assignment = self._still_open(uow, change.lead_id, change.version)
        if assignment is None:
            return
        now = self.clock.now()
        previous = self._release(
            uow, assignment, change.version, now, reason=closing or "recycled", closed=bool(closing)
        )
        if closing is None:
            exclude = frozenset({previous}) if previous and self.policy.recycle_excludes_previous_owner else frozenset()
            self._decide(uow, assignment, now, exclude)

    def apply_lead_change(self, uow: UnitOfWork, change: LeadChangedV1) -> None:
        """Qualified or disqualified (when it moved the lead's status): release and close.
        Reopened to an open status: decide again."""
        if change.change in CLOSING_CHANGES and change.data.get("status_after"):
            assignment = self._still_open(uow, change.lead_id, change.version)
            if assignment is not None:
                reason = CLOSING_CHANGES[change.change]
                self._release(uow, assignment, change.version, self.clock.now(), reason=reason, closed=True)
        elif change.change == "reopened" and change.data.get("restored_status") in OPEN_STATUSES:
            self._reopen(uow, change.lead_id, change.version, "reopened", change.data["restored_status"])

    def _still_open(self, uow: UnitOfWork, lead_id: UUID, lead_version: int) -> Assignment | None:
        """The lead's assignment, when this lead event is news to it and it is not closed yet."""
        self.views.catch_up(uow)
        assignment: Assignment | None = uow.get(lead_id)
        if assignment is None or assignment.has_seen(lead_version) or assignment.status == "closed":
            return None
        return assignment

    def _reopen(self, uow: UnitOfWork, lead_id: UUID, lead_version: int, reason: str, status: str) -> None:
        """A closed lead is open work again: back to the seller who had it when intake restores it
        as assigned and they still take leads and have room; otherwise the rules decide."""
        self.views.catch_up(uow)
        assignment: Assignment | None = uow.get(lead_id)
        if assignment is None or assignment.has_seen(lead_version) or assignment.status != "closed":
            return
        now = self.clock.now()
        previous = assignment.last_owner
        assignment.reopen(lead_version, reason, now)
        uow.add(assignment)
        if status == "assigned" and previous is not None and self._owner_takes(uow, previous, manual=False):
            assignment.give_back(previous, now, f"{reason}: back to the seller who had it")
            uow.flush()
            self.views.seller_to_change(uow, previous).take_lead(str(lead_id), now, 0, manual=False)
            return
        self._decide(uow, assignment, now)

    def _owner_takes(self, uow: UnitOfWork, seller_id: str, *, manual: bool) -> bool:
        """Can `seller_id` be given a lead now (a person's pick: active and accepting; automatic:
        with room too)?"""
        try:
            seller = self.views.seller_to_change(uow, seller_id)
            seller.check_takes_assignments()
            if not manual:
                seller.check_has_capacity()
        except (SellerNotFound, SellerNotTakingLeads, SellerOverCapacity):
            return False
        return True

    def _hand_to(
        self, uow: UnitOfWork, assignment: Assignment, seller_id: str, now: datetime, *, reason: str, actor: str | None
    ) -> None:
        assignment.assign_by_hand(seller_id, None, now, reason, actor)
        uow.add(assignment)
        uow.flush()
        turn = max((s.last_turn for s in self.views.states(uow)), default=0) + 1
        self.views.seller_to_change(uow, seller_id).take_lead(str(assignment.lead_id), now, turn, manual=True)

    def close_deleted_lead(self, uow: UnitOfWork, deleted: LeadDeletedV1) -> None:
        assignment: Assignment | None = uow.get(deleted.lead_id)
        if assignment is not None and not assignment.has_seen(deleted.version) and assignment.status != "closed":
            self._release(uow, assignment, deleted.version, self.clock.now(), reason="deleted", closed=True)

    # -- people and jobs ----------------------------------------------------------------

    def assign_by_hand(
        self,
        uow: UnitOfWork,
        lead_id: UUID,
        *,
        seller_id: str | None,
        team_id: str | None,
        reason: str,
        actor: str | None = None,
    ) -> Assignment:
        """Manual assignment or reassignment. It counts as the seller's turn in round robin and
        may go over capacity (a person decided)."""
        self.views.catch_up(uow)
        assignment: Assignment | None = uow.get(lead_id)
        if assignment is None:
            raise AssignmentNotFound(lead_id)
        assignment.check_is_open()
        if team_id is not None:
            self._roster(uow).team_members(team_id)  # raises UnknownTeam
        seller = self.views.seller_to_change(uow, seller_id) if seller_id is not None else None
        if seller is not None:
            seller.check_not_deleted()
        now = self.clock.now()
        previous_id = assignment.seller_id
        if previous_id is not None and previous_id != seller_id:
            self.views.seller_to_change(uow, previous_id).release_lead(str(lead_id), "reassigned")
            uow.flush()
        assignment.assign_by_hand(seller_id, team_id, now, reason, actor)
        uow.add(assignment)
        uow.flush()
        if seller is not None and previous_id != seller_id:
            turn = max((s.last_turn for s in self.views.states(uow)), default=0) + 1
            seller.take_lead(str(lead_id), now, turn, manual=True)
        return assignment

    def claim(self, uow: UnitOfWork, lead_id: UUID, *, seller_id: str) -> Assignment:
        """A seller takes a lead from the unassigned pool (self-assignment). Unlike a manager's
        hand, the seller's capacity and "accepts assignments" count; it is their round-robin turn.
        Taking a lead one already owns changes nothing."""
        self.views.catch_up(uow)
        assignment: Assignment | None = uow.get(lead_id)
        if assignment is None:
            raise AssignmentNotFound(lead_id)
        if assignment.seller_id == seller_id:
            return assignment
        seller = self.views.seller_to_change(uow, seller_id)
        seller.check_takes_assignments()
        seller.check_has_capacity()
        now = self.clock.now()
        assignment.claim(seller_id, self.views.roster.teams_of(seller_id), now)
        uow.add(assignment)
        uow.flush()
        turn = max((s.last_turn for s in self.views.states(uow)), default=0) + 1
        seller.take_lead(str(lead_id), now, turn, manual=False)
        return assignment

    def seller_teams(self, seller_id: str) -> tuple[str, ...]:
        """The teams a seller is in now (the object rules: a manager sees their members' leads)."""
        return self.roster().teams_of(seller_id)

    def rerun_waiting(self) -> dict[str, int]:
        """Try every lead in the unassigned queue again, oldest first. No cap per run. With
        automatic assignment off the pool is the managers': nothing is tried."""
        if not self.policy.auto_assign:
            return {"tried": 0, "assigned": 0, "still_waiting": len(self._reads().waiting_in_arrival_order())}
        waiting = self._reads().waiting_in_arrival_order()
        assigned = sum(1 for lead_id in waiting if self.execute(self._rerun_one, lead_id))
        return {"tried": len(waiting), "assigned": assigned, "still_waiting": len(waiting) - assigned}

    def _rerun_one(self, uow: UnitOfWork, lead_id: UUID) -> bool:
        self.views.catch_up(uow)
        assignment: Assignment | None = uow.get(lead_id)
        if assignment is None or not assignment.is_waiting_for_rerun:
            return False
        now = self.clock.now()
        excluded = frozenset(assignment.history[-1]["explanation"].get("excluded_sellers", []))
        decision = self._choose(uow, assignment, now, excluded)
        if decision.outcome == "waiting":
            return False  # still nobody: no new event, the queue does not fill the store
        self._apply_decision(uow, assignment, decision, now)
        return decision.outcome in ("seller", "team")

    # -- reads --------------------------------------------------------------------------

    def get_assignment(self, lead_id: UUID) -> Assignment:
        assignment = self._find(lead_id)
        if assignment is None:
            raise AssignmentNotFound(lead_id)
        return assignment  # type: ignore[no-any-return]

    def get_assignment_as_of(self, lead_id: UUID, as_of: datetime) -> Assignment:
        """The lead's assignment as its stream had recorded it at `as_of`: the owner and the
        decision in force then (time travel; never a read model)."""
        assignment = state_as_of(self, lead_id, as_of, what="the assignment of lead")
        if not isinstance(assignment, Assignment):
            raise AssignmentNotFound(lead_id)
        return assignment

    def explain_in_full(self, lead_id: UUID) -> list[dict[str, Any]]:
        """Every decision about the lead with every candidate, recomputed from the log as it was."""
        self.get_assignment(lead_id)
        return explain_in_full(self, lead_id)

    def simulate_ruleset(
        self, version: int, *, last: int | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Any]:
        """What-if: past leads through rule-set `version` (a draft, typically), each lead's first
        automatic decision compared like with like (application/whatif.py); no window: the last
        100 leads. Read-only, all in the calling thread; the API runs the same steps (`what_if`)
        with only the short store reads on the store thread."""
        what_if = self.what_if(version, last=last, since=since, until=until)
        what_if.choose_leads()
        for read in what_if.reads():
            read()
        return what_if.compare()

    def what_if(
        self, version: int, *, last: int | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> WhatIf:
        """A what-if run of rule-set `version` (raises RuleSetNotFound), to be carried out step by step."""
        return WhatIf(self, version, Window.of(last, since, until))

    # -- internals -----------------------------------------------------------------------

    def _choose(
        self, uow: UnitOfWork, assignment: Assignment, now: datetime, exclude: frozenset[str] = frozenset()
    ) -> Decision:
        if not self.policy.auto_assign:
            return Decision(outcome="waiting", method="none", reason=POOL_REASON, explanation={"auto_assign": False})
        return choose_owner(
            lead=assignment.lead,
            segment=assignment.segment,
            ruleset=self._rulebook(uow).active(),
            sellers=self.views.states(uow),
            teams=self.views.teams(),
            now=now,
            exclude=exclude,
        )

    def _decide(
        self, uow: UnitOfWork, assignment: Assignment, now: datetime, exclude: frozenset[str] = frozenset()
    ) -> Decision:
        decision = self._choose(uow, assignment, now, exclude)
        self._apply_decision(uow, assignment, decision, now)
        return decision

    def _apply_decision(self, uow: UnitOfWork, assignment: Assignment, decision: Decision, now: datetime) -> None:
        # Order matters for replay: the lead's events come before the seller's LeadTaken,
        # so replaying the log sees every seller as it was when the decision was made.
        assignment.apply(decision, now)
        uow.add(assignment)
        uow.flush()  # the decision goes into the log before the seller's LeadTaken
        if decision.seller_id is not None:
            seller = self.views.seller_to_change(uow, decision.seller_id)
            try:
                seller.take_lead(str(assignment.lead_id), now, decision.turn, manual=False)
            except (SellerOverCapacity, SellerNotTakingLeads) as exc:
                self.views.refresh(seller)
                raise StaleSellerView(str(exc)) from exc

    def _release(
        self,
        uow: UnitOfWork,
        assignment: Assignment,
        lead_version: int,
        now: datetime,
        *,
        reason: str,
        closed: bool,
    ) -> str | None:
        previous = assignment.seller_id
        if previous is not None and uow.get(seller_uuid(previous)) is not None:
            self.views.seller_to_change(uow, previous).release_lead(str(assignment.lead_id), reason)
            uow.flush()  # the seller's LeadReleased before whatever this lead's next decision is
        assignment.release(lead_version, reason, now, closed=closed)
        uow.add(assignment)
        return previous

    def _reads(self) -> AssignmentReads:
        if self.reads is None:
            raise RuntimeError("assignment's read model is not wired (see bootstrap)")
        return self.reads

    def _roster(self, uow: UnitOfWork) -> Roster:
        roster: Roster | None = uow.get(ROSTER_ID)
        if roster is None:
            roster = Roster()
            uow.add(roster)
        return roster

    def _segments(self, uow: UnitOfWork) -> SegmentCatalog:
        """The catalog (a new one, saved only if the use case changes it and adds it)."""
        catalog: SegmentCatalog | None = uow.get(SEGMENTS_ID) or uow.scratch.get(str(SEGMENTS_ID))
        if catalog is None:
            catalog = uow.scratch[str(SEGMENTS_ID)] = SegmentCatalog()
        return catalog

    def _rulebook(self, uow: UnitOfWork) -> RuleBook:
        """The rule book (a new one, saved only if the use case changes it and adds it)."""
        book: RuleBook | None = uow.get(RULEBOOK_ID) or uow.scratch.get(str(RULEBOOK_ID))
        if book is None:
            book = uow.scratch[str(RULEBOOK_ID)] = RuleBook()
        return book

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self.latest(aggregate_id)
        except AggregateNotFoundError:
            return None
