"""Customers to read and find, quote/order links that can be undone, favorites that are each
user's own, the import template to download, and a bad phone named where it is."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from auth_helpers import authenticator, bearer
from intake_world import assigned, lead_list_of
from pydantic import ValidationError

from intake.application import IntakeApplication
from intake.application.importing import COLUMNS
from intake.entrypoints.api import create_api
from intake.entrypoints.stream import to_integration_event
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import InboundLeadV1, LeadChangedV1
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit

Client = tuple[httpx.AsyncClient, IntakeApplication]
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERSONAL = ("Zelda", "Quuxley", "zelda.q@example.org", "+442079460123", "Zeldacorp")


def lead_body(external_id: str, **contact: Any) -> dict[str, Any]:
    return {
        "source": "web-form",
        "external_id": external_id,
        "contact": contact
        or {"first_name": "Zelda", "last_name": "Quuxley", "email": "zelda.q@example.org", "phone": "+442079460123"},
        "company": {"name": "Zeldacorp", "country": "GB"},
        "occurred_at": "2026-11-01T10:00:00Z",
    }


async def a_lead_of(
    http: httpx.AsyncClient, app: IntakeApplication, external_id: str, seller: str = "sam", **contact: Any
) -> str:
    """A lead that assignment gave to `seller` (team emea)."""
    response = await http.post("/v1/leads", json=lead_body(external_id, **contact))
    assert response.status_code == 201, response.text
    lead_id = str(response.json()["lead"]["lead_id"])
    app.execute(app.on_assignment_decided, assigned(lead_id, seller, "emea", version=1))
    return lead_id


async def converted(http: httpx.AsyncClient, lead_id: str, **body: Any) -> str:
    response = await http.post(f"/v1/leads/{lead_id}/convert", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["customer_id"])


@pytest.fixture
async def listed() -> AsyncIterator[Client]:
    """The `client` fixture's API with the lead list's runner following the log, as in the service
    (for the tests that read the list)."""
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    worker, model = StoreWorker("test"), lead_list_of(app)
    api = create_api(app, worker, {}, model, authenticator(app, worker))
    app.on_recorded.append(model.runner.listener(asyncio.get_running_loop()))
    job = asyncio.create_task(model.runner.run())
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=bearer("admin")) as http:
        yield http, app
    model.runner.stop()
    await job
    worker.shutdown()


@pytest.fixture
def timed(client: Client) -> tuple[httpx.AsyncClient, IntakeApplication, FixedClock]:
    http, app = client
    clock = FixedClock(START)
    app.clock = clock
    return http, app, clock


# -- customers --------------------------------------------------------------------------------


async def test_a_customer_shows_its_contact_details_and_its_leads_with_when_each_was_linked(timed: Any) -> None:
    http, app, clock = timed
    first = await a_lead_of(http, app, "c-1")
    second = await a_lead_of(http, app, "c-2", first_name="Zed", phone="+442079460123")
    customer_id = await converted(http, first)
    clock.advance(timedelta(hours=2))
    assert await converted(http, second, link_to_customer_id=customer_id) == customer_id

    response = await http.get(f"/v1/customers/{customer_id}")

    assert response.status_code == 200
    assert response.json() == {
        "customer_id": customer_id,
        "version": 2,
        "name": "Zelda Quuxley",
        "email": "zelda.q@example.org",
        "phone": "+442079460123",
        "company": "Zeldacorp",
        "created_from_lead_id": first,
        "created_at": "2026-11-02T09:00:00+00:00",
        "leads": [
            {"lead_id": first, "linked_at": "2026-11-02T09:00:00+00:00", "created_customer": True},
            {"lead_id": second, "linked_at": "2026-11-02T11:00:00+00:00", "created_customer": False},
        ],
        "erased_at": None,
    }


async def test_an_unknown_customer_is_404_and_so_is_a_lead_id(client: Client) -> None:
    http, app = client
    lead_id = await a_lead_of(http, app, "c-1")

    unknown = await http.get("/v1/customers/00000000-0000-4000-8000-000000000000")
    a_lead = await http.get(f"/v1/customers/{lead_id}")

    assert unknown.status_code == 404 and "customer 00000000-0000-4000-8000-000000000000 not found" in unknown.text
    assert a_lead.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "phone=%2B44%2020%207946%200123",  # E.164 with spaces, `+` encoded
        "phone=+442079460123",  # an unencoded `+` arrives as a space
        "phone=020%207946%200123&country=GB",  # national, read with the country
        "email=Zelda.Q@Example.org",  # case-insensitive
        "phone=%2B442079460123&email=zelda.q@example.org",  # both: both match
    ],
)
async def test_customers_are_found_by_exact_phone_or_email(client: Client, query: str) -> None:
    http, app = client
    customer_id = await converted(http, await a_lead_of(http, app, "c-1"))
    await a_lead_of(http, app, "other", phone="+442079460999", email="other@example.org")

    response = await http.get(f"/v1/customers?{query}")

    assert response.status_code == 200, response.text
    assert [c["customer_id"] for c in response.json()["items"]] == [customer_id]


async def test_a_lookup_that_matches_nothing_is_an_empty_list_and_bad_input_is_422(client: Client) -> None:
    http, app = client
    await converted(http, await a_lead_of(http, app, "c-1"))

    nobody = await http.get("/v1/customers", params={"phone": "+442079460999"})
    half = await http.get("/v1/customers", params={"phone": "+442079460123", "email": "other@example.org"})
    bad_phone = await http.get("/v1/customers", params={"phone": "12"})
    bad_email = await http.get("/v1/customers", params={"email": "nope"})
    nothing = await http.get("/v1/customers")

    assert nobody.status_code == 200 and nobody.json() == {"items": []}
    assert half.status_code == 200 and half.json() == {"items": []}
    assert bad_phone.status_code == 422 and bad_phone.json()["detail"][0]["loc"] == ["query", "phone"]
    assert bad_email.status_code == 422 and bad_email.json()["detail"][0]["loc"] == ["query", "email"]
    assert nothing.status_code == 422 and "phone or email" in nothing.json()["detail"][0]["msg"]


async def test_a_seller_sees_the_customers_of_their_own_leads_only(client: Client) -> None:
    http, app = client
    customer_id = await converted(http, await a_lead_of(http, app, "c-1", seller="sam"))
    sam, olga = bearer("seller", "sam"), bearer("seller", "olga")

    assert (await http.get(f"/v1/customers/{customer_id}", headers=sam)).status_code == 200
    assert (await http.get(f"/v1/customers/{customer_id}", headers=olga)).status_code == 404
    found_by_sam = await http.get("/v1/customers", params={"phone": "+442079460123"}, headers=sam)
    found_by_olga = await http.get("/v1/customers", params={"phone": "+442079460123"}, headers=olga)
    assert len(found_by_sam.json()["items"]) == 1
    assert found_by_olga.status_code == 200 and found_by_olga.json()["items"] == []


async def test_a_conversion_refused_on_a_customer_phone_names_the_customer(client: Client) -> None:
    http, app = client
    customer_id = await converted(http, await a_lead_of(http, app, "c-1"))
    second = await a_lead_of(http, app, "c-2", phone="+44 20 7946 0123")

    refused = await http.post(f"/v1/leads/{second}/convert", json={})

    assert refused.status_code == 409
    assert refused.json()["existing_customer_id"] == customer_id
    assert refused.json()["existing_customer_name"] == "Zelda Quuxley"
    assert refused.json()["detail"] == (
        f"a customer with the same phone already exists: Zelda Quuxley ({customer_id}); link to it instead"
    )


async def test_after_the_lead_is_erased_its_customer_keeps_its_leads_but_no_personal_data(client: Client) -> None:
    http, app = client
    lead_id = await a_lead_of(http, app, "c-1")
    customer_id = await converted(http, lead_id)

    assert (await http.post(f"/v1/leads/{lead_id}/erasure", json={"reason": "asked"})).status_code == 200
    customer = await http.get(f"/v1/customers/{customer_id}")
    by_phone = await http.get("/v1/customers", params={"phone": "+442079460123"})
    by_email = await http.get("/v1/customers", params={"email": "zelda.q@example.org"})

    assert customer.status_code == 200
    body = customer.json()
    assert (body["name"], body["email"], body["phone"], body["company"]) == (None, None, None, None)
    assert body["erased_at"] is not None and [link["lead_id"] for link in body["leads"]] == [lead_id]
    assert not any(value in customer.text for value in PERSONAL)
    assert by_phone.json() == {"items": []} and by_email.json() == {"items": []}


# -- quote and order documents ----------------------------------------------------------------


async def test_the_same_number_twice_on_a_lead_is_409_naming_it(client: Client) -> None:
    http, app = client
    lead_id = await a_lead_of(http, app, "d-1")
    assert (
        await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "quote", "number": "Q-1"})
    ).status_code == 201

    again = await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "quote", "number": "Q-1"})
    as_order = await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "order", "number": "Q-1"})
    other = await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "order", "number": "O-1"})

    assert again.status_code == 409 and again.json()["detail"] == "quote Q-1 is already linked to this lead"
    assert as_order.status_code == 409 and as_order.json()["number"] == "Q-1"
    assert other.status_code == 201
    assert other.json()["documents"] == [{"kind": "quote", "number": "Q-1"}, {"kind": "order", "number": "O-1"}]


async def test_a_document_is_unlinked_as_an_event_published_as_a_lead_change(listed: Client) -> None:
    http, app = listed
    lead_id = await a_lead_of(http, app, "d-1")
    await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "quote", "number": "Q-1"})
    await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "order", "number": "O/7 b"})

    response = await http.delete(f"/v1/leads/{lead_id}/documents/O%2F7%20b", headers=bearer("admin", sub="ana"))

    assert response.status_code == 200, response.text
    assert response.json()["documents"] == [{"kind": "quote", "number": "Q-1"}]
    last = app.lead_history(UUID(lead_id))[-1]
    assert type(last).__name__ == "DocumentUnlinked" and (last.kind, last.number, last.actor) == (
        "order",
        "O/7 b",
        "ana",
    )
    published = to_integration_event(last)
    assert isinstance(published, LeadChangedV1)
    assert (published.change, published.data, published.actor) == (
        "document_unlinked",
        {"kind": "order", "number": "O/7 b"},
        "ana",
    )
    items = (await http.get("/v1/leads")).json()["items"]
    assert [item["documents"] for item in items if item["lead_id"] == lead_id] == [1]


async def test_unlinking_an_unknown_number_is_404_naming_it(client: Client) -> None:
    http, app = client
    lead_id = await a_lead_of(http, app, "d-1")
    await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "quote", "number": "Q-1"})

    response = await http.delete(f"/v1/leads/{lead_id}/documents/Q-2")

    assert response.status_code == 404 and response.json()["detail"] == "no quote or order Q-2 is linked to this lead"
    assert len(app.lead_history(UUID(lead_id))) == 3  # Received, Assigned, DocumentLinked: nothing recorded


async def test_a_delete_refused_for_a_linked_document_says_so_and_works_once_it_is_unlinked(client: Client) -> None:
    http, app = client
    lead_id = await a_lead_of(http, app, "d-1")
    await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "quote", "number": "Q-1"})
    assert (await http.post(f"/v1/leads/{lead_id}/recycle", json={})).status_code == 200  # unassigned: deletable

    refused = await http.delete(f"/v1/leads/{lead_id}")

    assert refused.status_code == 409
    assert refused.json()["detail"] == "lead has linked documents (quote Q-1); unlink them first"
    assert refused.json()["documents"] == [{"kind": "quote", "number": "Q-1"}]
    assert "unlink_document" in refused.json()["allowed_actions"] and "delete" not in refused.json()["allowed_actions"]
    assert (await http.delete(f"/v1/leads/{lead_id}/documents/Q-1")).status_code == 200
    assert (await http.delete(f"/v1/leads/{lead_id}")).status_code == 204


async def test_a_delete_the_status_forbids_still_blames_the_status(client: Client) -> None:
    http, app = client
    lead_id = await a_lead_of(http, app, "d-1")
    await http.post(f"/v1/leads/{lead_id}/documents", json={"kind": "quote", "number": "Q-1"})

    refused = await http.delete(f"/v1/leads/{lead_id}")  # assigned: never deletable

    assert refused.status_code == 409 and refused.json()["detail"].startswith("cannot delete a lead that is assigned")


# -- favorites --------------------------------------------------------------------------------


async def test_a_favorite_is_idempotent_and_each_user_sees_only_their_own(listed: Client) -> None:
    http, app = listed
    lead_id = await a_lead_of(http, app, "f-1")
    ana, ben = bearer("admin", sub="ana"), bearer("admin", sub="ben")

    first = await http.put(f"/v1/leads/{lead_id}/favorite", headers=ana)
    again = await http.put(f"/v1/leads/{lead_id}/favorite", headers=ana)

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"lead_id": lead_id, "favorite": True}
    types = [type(e).__name__ for e in app.lead_history(UUID(lead_id))]
    assert types.count("FavoriteToggled") == 1
    seen_by_ana = await http.get(f"/v1/leads/{lead_id}", headers=ana)
    seen_by_ben = await http.get(f"/v1/leads/{lead_id}", headers=ben)
    assert seen_by_ana.json()["favorite"] is True
    assert seen_by_ben.json()["favorite"] is False and "ana" not in seen_by_ben.text
    assert "favorited_by" not in seen_by_ben.json()
    bens_events = (await http.get(f"/v1/leads/{lead_id}/events", headers=ben)).json()
    anas_events = (await http.get(f"/v1/leads/{lead_id}/events", headers=ana)).json()
    assert "FavoriteToggled" not in [e["type"] for e in bens_events]
    assert [e["data"]["on"] for e in anas_events if e["type"] == "FavoriteToggled"] == [True]
    ana_list = (await http.get("/v1/leads", params={"tab": "favorites"}, headers=ana)).json()
    ben_list = (await http.get("/v1/leads", params={"tab": "favorites"}, headers=ben)).json()
    assert [i["lead_id"] for i in ana_list["items"]] == [lead_id] and ben_list["items"] == []
    assert "favorited_by" not in ana_list["items"][0]


async def test_a_favorite_is_taken_back_once_and_the_old_toggle_is_gone(client: Client) -> None:
    http, app = client
    lead_id = await a_lead_of(http, app, "f-1")
    ana = bearer("admin", sub="ana")
    await http.put(f"/v1/leads/{lead_id}/favorite", headers=ana)

    removed = await http.delete(f"/v1/leads/{lead_id}/favorite", headers=ana)
    again = await http.delete(f"/v1/leads/{lead_id}/favorite", headers=ana)
    toggle = await http.post(f"/v1/leads/{lead_id}/favorite", headers=ana)

    assert removed.json() == again.json() == {"lead_id": lead_id, "favorite": False}
    events = [e for e in app.lead_history(UUID(lead_id)) if type(e).__name__ == "FavoriteToggled"]
    assert [e.on for e in events] == [True, False]
    assert toggle.status_code == 405
    assert (await http.get(f"/v1/leads/{lead_id}", headers=ana)).json()["favorite"] is False
    unknown = await http.put("/v1/leads/00000000-0000-4000-8000-000000000000/favorite", headers=ana)
    assert unknown.status_code == 404


# -- the import template ----------------------------------------------------------------------


async def test_the_import_template_downloads_as_a_csv_file(client: Client) -> None:
    http, _ = client

    response = await http.get("/v1/leads/import-template")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="leads-import-template.csv"'
    header, example = list(csv.reader(io.StringIO(response.text)))
    assert header[: len(COLUMNS)] == [c.name for c in COLUMNS] and len(example) == len(header)
    assert (await http.get("/v1/leads/import-template", headers=bearer("seller", "sam"))).status_code == 403


# -- a bad phone ------------------------------------------------------------------------------


@pytest.mark.parametrize(("phone", "says"), [("12", "+<country code>"), ("+44 20 7946", "not a valid number")])
async def test_a_bad_phone_is_422_at_contact_phone(client: Client, phone: str, says: str) -> None:
    http, _ = client
    body = lead_body("p-1", phone=phone) | {"company": {}}

    response = await http.post("/v1/leads", json=body)

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "contact", "phone"] and says in error["msg"]
    with pytest.raises(ValidationError) as raised:
        InboundLeadV1.model_validate(body)
    assert [e["loc"] for e in raised.value.errors()] == [("contact", "phone")]
