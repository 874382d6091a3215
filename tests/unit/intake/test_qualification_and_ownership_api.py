"""Qualification moves the lead (status, deal resource, reopen, 409 on a repeat) and a lead a
seller creates is theirs — over HTTP, as a user sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from auth_helpers import authenticator, bearer
from intake_world import lead_list_of

from intake.application import IntakeApplication
from intake.entrypoints.api import create_api
from intake.projections import LeadReadModel
from leadflow_shared.contracts import LeadAssignedV1
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit
SAM = bearer("seller", sub="sam")
MAX = bearer("sales_manager", sub="max")
ADA = bearer("admin", sub="ada")


def lead(external_id: str, **overrides: Any) -> dict[str, Any]:
    return {"source": "web-form", "external_id": external_id, "occurred_at": "2026-11-01T10:00:00Z", **overrides}


async def assigned_lead(http: Any, app: Any, external_id: str, seller: str = "sam") -> str:
    lead_id = (await http.post("/v1/leads", json=lead(external_id))).json()["lead"]["lead_id"]
    app.execute(
        app.on_assignment_decided,
        LeadAssignedV1(
            aggregate_id=lead_id,
            version=2,
            lead_id=lead_id,
            seller_id=seller,
            method="round_robin",
            decided_at="2026-11-01T10:00:00Z",
        ),
    )
    return str(lead_id)


@pytest.fixture
async def listed() -> AsyncIterator[tuple[httpx.AsyncClient, IntakeApplication, LeadReadModel]]:
    """The admin's client, the application, and its lead list (caught up by the test)."""
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    worker = StoreWorker("test")
    model = lead_list_of(app)
    api = create_api(app, worker, {}, model, authenticator(app, worker))
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=bearer("admin")) as http:
        yield http, app, model
    worker.shutdown()


async def test_qualify_moves_the_lead_creates_the_deal_and_a_repeat_is_409(listed: Any) -> None:
    http, app, model = listed
    await http.put(
        "/v1/settings/leads/qualification",
        json={"require_deal_to_qualify": True, "require_reason_to_disqualify": False},
    )
    lead_id = await assigned_lead(http, app, "q1")
    no_deal = await http.post(f"/v1/leads/{lead_id}/qualify", json={}, headers=SAM)
    assert no_deal.status_code == 422 and no_deal.json()["detail"][0]["loc"] == ["body", "deal"]
    deal = {"name": "Pilot", "amount": 1200, "currency": "EUR"}
    qualified = await http.post(f"/v1/leads/{lead_id}/qualify", json={"deal": deal}, headers=SAM)
    assert qualified.status_code == 200, qualified.text
    body = qualified.json()
    assert body["status"] == "qualified" and "qualify" not in body["allowed_actions"]
    deal_id = body["qualification"]["deal_id"]
    got = (await http.get(f"/v1/deals/{deal_id}", headers=SAM)).json()
    assert {k: got[k] for k in ("name", "amount", "currency", "lead_id", "owner_id", "created_by")} == {
        "name": "Pilot",
        "amount": 1200,
        "currency": "EUR",
        "lead_id": lead_id,
        "owner_id": "sam",
        "created_by": "sam",
    }
    # Another seller sees neither the lead nor its deal.
    assert (await http.get(f"/v1/deals/{deal_id}", headers=bearer("seller", sub="ida"))).status_code == 404
    again = await http.post(f"/v1/leads/{lead_id}/qualify", json={"deal": deal}, headers=ADA)
    assert again.status_code == 409 and again.json()["by"] == "sam"
    assert (await http.get(f"/v1/leads/{lead_id}")).json()["qualification"]["by"] == "sam"
    # It left open work: in the Qualified tab, not in the Marketplace tab.
    model.runner.catch_up()
    listed = (await http.get("/v1/leads", params={"tab": "qualified"})).json()
    assert [i["lead_id"] for i in listed["items"]] == [lead_id]
    marketplace = (await http.get("/v1/leads", params={"tab": "marketplace"})).json()
    assert lead_id not in [i["lead_id"] for i in marketplace["items"]]
    assert (await http.get(f"/v1/deals/{lead_id}")).status_code == 404


async def test_disqualify_archives_reopen_restores_and_a_repeat_is_409(listed: Any) -> None:
    http, app, model = listed
    lead_id = await assigned_lead(http, app, "d1")
    out = await http.post(f"/v1/leads/{lead_id}/disqualify", json={"reason_id": "no_budget"}, headers=SAM)
    assert out.json()["status"] == "disqualified"
    again = await http.post(f"/v1/leads/{lead_id}/disqualify", json={}, headers=ADA)
    assert again.status_code == 409 and "already disqualified (by sam)" in again.json()["detail"]
    model.runner.catch_up()
    archived = (await http.get("/v1/leads", params={"tab": "archived"})).json()
    assert [i["lead_id"] for i in archived["items"]] == [lead_id]
    refused = await http.post(f"/v1/leads/{lead_id}/follow-ups", json={"note": "x"}, headers=SAM)
    assert refused.status_code == 409 and refused.json()["status"] == "disqualified"
    back = await http.post(f"/v1/leads/{lead_id}/reopen", json={"reason": "budget found"}, headers=SAM)
    assert back.status_code == 200
    assert (back.json()["status"], back.json()["owner_id"], back.json()["qualification"]) == ("assigned", "sam", None)
    events = (await http.get(f"/v1/leads/{lead_id}/events")).json()
    assert (events[-1]["type"], events[-1]["actor"], events[-1]["reason"]) == ("Reopened", "sam", "budget found")
    assert (await http.post(f"/v1/leads/{lead_id}/reopen", json={})).status_code == 409
    # A disqualification only from an open status; a lead never qualified cannot be reopened.
    other = (await http.post("/v1/leads", json=lead("d2"))).json()["lead"]["lead_id"]
    assert (await http.post(f"/v1/leads/{other}/reopen", json={})).status_code == 409


async def test_a_lead_a_seller_creates_is_theirs_and_only_a_manager_names_an_owner(client: Any) -> None:
    http, _ = client
    mine = await http.post("/v1/leads", json=lead("s1"), headers=SAM)
    assert mine.status_code == 201
    assert (mine.json()["lead"]["status"], mine.json()["lead"]["owner_id"]) == ("assigned", "sam")
    events = (await http.get(f"/v1/leads/{mine.json()['lead']['lead_id']}/events")).json()
    assert (events[0]["type"], events[0]["actor"], events[0]["data"]["owner_id"]) == ("Received", "sam", "sam")
    for_someone = await http.post("/v1/leads", json=lead("s2", owner_id="ida"), headers=SAM)
    assert for_someone.status_code == 403 and "owner_id" in for_someone.text
    picked = await http.post("/v1/leads", json=lead("m1", owner_id="ida"), headers=MAX)
    assert (picked.json()["lead"]["status"], picked.json()["lead"]["owner_id"]) == ("assigned", "ida")
    upstream = await http.post("/v1/leads", json=lead("u1"))
    assert (upstream.json()["lead"]["status"], upstream.json()["lead"]["owner_id"]) == ("unassigned", None)
    bad = await http.post("/v1/leads", json=lead("m2", owner_id=""), headers=MAX)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "owner_id"]


async def test_junk_is_voided_from_any_open_status(client: Any) -> None:
    http, app = client
    lead_id = await assigned_lead(http, app, "v1")
    voided = await http.post(f"/v1/leads/{lead_id}/void", json={"reason": "spam"}, headers=ADA)
    assert voided.status_code == 200 and voided.json()["voided"] is True
    assert voided.json()["allowed_actions"] == ["unvoid"]
