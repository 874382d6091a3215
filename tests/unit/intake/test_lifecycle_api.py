"""The lifecycle over HTTP: 409 names the status and the allowed actions, 422 names the field."""

from __future__ import annotations

from typing import Any

import pytest
from auth_helpers import bearer

from leadflow_shared.contracts import LeadAssignedV1

pytestmark = pytest.mark.unit


def lead(external_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "web-form",
        "external_id": external_id,
        "occurred_at": "2026-11-01T10:00:00Z",
        "contact": {"phone": "+44 20 7946 0958"},
    }
    body.update(overrides)
    return body


async def test_an_illegal_transition_is_409_with_status_and_allowed_actions(client: Any) -> None:
    http, _ = client
    lead_id = (await http.post("/v1/leads", json=lead("1"))).json()["lead"]["lead_id"]
    response = await http.post(f"/v1/leads/{lead_id}/convert", json={}, headers=bearer("admin", sub="ana"))
    assert response.status_code == 409
    body = response.json()
    assert body["status"] == "unassigned" and body["action"] == "convert"
    assert "close_invalid" in body["allowed_actions"] and "convert" not in body["allowed_actions"]


async def test_conversion_refused_on_a_customer_phone_names_the_customer(client: Any) -> None:
    http, app = client
    ids = [(await http.post("/v1/leads", json=lead(str(i)))).json()["lead"]["lead_id"] for i in (1, 2)]
    for i, lead_id in enumerate(ids):
        app.execute(
            app.on_assignment_decided,
            LeadAssignedV1(
                aggregate_id=lead_id,
                version=2,
                lead_id=lead_id,
                seller_id=f"s{i}",
                method="round_robin",
                decided_at="2026-11-01T10:00:00Z",
            ),
        )
    customer = (await http.post(f"/v1/leads/{ids[0]}/convert", json={})).json()["customer_id"]
    refused = await http.post(f"/v1/leads/{ids[1]}/convert", json={})
    assert refused.status_code == 409 and refused.json()["existing_customer_id"] == customer
    linked = await http.post(f"/v1/leads/{ids[1]}/convert", json={"link_to_customer_id": customer})
    assert linked.status_code == 200 and linked.json()["lead"]["status"] == "converted"


async def test_bad_input_is_422_with_the_field(client: Any) -> None:
    http, _ = client
    bad_phone = await http.post("/v1/leads", json=lead("1", contact={"phone": "12"}))
    assert bad_phone.status_code == 422 and bad_phone.json()["detail"][0]["loc"] == ["body", "contact", "phone"]
    bad_email = await http.post("/v1/leads", json=lead("2", contact={"email": "nope"}))
    assert bad_email.status_code == 422 and bad_email.json()["detail"][0]["loc"][-1] == "email"
    too_long = await http.post("/v1/leads", json=lead("3", contact={"first_name": "x" * 201}))
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"][-1] == "first_name"
    lead_id = (await http.post("/v1/leads", json=lead("4"))).json()["lead"]["lead_id"]
    unknown_reason = await http.post(f"/v1/leads/{lead_id}/disqualify", json={"reason_id": "nope"})
    assert unknown_reason.status_code == 422 and unknown_reason.json()["detail"][0]["loc"] == ["body", "reason_id"]
    unknown_stage = await http.post(f"/v1/leads/{lead_id}/stage", json={"stage_id": "nope"})
    assert unknown_stage.status_code == 422


async def test_an_oversized_payload_is_413(client: Any) -> None:
    http, _ = client
    response = await http.post("/v1/leads", json=lead("1", notes="x" * 70_000))
    assert response.status_code == 413 and "body" in response.text


async def test_a_deleted_lead_is_gone_and_its_events_tell_who_when_why(client: Any) -> None:
    http, _ = client
    lead_id = (await http.post("/v1/leads", json=lead("1"))).json()["lead"]["lead_id"]
    await http.post(f"/v1/leads/{lead_id}/follow-ups", json={"note": "called"}, headers=bearer("admin", sub="ana"))
    assert (
        await http.delete(f"/v1/leads/{lead_id}", params={"reason": "test"}, headers=bearer("admin", sub="ben"))
    ).status_code == 204
    assert (await http.get(f"/v1/leads/{lead_id}")).status_code == 404
    events = (await http.get(f"/v1/leads/{lead_id}/events")).json()
    assert [(e["type"], e["actor"]) for e in events] == [
        ("Received", "test-admin"),
        ("FollowedUp", "ana"),
        ("Deleted", "ben"),
    ]
    assert events[-1]["reason"] == "test" and events[-1]["recorded_at"]


async def test_settings_over_http_delete_a_stage_with_a_move(client: Any) -> None:
    http, _ = client
    lead_id = (await http.post("/v1/leads", json=lead("1"))).json()["lead"]["lead_id"]
    assert (await http.post("/v1/settings/leads/stages", json={"id": "won", "name": "Won"})).status_code == 201
    assert (await http.delete("/v1/settings/leads/stages/new")).status_code == 409
    moved = await http.delete("/v1/settings/leads/stages/new", params={"move_to": "won"})
    assert moved.status_code == 200 and moved.json()["moved"] == 1
    assert (await http.get(f"/v1/leads/{lead_id}")).json()["stage_id"] == "won"
    # The move names the admin who deleted the stage, and why.
    last = (await http.get(f"/v1/leads/{lead_id}/events")).json()[-1]
    assert (last["type"], last["actor"], last["reason"]) == ("StageMoved", "test-admin", "stage new deleted")


async def test_a_value_the_use_case_derives_and_finds_invalid_is_a_422_naming_the_field(client: Any) -> None:
    http, app = client
    app.execute(app.change_settings, lambda s: s.set_lifecycle_automation("sql", None))
    change = {"source": "crm", "contact_id": "c" * 195, "lifecycle_stage": "sql", "occurred_at": "2026-11-01T10:00:00Z"}
    response = await http.post("/v1/contacts/lifecycle-changes", json=change)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "contact_id"]
    assert "c" * 50 not in response.text  # the value is not echoed


@pytest.mark.parametrize(
    ("change", "loc", "says"),
    [
        ({"contact": {"first_name": "Ada\x00"}}, ["body", "contact", "first_name"], "control characters"),
        ({"contact": {"last_name": "Love\nlace"}}, ["body", "contact", "last_name"], "control characters"),
        ({"contact": {"first_name": "   "}}, ["body", "contact", "first_name"], "blank"),
        ({"company": {"name": ""}}, ["body", "company", "name"], "blank"),
        ({"score": True}, ["body", "score"], "not true/false"),
        ({"occurred_at": "2031-01-01T00:00:00Z"}, ["body", "occurred_at"], "future"),
    ],
)
async def test_input_that_would_be_stored_wrong_is_refused_naming_the_field(
    client: Any, change: dict[str, Any], loc: list[str], says: str
) -> None:
    http, _ = client
    refused = await http.post("/v1/leads", json=lead("bad", **change))
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == loc and says in refused.json()["detail"][0]["msg"]
    fine = await http.post("/v1/leads", json=lead("fine", score=42, contact={"first_name": "Ada Lovelace-Byron"}))
    assert fine.status_code == 201


async def test_a_stage_position_beyond_the_list_is_422_not_a_crash(client: Any) -> None:
    http, _ = client
    for position in (99, 10**30):
        r = await http.post("/v1/settings/leads/stages", json={"id": "won", "name": "Won", "position": position})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "position"], r.text
    first = await http.post("/v1/settings/leads/stages", json={"id": "won", "name": "Won", "position": 0})
    assert first.status_code == 201
