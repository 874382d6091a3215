"""The Lead aggregate: one lead's whole life as events.

Guards live in the public command methods (`check_*` first, then a private past-tense
event); event bodies only change state, so old streams always replay even when rules
tighten later. Exact lifecycle rules (docs/intake.md has the table):

- open: unassigned → assigned (assignment decided) → converted | recycled (back to unassigned)
- open → qualified | disqualified; reopen returns either to the open status it left
- open → closed_invalid (irreversible: then only void or delete)
- void from any open status or closed_invalid; a voided lead allows nothing but unvoid
- a lead merged into another allows nothing but unmerge
- delete only when unassigned, disqualified or closed_invalid, never converted, never with documents
- follow-ups not on closed_invalid, disqualified or voided; documents while assigned, qualified or converted

Only an open lead (unassigned or assigned, not voided, merged or deleted) has an owner that
counts: assignment releases the seller when the lead leaves the open statuses and decides
again when it comes back (unvoid, unmerge, reopen).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from leadflow_shared.deadlines import HasDeadlines

from .errors import AlreadyDone, DocumentAlreadyLinked, DocumentNotLinked, IllegalTransition, LinkedDocuments

LEAD_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:lead")

UNASSIGNED, ASSIGNED, CONVERTED, CLOSED_INVALID = "unassigned", "assigned", "converted", "closed_invalid"
QUALIFIED, DISQUALIFIED = "qualified", "disqualified"
OPEN_STATUSES = (UNASSIGNED, ASSIGNED)

ACTIONS_BY_STATUS: dict[str, list[str]] = {
    UNASSIGNED: [
        "close_invalid",
        "void",
        "delete",
        "follow_up",
        "move_stage",
        "qualify",
        "disqualify",
        "merge",
        "associate",
    ],
    ASSIGNED: [
        "convert",
        "recycle",
        "close_invalid",
        "void",
        "follow_up",
        "link_document",
        "move_stage",
        "qualify",
        "disqualify",
        "merge",
        "associate",
    ],
    CONVERTED: ["follow_up", "link_document", "associate"],
    QUALIFIED: ["reopen", "follow_up", "link_document", "associate"],
    DISQUALIFIED: ["reopen", "delete"],
    CLOSED_INVALID: ["void", "delete"],
}
VOIDED_ACTIONS = ["unvoid"]
MERGED_ACTIONS = ["unmerge"]
NOT_AFTER_ERASURE = ("follow_up", "convert", "merge")
"""What an erased lead no longer allows: each would record or copy personal data."""
FOLLOW_UP_CHANNELS = ("note", "call", "email", "meeting")
CONTACT_SLA = "contact-sla"
"""The deadline (and its purpose) of a lead that asked to be contacted."""


@lru_cache(maxsize=20_000)  # asked several times per lead while it is taken in
def lead_id_for(source: str, external_id: str) -> UUID:
    """The same upstream lead always gets the same id, so a re-sent lead is recognised."""
    return uuid5(LEAD_NAMESPACE, f"{source}\x1f{external_id}")


class Lead(HasDeadlines):
    """One lead, from the first upstream message on."""

    erased_at: datetime | None = None
    """When the lead's personal data was erased (leads recorded before erasure existed: None)."""
    reopens_to: str | None = None
    """The open status a qualified or disqualified lead returns to when reopened."""
    created_by: str | None = None
    """Who made the lead: `upstream:<source>`, or the user who posted it."""
    qualifications: int = 0
    """How many times the lead was qualified (each may have created a deal)."""

    @staticmethod
    def create_id(source: str, external_id: str, **_: Any) -> UUID:
        return lead_id_for(source, external_id)

    @event("Received")
    def __init__(
        self,
        source: str,
        external_id: str,
        lead_type: str,
        contact: dict[str, Any],
        company: dict[str, Any],
        score: int | None,
        campaign_id: str | None,
        details: dict[str, Any],
        occurred_at: datetime,
        received_at: datetime,
        received_via: str,
        stage_id: str | None = None,
        owner_id: str | None = None,
        actor: str | None = None,
    ) -> None:
        self.source = source
        self.external_id = external_id
        self.lead_type = lead_type
        self.contact = contact
        self.company = company
        self.score = score
        self.campaign_id = campaign_id
        self.details = details
        self.occurred_at = occurred_at
        self.received_at = received_at
        self.received_via = received_via
        self.stage_id = stage_id
        # A lead made by a seller (or given an owner by a manager) is theirs from the start;
        # assignment records it as a manual assignment. Leads recorded before: no owner.
        self.status = ASSIGNED if owner_id is not None else UNASSIGNED
        self.voided = False
        self.deleted = False
        self.created_by = actor
        self.owner_id: str | None = owner_id
        self.team_id: str | None = None
        self.customer_id: UUID | None = None
        self.documents: list[dict[str, str]] = []
        self.qualification: dict[str, Any] | None = None
        self.follow_ups = 0
        self.last_follower: str | None = None
        self.last_follow_up_at: datetime | None = None
        self.last_follow_up_channel: str | None = None
        self.contact_overdue = False
        self.possible_duplicates: list[str] = []
        self.merged_into: UUID | None = None
        self.absorbed: list[str] = []
        self.associations: list[dict[str, str]] = []
        self.lifecycle_stage: str | None = details.get("lifecycle_stage")
        self.favorited_by: set[str] = set()
        self.ignored_updates = 0
        self.assignment_version = 0

    # -- what is allowed now -------------------------------------------------------------

    def allowed_actions(self) -> list[str]:
        if self.deleted:
            return []
        if self.voided:
            return list(VOIDED_ACTIONS)
        actions = list(ACTIONS_BY_STATUS[self.status])
        if self.documents:  # a linked quote or order must be unlinked before the lead can go
            actions = [a for a in actions if a != "delete"] + ["unlink_document"]
        if self.merged_into is not None:
            actions = list(MERGED_ACTIONS)
        if self.erased_at is not None:
            actions = [a for a in actions if a not in NOT_AFTER_ERASURE]
        return actions

    @property
    def is_open(self) -> bool:
        """Open work: unassigned or assigned, and not voided, merged away or deleted. Only an open
        lead holds a seller's capacity (assignment's view of the same lead agrees)."""
        return not (self.deleted or self.voided or self.merged_into is not None) and self.status in OPEN_STATUSES

    def check_allows(self, action: str) -> None:
        if action not in self.allowed_actions():
            status = "deleted" if self.deleted else "voided" if self.voided else self.status
            raise IllegalTransition(action, status, self.allowed_actions())

    # -- upstream ------------------------------------------------------------------------

    def apply_upstream(self, changes: dict[str, Any], occurred_at: datetime, at: datetime) -> bool:
        """Apply a newer upstream version; an older (or same-time) one is recorded as ignored."""
        if self.deleted:
            self._ignore_upstream(occurred_at=occurred_at, at=at, reason="the lead was deleted")
            return False
        if self.erased_at is not None:
            self._ignore_upstream(occurred_at=occurred_at, at=at, reason="the lead's personal data was erased")
            return False
        if occurred_at <= self.occurred_at:
            self._ignore_upstream(occurred_at=occurred_at, at=at, reason="not newer than the current version")
            return False
        changed = {k: v for k, v in changes.items() if getattr(self, k, None) != v}
        self._update_from_upstream(
            changes=changed, snapshot={**self.snapshot(), **changed}, occurred_at=occurred_at, at=at
        )
        return True

    def snapshot(self) -> dict[str, Any]:
        """The upstream attributes as they stand (what LeadUpdatedV1 carries)."""
        return {
            "source": self.source,
            "external_id": self.external_id,
            "lead_type": self.lead_type,
            "contact": self.contact,
            "company": self.company,
            "score": self.score,
            "campaign_id": self.campaign_id,
            "details": self.details,
        }

    @event("UpstreamUpdated")
    def _update_from_upstream(
        self, changes: dict[str, Any], snapshot: dict[str, Any], occurred_at: datetime, at: datetime
    ) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        if "details" in changes:
            self.lifecycle_stage = changes["details"].get("lifecycle_stage", self.lifecycle_stage)
        self.occurred_at = occurred_at

    @event("UpstreamUpdateIgnored")
    def _ignore_upstream(self, occurred_at: datetime, at: datetime, reason: str) -> None:
        self.ignored_updates += 1

    # -- assignment ----------------------------------------------------------------------

    def assign(
        self,
        owner_id: str | None,
        team_id: str | None,
        method: str,
        at: datetime,
        assignment_version: int,
        *,
        actor: str | None = None,
        reason: str | None = None,
        ruleset_version: int | None = None,
    ) -> bool:
        """Take the assignment service's decision; ignored when the lead is no longer open."""
        if not self.is_open:
            return False
        if assignment_version <= self.assignment_version:
            return False  # a re-sent or older decision
        if (owner_id, team_id) == (self.owner_id, self.team_id) and self.status == ASSIGNED:
            return False
        self._assigned(
            owner_id=owner_id,
            team_id=team_id,
            method=method,
            at=at,
            assignment_version=assignment_version,
            status_before=self.status,
            previous_owner_id=self.owner_id,
            previous_team_id=self.team_id,
            actor=actor or (f"assignment:ruleset-{ruleset_version}" if ruleset_version is not None else "assignment"),
            reason=reason,
        )
        return True

    def unassign(self, reason: str, at: datetime, assignment_version: int) -> bool:
        """assignment put the lead back in the unassigned pool (nobody eligible when it decided
        again): intake's owner follows. Ignored unless the lead is open and assigned."""
        if not self.is_open or self.status != ASSIGNED or assignment_version <= self.assignment_version:
            return False
        self._unassigned(
            reason=reason,
            at=at,
            assignment_version=assignment_version,
            previous_owner_id=self.owner_id,
            previous_team_id=self.team_id,
            actor="assignment",
        )
        return True

    @event("Unassigned")
    def _unassigned(
        self,
        reason: str,
        at: datetime,
        assignment_version: int,
        previous_owner_id: str | None,
        previous_team_id: str | None,
        actor: str,
    ) -> None:
        self.owner_id = self.team_id = None
        self.status = UNASSIGNED
        self.assignment_version = assignment_version

    @event("Assigned")
    def _assigned(
        self,
        owner_id: str | None,
        team_id: str | None,
        method: str,
        at: datetime,
        assignment_version: int,
        status_before: str,
        previous_owner_id: str | None,
        previous_team_id: str | None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.owner_id = owner_id
        self.team_id = team_id
        self.status = ASSIGNED
        self.assignment_version = assignment_version

    # -- lifecycle -----------------------------------------------------------------------

    def convert(self, customer_id: UUID, linked_existing: bool, actor: str, at: datetime) -> None:
        self.check_allows("convert")
        self._converted(
            customer_id=customer_id,
            linked_existing=linked_existing,
            actor=actor,
            at=at,
            owner_id=self.owner_id,
            team_id=self.team_id,
        )

    @event("Converted")
    def _converted(
        self,
        customer_id: UUID,
        linked_existing: bool,
        actor: str,
        at: datetime,
        owner_id: str | None,
        team_id: str | None,
    ) -> None:
        self.customer_id = customer_id
        self.status = CONVERTED

    def recycle(self, reason: str | None, actor: str, at: datetime) -> None:
        self.check_allows("recycle")
        self._recycled(
            previous_owner_id=self.owner_id, previous_team_id=self.team_id, reason=reason, actor=actor, at=at
        )

    @event("Recycled")
    def _recycled(
        self, previous_owner_id: str | None, previous_team_id: str | None, reason: str | None, actor: str, at: datetime
    ) -> None:
        self.owner_id = None
        self.team_id = None
        self.status = UNASSIGNED

    def close_invalid(self, reason: str, actor: str, at: datetime) -> None:
        self.check_allows("close_invalid")
        self._closed_invalid(
            reason=reason, actor=actor, at=at, status_before=self.status, previous_owner_id=self.owner_id
        )

    @event("ClosedInvalid")
    def _closed_invalid(
        self, reason: str, actor: str, at: datetime, status_before: str, previous_owner_id: str | None
    ) -> None:
        self.status = CLOSED_INVALID

    def void(self, reason: str | None, actor: str, at: datetime) -> None:
        self.check_allows("void")
        self._voided(reason=reason, actor=actor, at=at, status_before=self.status)

    @event("Voided")
    def _voided(self, reason: str | None, actor: str, at: datetime, status_before: str) -> None:
        self.voided = True

    def unvoid(self, actor: str, at: datetime) -> None:
        self.check_allows("unvoid")
        self._unvoided(actor=actor, at=at, restored_status=self.status)

    @event("Unvoided")
    def _unvoided(self, actor: str, at: datetime, restored_status: str) -> None:
        self.voided = False

    def delete(self, reason: str | None, actor: str, at: datetime) -> None:
        self.check_no_linked_documents()
        self.check_allows("delete")
        self._deleted(reason=reason, actor=actor, at=at, previous_owner_id=self.owner_id, status_before=self.status)

    @event("Deleted")
    def _deleted(
        self, reason: str | None, actor: str, at: datetime, previous_owner_id: str | None, status_before: str
    ) -> None:
        self.deleted = True

    # -- work on the lead ----------------------------------------------------------------

    def follow_up(self, note: str, actor: str, at: datetime, channel: str = "note") -> None:
        self.check_allows("follow_up")
        if channel not in FOLLOW_UP_CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(FOLLOW_UP_CHANNELS)}")
        self._followed_up(note=note, actor=actor, at=at, channel=channel)
        self.cancel_deadline(CONTACT_SLA)

    class FollowedUp(Aggregate.Event):
        """Someone followed the lead up. The worked example of evolving a stored event
        (docs/architecture.md, "Evolving stored events"): version 2 added `channel`; a version 1
        event — every follow-up recorded before — is read as a note."""

        class_version = 2
        note: str
        actor: str
        at: datetime
        channel: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["channel"] = "note"

    @event(FollowedUp)
    def _followed_up(self, note: str, actor: str, at: datetime, channel: str) -> None:
        self.follow_ups += 1
        self.last_follower = actor
        self.last_follow_up_at = at
        self.last_follow_up_channel = channel
        self.contact_overdue = False

    # -- the contact SLA ------------------------------------------------------------------

    def expect_contact_by(self, due_at: datetime) -> None:
        """The lead asked to be contacted: unless someone follows it up by `due_at`, it is
        flagged overdue (a durable deadline, fired by the service's deadline runner)."""
        self.set_deadline(CONTACT_SLA, due_at, CONTACT_SLA)

    def contact_deadline_passed(self, at: datetime) -> None:
        """The contact deadline fired: flag the lead, unless it no longer waits for contact."""
        if self.deleted or self.voided or self.status not in (UNASSIGNED, ASSIGNED) or self.follow_ups:
            return
        self._contact_overdue(at=at)

    @event("ContactOverdue")
    def _contact_overdue(self, at: datetime) -> None:
        self.contact_overdue = True

    def link_document(self, kind: str, number: str, actor: str, at: datetime) -> None:
        self.check_allows("link_document")
        self.check_document_not_linked(number)
        self._document_linked(kind=kind, number=number, actor=actor, at=at)

    @event("DocumentLinked")
    def _document_linked(self, kind: str, number: str, actor: str, at: datetime) -> None:
        self.documents.append({"kind": kind, "number": number})

    def check_document_not_linked(self, number: str) -> None:
        linked = self._document(number)
        if linked is not None:
            raise DocumentAlreadyLinked(linked["kind"], number)

    def check_no_linked_documents(self) -> None:
        """A delete the status allows is refused while quotes or orders are linked: the error says
        so, rather than blaming the status."""
        # unlink_document is allowed exactly when documents are linked and the lead is not voided,
        # merged away or deleted (then those are what stands in the way).
        if "unlink_document" in self.allowed_actions() and "delete" in ACTIONS_BY_STATUS[self.status]:
            raise LinkedDocuments(self.status, self.allowed_actions(), self.documents)

    def unlink_document(self, number: str, actor: str, at: datetime) -> None:
        """Undo one link of a quote or order (a number linked twice before numbers had to be
        unique on a lead needs two unlinks: each undoes one DocumentLinked)."""
        linked = self._document(number)
        if linked is None:
            raise DocumentNotLinked(number)
        self.check_allows("unlink_document")
        self._document_unlinked(kind=linked["kind"], number=number, actor=actor, at=at)

    @event("DocumentUnlinked")
    def _document_unlinked(self, kind: str, number: str, actor: str, at: datetime) -> None:
        self.documents.remove({"kind": kind, "number": number})

    def _document(self, number: str) -> dict[str, str] | None:
        return next((d for d in self.documents if d["number"] == number), None)

    def move_stage(self, to_stage: str, actor: str, at: datetime, reason: str | None = None) -> None:
        if to_stage == self.stage_id:
            return
        self.check_allows("move_stage")
        self._stage_moved(from_stage=self.stage_id, to_stage=to_stage, actor=actor, at=at, reason=reason)

    def move_stage_for_settings(self, to_stage: str, actor: str, at: datetime, reason: str) -> None:
        """A stage being deleted moves its leads whatever their status: the stage must go."""
        if to_stage != self.stage_id:
            self._stage_moved(from_stage=self.stage_id, to_stage=to_stage, actor=actor, at=at, reason=reason)

    @event("StageMoved")
    def _stage_moved(self, from_stage: str | None, to_stage: str, actor: str, at: datetime, reason: str | None) -> None:
        self.stage_id = to_stage

    def check_qualifies(self, outcome: str) -> None:
        """A lead already qualified (or disqualified) is not qualified again: 409, naming who did it."""
        if self.status == outcome and self.qualification is not None and not (self.voided or self.deleted):
            raise AlreadyDone(outcome, self.qualification.get("by"))
        self.check_allows("qualify" if outcome == QUALIFIED else "disqualify")

    def qualify(self, deal: dict[str, Any] | None, actor: str, at: datetime, deal_id: UUID | None = None) -> None:
        self.check_qualifies(QUALIFIED)
        self._qualified(deal=deal, actor=actor, at=at, status_before=self.status, deal_id=deal_id)

    class Qualified(Aggregate.Event):
        """The lead was qualified. Version 2 moves it to `qualified` (leaving open work) and may
        name the deal created for it; a version 1 event — a qualification recorded before —
        only filled in `qualification` and left the status as it was (`status_before` None)."""

        class_version = 2
        deal: dict[str, Any] | None
        actor: str
        at: datetime
        status_before: str | None
        deal_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["status_before"] = None
            state["deal_id"] = None

    @event(Qualified)
    def _qualified(
        self, deal: dict[str, Any] | None, actor: str, at: datetime, status_before: str | None, deal_id: UUID | None
    ) -> None:
        self.qualifications += 1
        self.qualification = {
            "outcome": "qualified",
            "deal": deal,
            "deal_id": str(deal_id) if deal_id else None,
            "by": actor,
            "at": at.isoformat(),
        }
        if status_before is not None:
            self.status, self.reopens_to = QUALIFIED, status_before

    def disqualify(
        self, reason_id: str | None, reason_label: str | None, note: str | None, actor: str, at: datetime
    ) -> None:
        self.check_qualifies(DISQUALIFIED)
        self._disqualified(
            reason_id=reason_id, reason_label=reason_label, note=note, actor=actor, at=at, status_before=self.status
        )

    class Disqualified(Aggregate.Event):
        """The lead was disqualified. Version 2 moves it to `disqualified` (archived); a version 1
        event only filled in `qualification` (`status_before` None)."""

        class_version = 2
        reason_id: str | None
        reason_label: str | None
        note: str | None
        actor: str
        at: datetime
        status_before: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["status_before"] = None

    @event(Disqualified)
    def _disqualified(
        self,
        reason_id: str | None,
        reason_label: str | None,
        note: str | None,
        actor: str,
        at: datetime,
        status_before: str | None,
    ) -> None:
        self.qualification = {
            "outcome": "disqualified",
            "reason_id": reason_id,
            "reason": reason_label,
            "by": actor,
            "at": at.isoformat(),
        }
        if status_before is not None:
            self.status, self.reopens_to = DISQUALIFIED, status_before

    def reopen(self, actor: str, at: datetime, reason: str | None = None) -> None:
        """A qualified or disqualified lead goes back to the open status it left."""
        self.check_allows("reopen")
        self._reopened(
            from_status=self.status, restored_status=self.reopens_to or UNASSIGNED, actor=actor, at=at, reason=reason
        )

    @event("Reopened")
    def _reopened(self, from_status: str, restored_status: str, actor: str, at: datetime, reason: str | None) -> None:
        self.status, self.reopens_to = restored_status, None
        self.qualification = None

    def associate(self, kind: str, target_id: str, lifecycle_stage: str | None, actor: str, at: datetime) -> None:
        self.check_allows("associate")
        self._associated(kind=kind, target_id=target_id, lifecycle_stage=lifecycle_stage, actor=actor, at=at)

    @event("Associated")
    def _associated(self, kind: str, target_id: str, lifecycle_stage: str | None, actor: str, at: datetime) -> None:
        self.associations.append({"kind": kind, "id": target_id})
        if lifecycle_stage is not None:
            self.lifecycle_stage = lifecycle_stage

    # -- duplicates and merges -----------------------------------------------------------

    def mark_possible_duplicate(self, lead_ids: list[str], customer_ids: list[str], at: datetime) -> None:
        new = (set(lead_ids) | set(customer_ids)) - set(self.possible_duplicates)
        if new:
            self._marked_possible_duplicate(lead_ids=sorted(lead_ids), customer_ids=sorted(customer_ids), at=at)

    @event("MarkedPossibleDuplicate")
    def _marked_possible_duplicate(self, lead_ids: list[str], customer_ids: list[str], at: datetime) -> None:
        self.possible_duplicates = sorted(set(self.possible_duplicates) | set(lead_ids) | set(customer_ids))

    def merge_into(self, survivor_id: UUID, actor: str, at: datetime) -> None:
        self.check_allows("merge")
        self._merged_into(survivor_id=survivor_id, actor=actor, at=at, status=self.status)

    @event("MergedInto")
    def _merged_into(self, survivor_id: UUID, actor: str, at: datetime, status: str) -> None:
        self.merged_into = survivor_id

    def absorb(self, merged_id: UUID, actor: str, at: datetime) -> None:
        self.check_allows("merge")
        self._absorbed(merged_id=merged_id, actor=actor, at=at)

    @event("Absorbed")
    def _absorbed(self, merged_id: UUID, actor: str, at: datetime) -> None:
        self.absorbed.append(str(merged_id))

    def unmerge(self, actor: str, at: datetime) -> UUID:
        self.check_allows("unmerge")
        survivor = self.merged_into
        assert survivor is not None
        self._unmerged(survivor_id=survivor, actor=actor, at=at, status=self.status)
        return survivor

    @event("Unmerged")
    def _unmerged(self, survivor_id: UUID, actor: str, at: datetime, status: str) -> None:
        self.merged_into = None

    def release(self, merged_id: UUID, actor: str, at: datetime) -> None:
        """The survivor's side of an unmerge."""
        if str(merged_id) in self.absorbed:
            self._released(merged_id=merged_id, actor=actor, at=at)

    @event("Released")
    def _released(self, merged_id: UUID, actor: str, at: datetime) -> None:
        self.absorbed.remove(str(merged_id))

    # -- personal data -------------------------------------------------------------------

    def erase(self, actor: str, at: datetime, reason: str | None = None) -> bool:
        """Record that the lead's personal data is erased (the caller destroys its data key in the
        same unit of work); the non-personal history stays. False if it already was."""
        if self.erased_at is not None:
            return False
        self._erased(actor=actor, at=at, reason=reason)
        return True

    @event("Erased")
    def _erased(self, actor: str, at: datetime, reason: str | None) -> None:
        self.contact = {}
        self.company = {k: v for k, v in self.company.items() if k != "name"}
        self.details = {k: v for k, v in self.details.items() if k != "notes"}
        self.erased_at = at

    # -- per-user state ------------------------------------------------------------------

    def set_favorite(self, user_id: str, on: bool, at: datetime) -> bool:
        """Put the lead in (or take it out of) one user's favorites; False, and no event, when it
        already was (or was not). A user's favorites are theirs alone: no view shows who else."""
        if (user_id in self.favorited_by) == on:
            return False
        self._favorite_toggled(user_id=user_id, on=on, at=at)
        return True

    def is_favorite_of(self, user_id: str) -> bool:
        return user_id in self.favorited_by

    @event("FavoriteToggled")
    def _favorite_toggled(self, user_id: str, on: bool, at: datetime) -> None:
        if on:
            self.favorited_by.add(user_id)
        else:
            self.favorited_by.discard(user_id)
