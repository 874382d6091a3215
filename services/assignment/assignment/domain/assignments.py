"""Who owns one lead, and the history of every decision about it with its explanation."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .engine import Decision


class AssignmentError(Exception):
    """An assignment command broke a rule."""


class NotInPool(AssignmentError):
    def __init__(self, lead_id: UUID, status: str) -> None:
        super().__init__(
            f"lead {lead_id} is not in the unassigned pool (it is {status}); someone else may have taken it"
        )


class LeadClosed(AssignmentError):
    def __init__(self, lead_id: UUID) -> None:
        super().__init__(f"lead {lead_id} is closed; it cannot be assigned")


class Assignment(Aggregate):
    """Its id is the lead's id, so keys line up across topics.

    status: "new" → "assigned" (a seller or a team owns it) | "waiting" (in the unassigned
    queue, or in a named queue) → "released" (recycled) → … → "closed" (converted, invalid,
    deleted). `lead` holds the lead facts rules read (no personal data).
    """

    @staticmethod
    def create_id(lead_id: UUID, **_: Any) -> UUID:
        return lead_id

    @event("Opened")
    def __init__(
        self, lead_id: UUID, lead_version: int, lead: dict[str, Any], segment: str | None, arrived_at: datetime
    ) -> None:
        self.lead_id = lead_id
        self.arrived_at = arrived_at
        self.lead_version = lead_version
        self.lead = lead
        self.segment = segment
        self.status = "new"
        self.seller_id: str | None = None
        self.team_id: str | None = None
        self.queue_id: str | None = None
        self.method: str | None = None
        self.decided_at: datetime | None = None
        self.waiting_reason: str | None = None
        self.waiting_since: datetime | None = None
        self.history: list[dict[str, Any]] = []

    @property
    def source(self) -> str | None:
        return self.lead.get("source")  # type: ignore[no-any-return]

    @property
    def external_id(self) -> str | None:
        return self.lead.get("external_id")  # type: ignore[no-any-return]

    @property
    def is_waiting_for_rerun(self) -> bool:
        return self.status == "waiting" and self.queue_id is None

    def has_seen(self, lead_version: int) -> bool:
        """Upstream idempotency: an event re-sent by intake's relay is applied once."""
        return lead_version <= self.lead_version

    @event("LeadChanged")
    def change_lead(self, lead_version: int, lead: dict[str, Any]) -> None:
        self.lead_version = lead_version
        self.lead = lead

    @event("SegmentChanged")
    def move_to_segment(self, segment: str | None) -> None:
        self.segment = segment

    @property
    def deleted(self) -> bool:
        """intake deleted the lead (its assignment is closed for that reason)."""
        return self.status == "closed" and bool(self.history) and self.history[-1].get("reason") == "deleted"

    def check_is_open(self) -> None:
        if self.status == "closed":
            raise LeadClosed(self.lead_id)

    def apply(self, decision: Decision, at: datetime, *, reason: str | None = None) -> None:
        """Record an engine decision: an owner, a named queue, or a wait in the unassigned queue."""
        self.check_is_open()
        if decision.outcome == "waiting" or decision.outcome == "queue":
            self._waited(
                decision.reason or "", decision.queue_id, at, decision.explanation, self.source, self.external_id
            )
        else:
            self._decided(
                decision.seller_id,
                decision.team_id,
                decision.method,
                at,
                reason,
                decision.explanation,
                False,
                self.seller_id,
                self.source,
                self.external_id,
            )

    def assign_by_hand(
        self, seller_id: str | None, team_id: str | None, at: datetime, reason: str, actor: str | None
    ) -> None:
        self.check_is_open()
        explanation = {"manual": True, "actor": actor, "reason": reason, "decided_at": at.isoformat()}
        self._decided(
            seller_id, team_id, "manual", at, reason, explanation, True, self.seller_id, self.source, self.external_id
        )

    def in_pool_for(self, seller_teams: Collection[str]) -> bool:
        """Is the lead in the unassigned pool a seller in `seller_teams` may take it from? Waiting
        (in the unassigned queue or a named one), or placed in one of the seller's teams with
        nobody owning it."""
        if self.status == "waiting":
            return True
        return self.status == "assigned" and self.seller_id is None and self.team_id in seller_teams

    def claim(self, seller_id: str, seller_teams: Collection[str], at: datetime) -> None:
        """The seller takes the lead from the unassigned pool (self-assignment)."""
        self.check_is_open()
        if not self.in_pool_for(seller_teams):
            raise NotInPool(self.lead_id, self.status)
        explanation = {
            "self_assignment": True,
            "actor": seller_id,
            "from_queue": self.queue_id,
            "decided_at": at.isoformat(),
        }
        self._decided(
            seller_id,
            self.team_id,
            "self",
            at,
            "taken from the unassigned pool",
            explanation,
            True,
            self.seller_id,
            self.source,
            self.external_id,
        )

    @event("Decided")
    def _decided(
        self,
        seller_id: str | None,
        team_id: str | None,
        method: str,
        decided_at: datetime,
        reason: str | None,
        explanation: dict[str, Any],
        manual: bool,
        previous_seller_id: str | None,
        source: str | None,
        external_id: str | None,
    ) -> None:
        # The event repeats the lead's upstream ids so the published fact stands alone.
        self.status = "assigned"
        self.seller_id, self.team_id, self.queue_id = seller_id, team_id, None
        self.method = method
        self.decided_at = decided_at
        self.waiting_reason = self.waiting_since = None
        self.history.append(
            {
                "kind": "assigned",
                "seller_id": seller_id,
                "team_id": team_id,
                "method": method,
                "at": decided_at,
                "reason": reason,
                "explanation": explanation,
            }
        )

    @event("Waited")
    def _waited(
        self,
        reason: str,
        queue_id: str | None,
        since: datetime,
        explanation: dict[str, Any],
        source: str | None,
        external_id: str | None,
    ) -> None:
        if self.status != "waiting" or self.queue_id != queue_id:
            self.waiting_since = since
        self.status = "waiting"
        self.seller_id = self.team_id = None
        self.queue_id = queue_id
        self.waiting_reason = reason
        self.history.append(
            {
                "kind": "queued" if queue_id else "waiting",
                "queue_id": queue_id,
                "at": since,
                "reason": reason,
                "explanation": explanation,
            }
        )

    @property
    def last_owner(self) -> str | None:
        """The seller who held the lead when it was last released or closed."""
        return self.history[-1].get("previous_seller_id") if self.history else None

    def reopen(self, lead_version: int, reason: str, at: datetime) -> None:
        """intake brought a closed lead back (unvoided, unmerged, reopened): it is open again,
        owned by nobody until the next decision."""
        if self.status == "closed":
            self._reopened(lead_version, reason, at, self.last_owner)

    @event("Reopened")
    def _reopened(self, lead_version: int, reason: str, at: datetime, last_owner: str | None) -> None:
        self.lead_version = max(self.lead_version, lead_version)
        self.status = "released"
        self.history.append({"kind": "reopened", "at": at, "reason": reason, "previous_seller_id": last_owner})

    def give_back(self, seller_id: str, at: datetime, reason: str) -> None:
        """A reopened lead goes back to the seller who had it (who still has room)."""
        self.check_is_open()
        explanation = {
            "restored": True,
            "previous_seller_id": seller_id,
            "reason": reason,
            "decided_at": at.isoformat(),
        }
        self._decided(seller_id, None, "restored", at, reason, explanation, False, None, self.source, self.external_id)

    def release(self, lead_version: int, reason: str, at: datetime, *, closed: bool) -> None:
        """intake recycled (closed=False) or closed the lead: nobody owns it any more."""
        self._released(lead_version, reason, at, closed, self.seller_id, self.team_id)

    @event("Released")
    def _released(
        self,
        lead_version: int,
        reason: str,
        at: datetime,
        closed: bool,
        previous_seller_id: str | None,
        previous_team_id: str | None,
    ) -> None:
        self.lead_version = max(self.lead_version, lead_version)
        self.status = "closed" if closed else "released"
        self.seller_id = self.team_id = self.queue_id = None
        self.waiting_reason = self.waiting_since = None
        self.history.append(
            {
                "kind": "closed" if closed else "released",
                "at": at,
                "reason": reason,
                "previous_seller_id": previous_seller_id,
            }
        )
