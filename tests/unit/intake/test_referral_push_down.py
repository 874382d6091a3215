"""The push-down: an accepted partner referral becomes a lead of the matching type, once, linked to
the referral by its id (the referral learns the lead's id from the LeadReceivedV1 that follows)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from referral_world import DEAL, inbound

from intake.application import IntakeApplication
from intake.domain import lead_id_for
from leadflow_shared.contracts import ReferralAcceptedV1

pytestmark = pytest.mark.unit


def accepted(qualification: str, **customer: Any) -> ReferralAcceptedV1:
    referral_id = uuid.uuid4()
    profile = {**inbound()["customer"], **customer}
    return ReferralAcceptedV1.model_validate(
        {
            "aggregate_id": referral_id,
            "version": 3,
            "referral_id": referral_id,
            "target_org": "fabrikam",
            "sender": "msft",
            "external_reference_id": "r-1",
            "status": "active",
            "substatus": "accepted",
            "occurred_at": "2026-11-02T10:00:00Z",
            "qualification": qualification,
            "customer": profile,
            "contact_requested": True,
            "actor": "pat",
            **{k: v for k, v in DEAL.items() if k != "notes"},
        }
    )


@pytest.mark.parametrize(
    ("qualification", "lead_type"),
    [
        ("direct", "customer_inquiry"),
        ("marketing_qualified", "marketing_qualified"),
        ("sales_qualified", "sales_qualified"),
    ],
)
def test_an_accepted_referral_becomes_a_lead_of_the_matching_type_once(qualification: str, lead_type: str) -> None:
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    event = accepted(qualification)
    first = app.execute(app.on_referral_accepted, event)
    again = app.execute(app.on_referral_accepted, event)  # re-delivered: the same lead, nothing new
    assert first == again == lead_id_for("referral", str(event.referral_id))
    lead = app.get_lead(first)
    assert (lead.lead_type, lead.source, lead.external_id, lead.received_via) == (
        lead_type,
        "referral",
        str(event.referral_id),
        "referral",
    )
    assert lead.details["attributes"] == {
        "referral_id": str(event.referral_id),
        "partner_org": "fabrikam",
        "referral_sender": "msft",
    }
    assert lead.contact == {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@contoso.example"}
    assert lead.company == {"name": "Contoso", "country": "DE", "city": "Berlin", "size_band": "51to250employees"}
    assert lead.details["contact_requested"] is True
    assert len(list(app.events.get(first))) == lead.version  # one stream, nothing added the second time
