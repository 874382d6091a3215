"""Read-side shapes of intake: one lead, its contact (to address a message), one event, the settings."""

from __future__ import annotations

from typing import Any

from leadflow_shared.views import iso_or_none

from ..domain import Customer, Deal, Lead, LeadSettings


def lead_view(lead: Lead, viewer: str | None = None) -> dict[str, Any]:
    """One lead. Who favorited it is nobody else's business: only with `viewer` (the caller)
    does the view say whether it is in the viewer's own favorites (`favorite`)."""
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
        "last_follow_up_at": iso_or_none(lead.last_follow_up_at),
        "last_follow_up_channel": lead.last_follow_up_channel,
        "contact_requested": bool(lead.details.get("contact_requested")),
        "contact_overdue": lead.contact_overdue,
        "deadlines": {
            deadline_id: {"due_at": iso_or_none(d["due_at"]), "purpose": d["purpose"], "state": d["state"]}
            for deadline_id, d in lead.deadline_book().items()
        },
        "possible_duplicates": lead.possible_duplicates,
        "merged_into": str(lead.merged_into) if lead.merged_into else None,
        "absorbed": lead.absorbed,
        "associations": lead.associations,
        **({"favorite": lead.is_favorite_of(viewer)} if viewer is not None else {}),
        "occurred_at": iso_or_none(lead.occurred_at),
        "received_at": iso_or_none(lead.received_at),
        "received_via": lead.received_via,
        "ignored_updates": lead.ignored_updates,
        "erased_at": iso_or_none(lead.erased_at),
    }


def contact_view(lead: Lead) -> dict[str, Any]:
    """A lead's fields to address and render a message to its person: its personal data (email,
    names, phone, job title, company name) and the non-personal fields a template may use."""
    contact, details = lead.contact, lead.details
    names = [n for n in (contact.get("first_name"), contact.get("last_name")) if n]
    return {
        "lead_id": str(lead.id),
        "email": contact.get("email"),
        "first_name": contact.get("first_name"),
        "last_name": contact.get("last_name"),
        "full_name": " ".join(names) or None,
        "phone": contact.get("phone"),
        "job_title": contact.get("job_title"),
        "company_name": lead.company.get("name"),
        "company": {k: v for k, v in lead.company.items() if k != "name"},
        "type": lead.lead_type,
        "score": lead.score,
        "lifecycle_stage": lead.lifecycle_stage,
        "product_interest": details.get("product_interest"),
        "consent": details.get("consent"),
        "attributes": details.get("attributes", {}),
        "status": lead.status,
        "voided": lead.voided,
        "owner_id": lead.owner_id,
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


def deal_view(deal: Deal) -> dict[str, Any]:
    return {
        "deal_id": str(deal.id),
        "name": deal.name,
        "amount": deal.amount,
        "currency": deal.currency,
        "lead_id": str(deal.lead_id),
        "owner_id": deal.owner_id,
        "created_by": deal.created_by,
        "created_at": iso_or_none(deal.created_at),
    }


def customer_view(customer: Customer) -> dict[str, Any]:
    """A customer: its contact details (the personal data of the lead it was made from: empty
    once that lead is erased) and its leads, each with when it was linked."""
    made_from = str(customer.from_lead_id)
    return {
        "customer_id": str(customer.id),
        "version": customer.version,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "company": customer.company,
        "created_from_lead_id": made_from,
        "created_at": iso_or_none(customer.linked_at(made_from)),
        "leads": [
            {
                "lead_id": lead_id,
                "linked_at": iso_or_none(customer.linked_at(lead_id)),
                "created_customer": lead_id == made_from,
            }
            for lead_id in customer.lead_ids
        ],
        "erased_at": iso_or_none(customer.erased_at),
    }
