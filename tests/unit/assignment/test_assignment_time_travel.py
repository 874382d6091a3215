"""Time travel over HTTP: `GET /v1/leads/{id}/assignment?as_of=` gives the owner and the
decision in force then, rebuilt from the lead's assignment stream."""

from __future__ import annotations

import httpx
import pytest
from assignment_scenario import Scenario
from harness import moment

pytestmark = pytest.mark.unit


async def test_the_owner_and_the_decision_in_force_at_each_moment(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.sellers("ann", "bob")
    before = await moment()
    lead_id = s.lead("tt-1")
    first = (await http.get(f"/v1/leads/{lead_id}/assignment")).json()
    decided = await moment()
    moved = await http.post(f"/v1/leads/{lead_id}/assignment", json={"seller_id": "cy", "reason": "x"})
    assert moved.status_code == 404  # no such seller: nothing recorded
    other = "bob" if first["seller_id"] == "ann" else "ann"
    moved = await http.post(f"/v1/leads/{lead_id}/assignment", json={"seller_id": other, "reason": "knows them"})
    assert moved.status_code == 200

    then = await http.get(f"/v1/leads/{lead_id}/assignment", params={"as_of": decided, "full": "true"})
    assert then.status_code == 200
    body = then.json()
    assert (body["seller_id"], body["method"], body["as_of"]) == (first["seller_id"], first["method"], decided)
    assert [h["kind"] for h in body["history"]] == [h["kind"] for h in first["history"]]
    assert len(body["decisions_in_full"]) == 1  # only the decision made by then
    now = (await http.get(f"/v1/leads/{lead_id}/assignment")).json()
    assert now["seller_id"] == other and now["method"] == "manual" and len(now["history"]) == len(first["history"]) + 1

    too_early = await http.get(f"/v1/leads/{lead_id}/assignment", params={"as_of": before})
    assert too_early.status_code == 404 and "did not exist yet" in too_early.json()["detail"]
    bad = await http.get(f"/v1/leads/{lead_id}/assignment", params={"as_of": "soon"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "as_of"]
    misspelt = await http.get(f"/v1/leads/{lead_id}/assignment", params={"asOf": decided})
    assert misspelt.status_code == 422 and misspelt.json()["detail"][0]["loc"] == ["query", "asOf"]
