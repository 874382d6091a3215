"""The Referral: one partner referral's life, after Microsoft Partner Center's referral resource.

New (received) → Active (accepted) → Closed (won | lost | declined | expired); Closed is
terminal. What each status allows is one table (`ALLOWED`); an action it does not allow is
refused naming the status and what it does allow. Expiry and the contact flag's 72-hour change
are durable deadlines (purposes `EXPIRY`, `CONTACT_FLAG`); the aggregate ignores a deadline that
no longer applies, so one that fires after an answer changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from leadflow_shared.deadlines import HasDeadlines

NEW, ACTIVE, CLOSED = "new", "active", "closed"
RECEIVED, ACCEPTED = "received", "accepted"
WON, LOST, DECLINED, EXPIRED = "won", "lost", "declined", "expired"

ACTIONS: Final = ("accept", "decline", "update", "add_team_member", "won", "lost")
ALLOWED: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    (NEW, RECEIVED): ("accept", "decline"),
    (ACTIVE, ACCEPTED): ("update", "add_team_member", "won", "lost"),
    (CLOSED, WON): (),
    (CLOSED, LOST): (),
    (CLOSED, DECLINED): (),
    (CLOSED, EXPIRED): (),
}
"""(status, substatus) → the actions allowed in it. Closed is terminal."""

EXPIRY, CONTACT_FLAG = "referral-expiry", "referral-contact-flag"
DEFAULT_ANSWER_WITHIN = timedelta(days=14)
URGENT_FOR = timedelta(hours=72)
EDITABLE: Final = ("deal_name", "closing_date", "deal_value", "notes", "crm_id", "campaign_id")
"""What `update` may change while the referral is accepted (JSON Patch paths `/<name>`)."""

_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:referral")


def referral_id_for(sender: str, external_reference_id: str) -> UUID:
    """Idempotency: one referral per (sender, the sender's own id for it)."""
    return uuid5(_NAMESPACE, f"{sender}\x00{external_reference_id}")


class ReferralError(Exception):
    """Base of referral's domain errors."""


class ActionNotAllowed(ReferralError):
    """The referral's status does not allow the action (HTTP 409)."""

    def __init__(self, action: str, status: str, substatus: str, allowed: tuple[str, ...]) -> None:
        super().__init__(
            f"cannot {action.replace('_', ' ')} a referral that is {status}/{substatus}; "
            f"allowed: {', '.join(allowed) or 'nothing (closed is final)'}"
        )
        self.action, self.status, self.substatus, self.allowed = action, status, substatus, allowed


class InvalidInput(ReferralError, ValueError):
    """Input the referral service cannot use (HTTP 422 naming the field; a dead letter on Kafka)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class MissingDetails(InvalidInput):
    """An action lacks what it requires."""


class Referral(HasDeadlines):
    """A referral sent to one partner organisation (`target_org`).

    `details` is what the sender sent besides its identity (name, engagement id, type,
    qualification, customer profile, consent, deal details, requirements, the sender's team,
    invite context), as JSON; `deal` what the partner said when accepting, and edited since."""

    @staticmethod
    def create_id(sender: str, external_reference_id: str, **_: Any) -> UUID:
        return referral_id_for(sender, external_reference_id)

    @event("Received")
    def __init__(
        self,
        sender: str,
        external_reference_id: str,
        target_org: str,
        details: dict[str, Any],
        contact_requested: bool,
        at: datetime,
        expires_at: datetime,
    ) -> None:
        """A referral arrives; it must be answered by `expires_at` (see `receive`)."""
        self.sender = sender
        self.external_reference_id = external_reference_id
        self.target_org = target_org
        self.details = dict(details)
        self.status, self.substatus = NEW, RECEIVED
        self.status_reason: str | None = None
        self.created_at = self.updated_at = at
        self.expires_at = expires_at
        self.accepted_at: datetime | None = None
        self.contact_requested = contact_requested
        self.contact_urgent = contact_requested
        self.deal: dict[str, Any] = {}
        self.team_members: list[dict[str, Any]] = []
        self.answered_at: datetime | None = None
        self.lead_id: UUID | None = None

    @classmethod
    def receive(
        cls,
        sender: str,
        external_reference_id: str,
        target_org: str,
        details: dict[str, Any],
        *,
        contact_requested: bool,
        at: datetime,
        answer_within: timedelta = DEFAULT_ANSWER_WITHIN,
    ) -> Referral:
        referral = cls(
            sender=sender,
            external_reference_id=external_reference_id,
            target_org=target_org,
            details=details,
            contact_requested=contact_requested,
            at=at,
            expires_at=at + answer_within,
        )
        referral.set_deadline(EXPIRY, referral.expires_at, EXPIRY)
        if contact_requested:
            referral.set_deadline(CONTACT_FLAG, at + URGENT_FOR, CONTACT_FLAG)
        return referral

    # -- what the sender said ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.details.get("name") or "")

    @property
    def qualification(self) -> str:
        return str(self.details.get("qualification") or "direct")

    @property
    def referral_type(self) -> str:
        return str(self.details.get("type") or "independent")

    @property
    def customer(self) -> dict[str, Any]:
        customer: dict[str, Any] = self.details.get("customer") or {}
        return customer

    # -- the table -------------------------------------------------------------------------

    def allowed_actions(self) -> tuple[str, ...]:
        return ALLOWED[(self.status, self.substatus)]

    def check_allows(self, action: str) -> None:
        if action not in self.allowed_actions():
            raise ActionNotAllowed(action, self.status, self.substatus, self.allowed_actions())

    @property
    def answered(self) -> bool:
        return self.status != NEW

    # -- answers -----------------------------------------------------------------------------

    def accept(self, deal: dict[str, Any], actor: str, at: datetime) -> None:
        """Accept with the deal's details: name, estimated value (amount + currency) and
        estimated closing date are required."""
        self.check_allows("accept")
        for field in ("deal_name", "deal_value", "closing_date"):
            if not deal.get(field):
                raise MissingDetails(field, "required to accept")
        self._accepted(deal=dict(deal), actor=actor, at=at)
        self.cancel_deadline(EXPIRY)

    @event("Accepted")
    def _accepted(self, deal: dict[str, Any], actor: str, at: datetime) -> None:
        self.status, self.substatus = ACTIVE, ACCEPTED
        self.deal = deal
        self.accepted_at = self.answered_at = self.updated_at = at

    def decline(self, reason: str, notes: str | None, actor: str, at: datetime) -> None:
        self.check_allows("decline")
        if not reason:
            raise MissingDetails("reason", "required to decline a referral")
        self._close(DECLINED, reason, notes, actor, at)

    def win(self, actor: str, at: datetime) -> None:
        self.check_allows("won")
        self._close(WON, None, None, actor, at)

    def lose(self, reason: str, actor: str, at: datetime) -> None:
        self.check_allows("lost")
        if not reason:
            raise MissingDetails("reason", "required to mark a referral lost")
        self._close(LOST, reason, None, actor, at)

    def _close(self, substatus: str, reason: str | None, notes: str | None, actor: str, at: datetime) -> None:
        self._closed(substatus=substatus, reason=reason, notes=notes, actor=actor, at=at)
        self.cancel_deadline(EXPIRY)
        self.cancel_deadline(CONTACT_FLAG)

    @event("Closed")
    def _closed(self, substatus: str, reason: str | None, notes: str | None, actor: str, at: datetime) -> None:
        if self.status == NEW and substatus != EXPIRED:
            self.answered_at = at
        self.status, self.substatus = CLOSED, substatus
        self.status_reason = reason
        if notes:
            self.deal = {**self.deal, "decline_notes": notes}
        self.contact_urgent = False
        self.updated_at = at

    # -- while accepted ------------------------------------------------------------------------

    def update(self, changes: dict[str, Any], actor: str, at: datetime) -> bool:
        """Change deal fields (only `EDITABLE` ones); nothing is recorded when nothing changes."""
        self.check_allows("update")
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise MissingDetails(unknown[0], f"cannot be changed; editable: {', '.join(EDITABLE)}")
        changed = {k: v for k, v in changes.items() if self.deal.get(k) != v}
        if changed:
            self._updated(changes=changed, actor=actor, at=at)
        return bool(changed)

    @event("Updated")
    def _updated(self, changes: dict[str, Any], actor: str, at: datetime) -> None:
        self.deal = {**self.deal, **changes}
        self.updated_at = at

    def add_team_member(self, member: dict[str, Any], actor: str, at: datetime) -> None:
        self.check_allows("add_team_member")
        self._team_member_added(member=dict(member), actor=actor, at=at)

    @event("TeamMemberAdded")
    def _team_member_added(self, member: dict[str, Any], actor: str, at: datetime) -> None:
        self.team_members.append(member)
        self.updated_at = at

    # -- deadlines ------------------------------------------------------------------------------

    def expire(self, at: datetime) -> bool:
        """The answer deadline passed: closed/expired — unless it was answered (then nothing)."""
        if self.answered or at < self.expires_at:
            return False
        self._close(EXPIRED, "no answer in time", None, "system", at)
        return True

    def end_contact_urgency(self, at: datetime) -> bool:
        """72 hours after arrival the "contact me" flag changes from urgent to still active."""
        if not self.contact_urgent or at < self.created_at + URGENT_FOR:
            return False
        self._contact_flag_changed(urgent=False, at=at)
        return True

    # -- the lead intake made of it ----------------------------------------------------------------

    def link_lead(self, lead_id: UUID, at: datetime) -> bool:
        """intake made a lead of the accepted referral (the push-down); False when known already."""
        if self.lead_id == lead_id:
            return False
        self._lead_linked(lead_id=lead_id, at=at)
        return True

    @event("LeadLinked")
    def _lead_linked(self, lead_id: UUID, at: datetime) -> None:
        self.lead_id = lead_id

    @event("ContactFlagChanged")
    def _contact_flag_changed(self, urgent: bool, at: datetime) -> None:
        self.contact_urgent = urgent
        self.updated_at = at
