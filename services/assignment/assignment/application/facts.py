"""A lead as assignment's rules, segments and revenue models read it."""

from __future__ import annotations

from typing import Any

from leadflow_shared.contracts import LeadSnapshot


def lead_facts(lead: LeadSnapshot) -> dict[str, Any]:
    """The lead as rules and segments read it: no contact details (personal data stays in intake)."""
    return {
        "lead_id": str(lead.lead_id),
        "source": lead.source,
        "external_id": lead.external_id,
        "type": lead.type.value,
        "country": lead.company.country,
        "region": lead.company.region,
        "city": lead.company.city,
        "industry": lead.company.industry,
        "company_size": lead.company.size_band,
        "score": lead.score,
        "campaign": lead.campaign_id,
        "lifecycle_stage": lead.lifecycle_stage,
        "product_interest": lead.product_interest,
        "attributes": dict(lead.attributes),
        "occurred_at": lead.occurred_at.isoformat(),
    }
