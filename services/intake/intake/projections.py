"""Read-side shapes of intake. The first slice reads the Lead aggregate directly."""

from __future__ import annotations

from typing import Any

from .domain import Lead


def lead_view(lead: Lead) -> dict[str, Any]:
    return {
        "lead_id": str(lead.id),
        "version": lead.version,
        "source": lead.source,
        "external_id": lead.external_id,
        "type": lead.lead_type,
        "status": lead.status,
        "contact": lead.contact,
        "company": lead.company,
        "score": lead.score,
        "campaign_id": lead.campaign_id,
        "details": lead.details,
        "occurred_at": lead.occurred_at.isoformat(),
        "received_at": lead.received_at.isoformat(),
        "received_via": lead.received_via,
    }
