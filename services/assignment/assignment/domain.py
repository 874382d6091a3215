"""Assignment aggregates. Pure: standard library and eventsourcing.domain only."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

ROSTER_ID = uuid5(NAMESPACE_URL, "leadflow:assignment:roster")


class NoSellerAvailable(Exception):
    """The roster has nobody to assign to."""


class Roster(Aggregate):
    """The sellers leads can go to, and the round-robin turn."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return ROSTER_ID

    @event("Opened")
    def __init__(self) -> None:
        self.sellers: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.turn = 0

    @event("SellerJoined")
    def add_seller(self, seller_id: str, name: str) -> None:
        self.sellers[seller_id] = {"name": name}
        self.order.append(seller_id)

    def has_seller(self, seller_id: str) -> bool:
        return seller_id in self.sellers

    def next_in_turn(self) -> str:
        self.check_has_sellers()
        return self.order[self.turn % len(self.order)]

    def check_has_sellers(self) -> None:
        if not self.order:
            raise NoSellerAvailable("the roster is empty")

    @event("TurnTaken")
    def take_turn(self, seller_id: str, lead_id: UUID) -> None:
        self.turn += 1


class Assignment(Aggregate):
    """Who owns one lead. Its id is the lead's id, so keys line up across topics."""

    @staticmethod
    def create_id(lead_id: UUID, **_: Any) -> UUID:
        return lead_id

    @event("Opened")
    def __init__(self, lead_id: UUID, lead_version: int, source: str | None, external_id: str | None) -> None:
        self.lead_id = lead_id
        self.lead_version = lead_version
        self.source = source
        self.external_id = external_id
        self.seller_id: str | None = None
        self.method: str | None = None
        self.decided_at: datetime | None = None
        self.waiting_reason: str | None = None

    def has_seen(self, lead_version: int) -> bool:
        """Upstream idempotency: an event re-sent by intake's relay is applied once."""
        return lead_version <= self.lead_version

    def decide(self, seller_id: str, method: str, decided_at: datetime) -> None:
        # The event repeats the lead's upstream ids so the published fact stands alone.
        self._record_decision(seller_id, method, decided_at, self.source, self.external_id)

    @event("Decided")
    def _record_decision(
        self, seller_id: str, method: str, decided_at: datetime, source: str | None, external_id: str | None
    ) -> None:
        self.seller_id = seller_id
        self.method = method
        self.decided_at = decided_at
        self.waiting_reason = None

    @event("Waiting")
    def wait_for_seller(self, reason: str, since: datetime) -> None:
        self.waiting_reason = reason
