"""Read-side shapes of referral: one referral, one event of its stream."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ..domain import Referral

_HIDDEN_EVENT_FIELDS = {"originator_id", "originator_version", "timestamp"}


def etag(version: int) -> str:
    """The referral's entity tag: its version (every change moves it)."""
    return f'"{version}"'


def referral_view(referral: Referral) -> dict[str, Any]:
    details = dict(referral.details)
    return {
        "referral_id": str(referral.id),
        "version": referral.version,
        "etag": etag(referral.version),
        "engagement_id": details.pop("engagement_id", None),
        "name": details.pop("name", None),
        "external_reference_id": referral.external_reference_id,
        "sender": referral.sender,
        "target_org": referral.target_org,
        "type": details.pop("type", "independent"),
        "qualification": details.pop("qualification", "direct"),
        "status": referral.status,
        "substatus": referral.substatus,
        "status_reason": referral.status_reason,
        "allowed_actions": list(referral.allowed_actions()),
        "customer": details.pop("customer", {}),
        "consent": details.pop("consent", {}),
        "details": details.pop("details", {}),
        "team": details.pop("team", []),
        "invite": details.pop("invite", {}),
        "received_via": details.pop("received_via", None),
        "contact_requested": referral.contact_requested,
        "contact_urgent": referral.contact_urgent,
        "deal": referral.deal,
        "team_members": referral.team_members,
        "lead_id": str(referral.lead_id) if referral.lead_id else None,
        "created_at": _iso(referral.created_at),
        "updated_at": _iso(referral.updated_at),
        "expires_at": _iso(referral.expires_at),
        "accepted_at": _iso(referral.accepted_at),
        "answered_at": _iso(referral.answered_at),
        "deadlines": {
            deadline_id: {"due_at": _iso(d["due_at"]), "purpose": d["purpose"], "state": d["state"]}
            for deadline_id, d in referral.deadline_book().items()
        },
    }


def event_view(domain_event: Any) -> dict[str, Any]:
    """One event of a referral's stream: what, when, who, why, and its data."""
    data = {k: _jsonable(v) for k, v in vars(domain_event).items() if k not in _HIDDEN_EVENT_FIELDS}
    return {
        "version": domain_event.originator_version,
        "type": type(domain_event).__name__,
        "recorded_at": _iso(domain_event.timestamp),
        "actor": data.pop("actor", None),
        "reason": data.get("reason"),
        "data": data,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value
