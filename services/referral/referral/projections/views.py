"""Read-side shapes of referral: one referral (an event of its stream: `event_view`, shared)."""

from __future__ import annotations

from typing import Any

from leadflow_shared.views import iso_or_none

from ..domain import Referral


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
        "created_at": iso_or_none(referral.created_at),
        "updated_at": iso_or_none(referral.updated_at),
        "expires_at": iso_or_none(referral.expires_at),
        "accepted_at": iso_or_none(referral.accepted_at),
        "answered_at": iso_or_none(referral.answered_at),
        "deadlines": {
            deadline_id: {"due_at": iso_or_none(d["due_at"]), "purpose": d["purpose"], "state": d["state"]}
            for deadline_id, d in referral.deadline_book().items()
        },
    }
