"""A lead's contact for addressing a message: `GET /v1/leads/{id}/contact` answers the personal
fields `leads.events.v1` never carries — to an admin, or to an API key with scope
`leads:contact` (sequence's mailer) — and answers 404 once the lead is deleted or erased."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from auth_helpers import bearer
from intake_world import assigned

from intake.application import IntakeApplication

pytestmark = pytest.mark.unit

Client = tuple[httpx.AsyncClient, IntakeApplication]
PERSONAL = ("Zelda", "Quuxley", "zelda.q@example.org", "+442079460123", "Zeldacorp", "Head of Tea")


def lead_body(external_id: str = "c-1") -> dict[str, Any]:
    return {
        "source": "web-form",
        "external_id": external_id,
        "type": "marketing_qualified",
        "contact": {
            "first_name": "Zelda",
            "last_name": "Quuxley",
            "email": "zelda.q@example.org",
            "phone": "+442079460123",
            "job_title": "Head of Tea",
        },
        "company": {"name": "Zeldacorp", "country": "GB", "industry": "retail"},
        "score": 70,
        "lifecycle_stage": "lead",
        "product_interest": "kettles",
        "consent": True,
        "attributes": {"utm_source": "newsletter"},
        "notes": "prefers mornings",
        "occurred_at": "2026-11-01T10:00:00Z",
    }


async def a_lead(http: httpx.AsyncClient, external_id: str = "c-1") -> str:
    response = await http.post("/v1/leads", json=lead_body(external_id))
    assert response.status_code == 201
    return str(response.json()["lead"]["lead_id"])


async def a_key(http: httpx.AsyncClient, *scopes: str) -> dict[str, str]:
    """An API key the admin creates (the route makes the service read its keys again at once)."""
    created = await http.post("/v1/api-keys", json={"name": "sequence", "scopes": list(scopes)})
    assert created.status_code == 201
    return {"X-API-Key": created.json()["key"]}


async def test_an_admin_reads_the_fields_to_address_the_person(client: Client) -> None:
    http, app = client
    lead_id = await a_lead(http)
    app.execute(app.on_assignment_decided, assigned(lead_id, "sam", "emea", version=1))

    response = await http.get(f"/v1/leads/{lead_id}/contact")

    assert response.status_code == 200
    assert response.json() == {
        "lead_id": lead_id,
        "email": "zelda.q@example.org",
        "first_name": "Zelda",
        "last_name": "Quuxley",
        "full_name": "Zelda Quuxley",
        "phone": "+442079460123",
        "job_title": "Head of Tea",
        "company_name": "Zeldacorp",
        "company": {"country": "GB", "industry": "retail"},
        "type": "marketing_qualified",
        "score": 70,
        "lifecycle_stage": "lead",
        "product_interest": "kettles",
        "consent": True,
        "attributes": {"utm_source": "newsletter"},
        "status": "assigned",
        "voided": False,
        "owner_id": "sam",
    }


async def test_an_api_key_needs_the_scope_leads_contact(client: Client) -> None:
    http, _ = client
    lead_id = await a_lead(http)
    mailer, upstream = await a_key(http, "leads:contact"), await a_key(http, "leads:write")

    allowed = await http.get(f"/v1/leads/{lead_id}/contact", headers=mailer)
    refused = await http.get(f"/v1/leads/{lead_id}/contact", headers=upstream)

    assert allowed.status_code == 200 and allowed.json()["email"] == "zelda.q@example.org"
    assert refused.status_code == 403 and "leads:contact" in refused.json()["detail"]


async def test_a_seller_may_not_even_for_their_own_lead(client: Client) -> None:
    http, app = client
    lead_id = await a_lead(http)
    app.execute(app.on_assignment_decided, assigned(lead_id, "sam", version=1))

    response = await http.get(f"/v1/leads/{lead_id}/contact", headers=bearer("seller", "sam"))

    assert response.status_code == 403
    assert (await http.get(f"/v1/leads/{lead_id}", headers=bearer("seller", "sam"))).status_code == 200


async def test_an_unknown_or_deleted_lead_is_not_found(client: Client) -> None:
    http, _ = client
    lead_id = await a_lead(http)
    assert (await http.delete(f"/v1/leads/{lead_id}")).status_code == 204

    unknown = await http.get("/v1/leads/00000000-0000-4000-8000-000000000000/contact")
    deleted = await http.get(f"/v1/leads/{lead_id}/contact")

    assert unknown.status_code == 404 and deleted.status_code == 404


async def test_an_erased_lead_is_not_found_and_says_why(client: Client) -> None:
    http, _ = client
    lead_id = await a_lead(http)
    mailer = await a_key(http, "leads:contact")
    assert (await http.get(f"/v1/leads/{lead_id}/contact", headers=mailer)).status_code == 200

    assert (await http.post(f"/v1/leads/{lead_id}/erasure", json={"reason": "asked"})).status_code == 200
    response = await http.get(f"/v1/leads/{lead_id}/contact", headers=mailer)

    assert response.status_code == 404
    assert "the lead's personal data was erased" in response.json()["detail"]
    assert not any(value in response.text for value in PERSONAL)


async def test_nothing_personal_is_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    http, _ = client
    caplog.set_level(logging.DEBUG)
    lead_id = await a_lead(http)
    mailer = await a_key(http, "leads:contact")

    assert (await http.get(f"/v1/leads/{lead_id}/contact", headers=mailer)).status_code == 200
    assert (await http.get("/v1/leads/00000000-0000-4000-8000-000000000000/contact")).status_code == 404

    assert [value for value in PERSONAL if value in caplog.text] == []
