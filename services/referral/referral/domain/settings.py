"""Per partner organisation: the decline reasons its users choose from. Per user: favorites."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .referral import InvalidInput

_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:referral-settings")
MAX_REASONS = 100

DEFAULT_DECLINE_REASONS: Final[tuple[dict[str, str], ...]] = (
    {"id": "not_a_fit", "label": "Not a fit for our solutions"},
    {"id": "no_capacity", "label": "No capacity to take it on"},
    {"id": "insufficient_information", "label": "Not enough information to act on"},
    {"id": "outside_our_region", "label": "Outside the regions we serve"},
    {"id": "duplicate", "label": "Duplicate of a referral or deal we have"},
    {"id": "other", "label": "Other"},
)
"""What an organisation's list holds until its referrals admin changes it."""


def decline_reasons_id(org: str) -> UUID:
    return uuid5(_NAMESPACE, f"decline-reasons\x00{org}")


def favorites_id(user: str) -> UUID:
    return uuid5(_NAMESPACE, f"favorites\x00{user}")


def checked_reasons(reasons: list[dict[str, str]]) -> list[dict[str, str]]:
    """An ordered list of {id, label}: ids unique, at least one, at most MAX_REASONS."""
    if not reasons:
        raise InvalidInput("reasons", "at least one reason is needed")
    if len(reasons) > MAX_REASONS:
        raise InvalidInput("reasons", f"at most {MAX_REASONS} reasons")
    seen: set[str] = set()
    for i, reason in enumerate(reasons):
        if reason["id"] in seen:
            raise InvalidInput(f"reasons.{i}.id", f"{reason['id']!r} is listed twice")
        seen.add(reason["id"])
    return [{"id": r["id"], "label": r["label"]} for r in reasons]


class DeclineReasons(Aggregate):
    """One partner organisation's decline reasons, in the order its users see them."""

    @staticmethod
    def create_id(org: str, **_: Any) -> UUID:
        return decline_reasons_id(org)

    @event("Created")
    def __init__(self, org: str, reasons: list[dict[str, str]]) -> None:
        self.org = org
        self.reasons = reasons

    @classmethod
    def default(cls, org: str) -> DeclineReasons:
        return cls(org=org, reasons=[dict(r) for r in DEFAULT_DECLINE_REASONS])

    def replace(self, reasons: list[dict[str, str]], actor: str, at: datetime) -> bool:
        reasons = checked_reasons(reasons)
        if reasons == self.reasons:
            return False
        self._replaced(reasons=reasons, actor=actor, at=at)
        return True

    @event("Replaced")
    def _replaced(self, reasons: list[dict[str, str]], actor: str, at: datetime) -> None:
        self.reasons = reasons

    def label_of(self, reason_id: str) -> str:
        for reason in self.reasons:
            if reason["id"] == reason_id:
                return reason["label"]
        raise InvalidInput("reason", f"unknown reason {reason_id!r}; one of: {', '.join(self.ids())}")

    def ids(self) -> list[str]:
        return [r["id"] for r in self.reasons]


class Favorites(Aggregate):
    """One user's favorite referrals (nobody else sees them)."""

    @staticmethod
    def create_id(user: str, **_: Any) -> UUID:
        return favorites_id(user)

    @event("Created")
    def __init__(self, user: str) -> None:
        self.user = user
        self.referral_ids: set[str] = set()

    def mark(self, referral_id: UUID, at: datetime) -> bool:
        if str(referral_id) in self.referral_ids:
            return False
        self._marked(referral_id=referral_id, at=at)
        return True

    @event("Marked")
    def _marked(self, referral_id: UUID, at: datetime) -> None:
        self.referral_ids.add(str(referral_id))

    def unmark(self, referral_id: UUID, at: datetime) -> bool:
        if str(referral_id) not in self.referral_ids:
            return False
        self._unmarked(referral_id=referral_id, at=at)
        return True

    @event("Unmarked")
    def _unmarked(self, referral_id: UUID, at: datetime) -> None:
        self.referral_ids.discard(str(referral_id))
