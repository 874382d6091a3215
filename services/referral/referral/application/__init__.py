"""referral's use cases: one method each, shaped load → check → call, over a unit of work.

Every use case takes the unit of work first (a Kafka batch passes one for the whole batch, an
HTTP command one of its own: `app.execute(app.accept, referral_id, ...)`); the caller commits.
A command that names the version it was made against (`if_match`, from the ETag) is refused
when the referral has changed since, inside the same unit of work that would change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.contracts import InboundReferralV1, LeadReceivedV1
from leadflow_shared.contracts.referrals import PUSHED_DOWN_SOURCE
from leadflow_shared.store import ServiceApplication
from leadflow_shared.timetravel import state_as_of
from leadflow_shared.unit_of_work import UnitOfWork

from ..domain import (
    CONTACT_FLAG,
    DEFAULT_DECLINE_REASONS,
    EXPIRY,
    PERSONAL_DATA,
    DeclineReasons,
    Favorites,
    InvalidInput,
    Referral,
    ReferralError,
    decline_reasons_id,
    favorites_id,
    referral_id_for,
)


class ReferralNotFound(LookupError):
    def __init__(self, referral_id: UUID, message: str | None = None) -> None:
        super().__init__(message or f"referral {referral_id} not found")
        self.referral_id = referral_id


class ReasonNotFound(LookupError):
    """No such decline reason in the organisation's list (HTTP 404)."""


class StaleVersion(ReferralError):
    """The referral changed since the caller read it (HTTP 412: read it again)."""

    def __init__(self, referral_id: UUID, expected: int, current: int) -> None:
        super().__init__(
            f"referral {referral_id} changed since it was read (If-Match names version {expected}, "
            f"it is at {current}); read it again"
        )
        self.current = current


@dataclass(frozen=True)
class Receipt:
    referral_id: UUID
    created: bool


def sender_details(inbound: InboundReferralV1) -> dict[str, Any]:
    """What the Referral keeps of an inbound referral besides its identity and target."""
    return inbound.model_dump(
        mode="json",
        exclude_none=True,
        exclude={"sender", "external_reference_id", "target_org", "contact_requested", "occurred_at"},
    )


class ReferralApplication(ServiceApplication):
    name = "referral"
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "5000"}
    personal_data = PERSONAL_DATA

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        answer_within: timedelta = timedelta(days=14),
    ) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()
        self.answer_within = answer_within
        """How long a partner has to accept or decline before the referral expires."""

    # -- taking referrals in ----------------------------------------------------------------

    def receive(self, uow: UnitOfWork, inbound: InboundReferralV1, *, via: str = "kafka") -> Receipt:
        """Record a new referral; the same (sender, external reference id) again changes nothing."""
        referral_id = referral_id_for(inbound.sender, inbound.external_reference_id)
        if uow.get(referral_id) is not None:
            return Receipt(referral_id, created=False)
        referral = Referral.receive(
            inbound.sender,
            inbound.external_reference_id,
            inbound.target_org,
            {**sender_details(inbound), "received_via": via},
            contact_requested=inbound.contact_requested,
            at=self.clock.now(),
            answer_within=self.answer_within,
        )
        uow.add(referral)
        return Receipt(referral.id, created=True)

    @staticmethod
    def looked_up_by(inbound: InboundReferralV1) -> list[UUID]:
        return [referral_id_for(inbound.sender, inbound.external_reference_id)]

    # -- the partner's answers and work ---------------------------------------------------------

    def accept(
        self, uow: UnitOfWork, referral_id: UUID, *, actor: str, deal: dict[str, Any], if_match: int | None = None
    ) -> int:
        referral = self._referral(uow, referral_id, if_match)
        referral.accept(deal, actor, self.clock.now())
        uow.add(referral)
        return int(referral.version)

    def decline(
        self,
        uow: UnitOfWork,
        referral_id: UUID,
        *,
        actor: str,
        reason: str,
        notes: str | None = None,
        if_match: int | None = None,
    ) -> int:
        referral = self._referral(uow, referral_id, if_match)
        referral.check_allows("decline")
        self._decline_reasons(uow, referral.target_org).label_of(reason)  # an unknown reason: 422
        referral.decline(reason, notes, actor, self.clock.now())
        uow.add(referral)
        return int(referral.version)

    def update(
        self, uow: UnitOfWork, referral_id: UUID, *, actor: str, changes: dict[str, Any], if_match: int | None = None
    ) -> int:
        referral = self._referral(uow, referral_id, if_match)
        if referral.update(changes, actor, self.clock.now()):
            uow.add(referral)
        return int(referral.version)

    def add_team_member(
        self, uow: UnitOfWork, referral_id: UUID, *, actor: str, member: dict[str, Any], if_match: int | None = None
    ) -> int:
        referral = self._referral(uow, referral_id, if_match)
        referral.add_team_member(member, actor, self.clock.now())
        uow.add(referral)
        return int(referral.version)

    def win(self, uow: UnitOfWork, referral_id: UUID, *, actor: str, if_match: int | None = None) -> int:
        referral = self._referral(uow, referral_id, if_match)
        referral.win(actor, self.clock.now())
        uow.add(referral)
        return int(referral.version)

    def lose(self, uow: UnitOfWork, referral_id: UUID, *, actor: str, reason: str, if_match: int | None = None) -> int:
        referral = self._referral(uow, referral_id, if_match)
        referral.lose(reason, actor, self.clock.now())
        uow.add(referral)
        return int(referral.version)

    def set_favorite(self, uow: UnitOfWork, referral_id: UUID, *, user: str, on: bool) -> bool:
        """Mark or unmark one of the user's favorites (idempotent); True when it is one now."""
        self._referral(uow, referral_id, None)
        favorites: Favorites | None = uow.get(favorites_id(user))
        if favorites is None:
            if not on:
                return False
            favorites = Favorites(user=user)
        now = self.clock.now()
        if favorites.mark(referral_id, now) if on else favorites.unmark(referral_id, now):
            uow.add(favorites)
        return on

    # -- settings ---------------------------------------------------------------------------------

    def decline_reasons(self, org: str) -> list[dict[str, str]]:
        try:
            reasons: DeclineReasons = self.latest(decline_reasons_id(org))
        except AggregateNotFoundError:
            return [dict(r) for r in DEFAULT_DECLINE_REASONS]
        return list(reasons.reasons)

    def change_decline_reasons(
        self, uow: UnitOfWork, org: str, reasons: list[dict[str, str]], *, actor: str
    ) -> list[dict[str, str]]:
        """Replace the organisation's list (its order is the order users see)."""
        current = self._decline_reasons(uow, org)
        current.replace(reasons, actor, self.clock.now())
        uow.add(current)
        return list(current.reasons)

    def add_decline_reason(
        self, uow: UnitOfWork, org: str, reason: dict[str, str], *, position: int | None, actor: str
    ) -> list[dict[str, str]]:
        """Insert one reason (at `position`, or last); an id already listed is refused."""
        current = self._decline_reasons(uow, org)
        if reason["id"] in current.ids():
            raise InvalidInput("id", f"{reason['id']!r} is in the list already")
        reasons = list(current.reasons)
        reasons.insert(len(reasons) if position is None else min(position, len(reasons)), reason)
        current.replace(reasons, actor, self.clock.now())
        uow.add(current)
        return list(current.reasons)

    def remove_decline_reason(self, uow: UnitOfWork, org: str, reason_id: str, *, actor: str) -> list[dict[str, str]]:
        current = self._decline_reasons(uow, org)
        if reason_id not in current.ids():
            raise ReasonNotFound(f"no decline reason {reason_id!r} in {org}'s list")
        current.replace([r for r in current.reasons if r["id"] != reason_id], actor, self.clock.now())
        uow.add(current)
        return list(current.reasons)

    # -- what happens without a caller --------------------------------------------------------

    def on_deadline(self, uow: UnitOfWork, aggregate: Any, deadline_id: str, purpose: str, at: datetime) -> None:
        """A deadline fired (the deadline runner): the answer deadline passed, or 72 hours did."""
        if not isinstance(aggregate, Referral):
            return
        if purpose == EXPIRY:
            aggregate.expire(at)
        elif purpose == CONTACT_FLAG:
            aggregate.end_contact_urgency(at)

    def on_lead_received(self, uow: UnitOfWork, received: LeadReceivedV1) -> None:
        """intake made a lead of an accepted referral: the referral records the lead's id."""
        for referral_id in self.linked_by(received):
            referral: Referral | None = uow.get(referral_id)
            if referral is not None and referral.link_lead(received.lead_id, self.clock.now()):
                uow.add(referral)

    @staticmethod
    def linked_by(received: LeadReceivedV1) -> list[UUID]:
        """The referral a new lead was made of (none unless intake made it of a referral)."""
        if received.source != PUSHED_DOWN_SOURCE:
            return []
        try:
            return [UUID(received.external_id)]
        except ValueError:
            return []

    # -- reads ------------------------------------------------------------------------------------

    def get_referral(self, referral_id: UUID) -> Referral:
        try:
            referral = self.latest(referral_id)
        except AggregateNotFoundError:
            raise ReferralNotFound(referral_id) from None
        if not isinstance(referral, Referral):
            raise ReferralNotFound(referral_id)
        return referral

    def referral_org(self, referral_id: UUID) -> str:
        """The partner organisation a referral belongs to (raises ReferralNotFound)."""
        return self.get_referral(referral_id).target_org

    def get_referral_as_of(self, referral_id: UUID, as_of: datetime) -> Referral:
        referral = state_as_of(self, referral_id, as_of, what="referral")
        if not isinstance(referral, Referral):
            raise ReferralNotFound(referral_id)
        return referral

    def history(self, referral_id: UUID) -> list[Any]:
        self.get_referral(referral_id)
        return list(self.events.get(referral_id))

    # -- helpers ----------------------------------------------------------------------------------

    def _referral(self, uow: UnitOfWork, referral_id: UUID, if_match: int | None) -> Referral:
        referral: Referral | None = uow.get(referral_id)
        if not isinstance(referral, Referral):
            raise ReferralNotFound(referral_id)
        if if_match is not None and if_match != referral.version:
            raise StaleVersion(referral_id, if_match, referral.version)
        return referral

    def _decline_reasons(self, uow: UnitOfWork, org: str) -> DeclineReasons:
        reasons: DeclineReasons | None = uow.get(decline_reasons_id(org))
        return reasons if reasons is not None else DeclineReasons.default(org)
