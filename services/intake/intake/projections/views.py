"""Read-side shapes of intake: one lead, one event, the settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ..domain import Lead, LeadSettings

_HIDDEN_EVENT_FIELDS = {"originator_id", "originator_version", "timestamp"}


def lead_view(lead: Lead) -> dict[str, Any]:
    return {
        "lead_id": str(lead.id),
        "version": lead.version,
        "source": lead.source,
        "external_id": lead.external_id,
        "type": lead.lead_type,
        "status": lead.status,
        "voided": lead.voided,
        "allowed_actions": lead.allowed_actions(),
        "owner_id": lead.owner_id,
        "team_id": lead.team_id,
        "stage_id": lead.stage_id,
        "lifecycle_stage": lead.lifecycle_stage,
        "contact": lead.contact,
        "company": lead.company,
        "score": lead.score,
        "campaign_id": lead.campaign_id,
        "details": lead.details,
        "qualification": lead.qualification,
        "customer_id": str(lead.customer_id) if lead.customer_id else None,
        "documents": lead.documents,
        "follow_ups": lead.follow_ups,
        "last_follower": lead.last_follower,
        "last_follow_up_at": _iso(lead.last_follow_up_at),
        "last_follow_up_channel": lead.last_follow_up_channel,
        "contact_requested": bool(lead.details.get("contact_requested")),
        "contact_overdue": lead.contact_overdue,
        "deadlines": {
            deadline_id: {"due_at": _iso(d["due_at"]), "purpose": d["purpose"], "state": d["state"]}
            for deadline_id, d in lead.deadline_book().items()
        },
        "possible_duplicates": lead.possible_duplicates,
        "merged_into": str(lead.merged_into) if lead.merged_into else None,
        "absorbed": lead.absorbed,
        "associations": lead.associations,
        "favorited_by": sorted(lead.favorited_by),
        "occurred_at": _iso(lead.occurred_at),
        "received_at": _iso(lead.received_at),
        "received_via": lead.received_via,
        "ignored_updates": lead.ignored_updates,
        "erased_at": _iso(lead.erased_at),
    }


def event_view(domain_event: Any) -> dict[str, Any]:
    """One event of a lead's stream: what, when, who, why, and its data."""
    data = {k: _jsonable(v) for k, v in vars(domain_event).items() if k not in _HIDDEN_EVENT_FIELDS}
    return {
        "version": domain_event.originator_version,
        "type": type(domain_event).__name__,
        "recorded_at": _iso(domain_event.timestamp),
        "actor": data.pop("actor", None),
        "reason": data.get("reason"),
        "data": data,
    }


def settings_view(settings: LeadSettings) -> dict[str, Any]:
    return {
        "version": settings.version,
        "stages": settings.stages,
        "disqualification_reasons": settings.reasons,
        "require_deal_to_qualify": settings.require_deal_to_qualify,
        "require_reason_to_disqualify": settings.require_reason_to_disqualify,
        "auto_create_at_lifecycle_stage": settings.auto_create_at_lifecycle_stage,
        "lifecycle_stage_on_association": settings.lifecycle_stage_on_association,
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
