"""Time travel over HTTP: `GET /v1/leads/{id}?as_of=` rebuilds the lead from its stream as it
had been recorded then; before it existed 404, a malformed time or an unknown parameter 422."""

from __future__ import annotations

from typing import Any

import pytest
from harness import moment

from leadflow_shared.contracts import LeadAssignedV1

pytestmark = pytest.mark.unit


async def test_a_lead_as_it_was_recorded_at_each_moment_of_its_life(client: Any) -> None:
    http, app = client
    before = await moment()
    body = {"source": "web-form", "external_id": "tt-1", "occurred_at": "2026-11-01T10:00:00Z"}
    lead_id = (await http.post("/v1/leads", json=body)).json()["lead"]["lead_id"]
    received = await moment()
    app.execute(
        app.on_assignment_decided,
        LeadAssignedV1(
            aggregate_id=lead_id,
            version=2,
            lead_id=lead_id,
            seller_id="ann",
            method="round_robin",
            decided_at="2026-11-01T10:00:00Z",
        ),
    )
    assigned = await moment()
    assert (await http.post(f"/v1/leads/{lead_id}/stage", json={"stage_id": "attempting"})).status_code == 200
    staged = await moment()
    assert (await http.post(f"/v1/leads/{lead_id}/close-invalid", json={"reason": "spam"})).status_code == 200

    async def as_of(at: str) -> dict[str, Any]:
        response = await http.get(f"/v1/leads/{lead_id}", params={"as_of": at})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def facts(view: dict[str, Any]) -> tuple[Any, ...]:
        return view["status"], view["owner_id"], view["stage_id"], view["version"]

    # Each moment shows the lead as its stream had it then,
    assert facts(await as_of(received)) == ("unassigned", None, "new", 1)
    assert facts(await as_of(assigned)) == ("assigned", "ann", "new", 2)
    assert facts(await as_of(staged)) == ("assigned", "ann", "attempting", 3)
    assert (await as_of(staged))["as_of"] == staged
    # and without as_of the current state, which has moved on.
    now = (await http.get(f"/v1/leads/{lead_id}")).json()
    assert now["status"] == "closed_invalid" and "as_of" not in now
    # Before the lead existed: 404 with the reason.
    too_early = await http.get(f"/v1/leads/{lead_id}", params={"as_of": before})
    assert too_early.status_code == 404
    assert "did not exist yet" in too_early.json()["detail"] and "first recorded at" in too_early.json()["detail"]


async def test_a_deleted_lead_is_there_before_its_deletion_and_gone_after(client: Any) -> None:
    http, _ = client
    body = {"source": "web-form", "external_id": "tt-2", "occurred_at": "2026-11-01T10:00:00Z"}
    lead_id = (await http.post("/v1/leads", json=body)).json()["lead"]["lead_id"]
    alive = await moment()
    assert (await http.request("DELETE", f"/v1/leads/{lead_id}", json={"reason": "test"})).status_code in (200, 204)
    gone = await moment()
    assert (await http.get(f"/v1/leads/{lead_id}")).status_code == 404
    assert (await http.get(f"/v1/leads/{lead_id}", params={"as_of": alive})).json()["external_id"] == "tt-2"
    after = await http.get(f"/v1/leads/{lead_id}", params={"as_of": gone})
    assert after.status_code == 404 and "was deleted before" in after.json()["detail"]


async def test_a_bad_as_of_or_an_unknown_parameter_is_422_naming_it(client: Any) -> None:
    http, _ = client
    body = {"source": "web-form", "external_id": "tt-3", "occurred_at": "2026-11-01T10:00:00Z"}
    lead_id = (await http.post("/v1/leads", json=body)).json()["lead"]["lead_id"]
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "2026-12-01T10:00:00"):  # the last has no offset
        response = await http.get(f"/v1/leads/{lead_id}", params={"as_of": bad})
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["query", "as_of"]
    misspelt = await http.get(f"/v1/leads/{lead_id}", params={"asof": "2026-12-01T10:00:00Z"})
    assert misspelt.status_code == 422
    assert misspelt.json()["detail"][0]["loc"] == ["query", "asof"]
    assert "unknown query parameter" in misspelt.json()["detail"][0]["msg"]
    unknown = await http.get("/v1/leads/00000000-0000-0000-0000-000000000001", params={"as_of": "2026-12-01T10:00:00Z"})
    assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]
