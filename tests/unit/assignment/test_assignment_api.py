"""The HTTP API in-process (ASGI transport, POPO store): one narrated walk through it."""

from __future__ import annotations

import httpx
import pytest
from assignment_scenario import Scenario

pytestmark = pytest.mark.unit


async def test_sellers_teams_segments_rule_sets_decisions_queue_and_load_over_http(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    # Sellers: bulk (as the roster file), then one by one with every field.
    response = await http.post(
        "/v1/sellers", json=[{"seller_id": "ann", "name": "Ann"}, {"seller_id": "bob", "name": "Bob"}]
    )
    assert response.json() == {"joined": 2}
    response = await http.put(
        "/v1/sellers/cy",
        json={
            "name": "Cy",
            "time_zone": "Europe/Berlin",
            "working_hours": {"mon": [["09:00", "17:00"]]},
            "out_of_office": [
                {"start": "2026-12-24T00:00:00+01:00", "end": "2027-01-02T00:00:00+01:00", "note": "holidays"}
            ],
            "capacity": 5,
            "languages": ["de"],
            "territories": ["DE"],
            "product_lines": ["cloud"],
            "tags": ["senior"],
            "teams": ["emea"],
        },
    )
    assert response.status_code == 200 and response.json()["created"] is True
    assert response.json()["seller"]["teams"] == ["emea"]
    assert (await http.patch("/v1/sellers/ann", json={"capacity": 1})).json()["capacity"] == 1
    assert (await http.patch("/v1/sellers/nobody", json={"capacity": 1})).status_code == 404
    bad_zone = await http.put("/v1/sellers/dee", json={"name": "Dee", "time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and "unknown time zone" in bad_zone.json()["detail"]
    listed = (await http.get("/v1/sellers")).json()
    assert [(x["seller_id"], x["name"]) for x in listed] == [("ann", "Ann"), ("bob", "Bob"), ("cy", "Cy")]
    assert (await http.put("/v1/teams/emea", json={"name": "EMEA", "members": ["cy", "bob"]})).status_code == 200
    assert (await http.put("/v1/teams/x", json={"name": "X", "members": ["ghost"]})).status_code == 404
    assert (await http.get("/v1/teams")).json() == [{"team_id": "emea", "name": "EMEA", "members": ["cy", "bob"]}]

    # Segments and a rule set.
    segment = {"priority": 5, "criteria": {"field": "country", "op": "equals", "value": "DE"}}
    assert (await http.put("/v1/segments/germany", json=segment)).status_code == 200
    bad = await http.put("/v1/segments/bad", json={"priority": 1, "criteria": {"field": "x", "op": "like", "value": 1}})
    assert bad.status_code == 422
    rules = {
        "name": "germany first",
        "rules": [
            {"name": "german leads", "segment": "germany", "target": {"kind": "team", "team_id": "emea"},
             "method": "round_robin"},
            {"name": "rest", "target": {"kind": "sellers"}, "method": "load_balancing"},
        ],
    }  # fmt: skip
    created = await http.post("/v1/rulesets", json=rules)
    assert created.status_code == 201 and created.json()["status"] == "draft"
    version = created.json()["version"]
    assert (await http.post(f"/v1/rulesets/{version}/activate")).json()["status"] == "active"
    assert (await http.post(f"/v1/rulesets/{version}/activate")).status_code == 409
    assert (await http.get("/v1/rulesets/99")).status_code == 404
    assert (await http.get("/v1/rulesets")).json()["active_version"] == version
    invalid = await http.post(
        "/v1/rulesets", json={"name": "x", "rules": [{"name": "a", "target": {"kind": "seller"}}]}
    )
    assert invalid.status_code == 422

    # Leads arrive (from Kafka in real life); look at the decisions.
    await http.patch("/v1/sellers/bob", json={"capacity": 1})
    await http.patch("/v1/sellers/cy", json={"capacity": 1})
    german = s.lead("g", country="DE")
    other, other2, waits = (s.lead(x, country="US") for x in ("o", "o2", "w"))
    decision = (await http.get(f"/v1/leads/{german}/assignment")).json()
    assert decision["seller_id"] == "bob" and decision["team_id"] == "emea" and decision["segment"] == "germany"
    assert decision["history"][0]["explanation"]["rule"]["name"] == "german leads"
    assert [s.owner(other), s.owner(other2), s.owner(waits)] == ["ann", "cy", None]
    assert (await http.get("/v1/leads/00000000-0000-0000-0000-000000000000/assignment")).status_code == 404
    assert (await http.get("/v1/segments/germany/preview")).json()["count"] == 1
    draft_segment = {"priority": 9, "criteria": {"field": "country", "op": "in", "value": ["DE", "US"]}}
    preview = (await http.post("/v1/segments/big-markets/preview", json=draft_segment)).json()
    assert preview["count"] == 4  # would take the German lead too: higher priority than "germany"
    assert [x["name"] for x in (await http.get("/v1/segments")).json()] == ["germany"]  # not saved
    queue = (await http.get("/v1/queue")).json()
    assert [q["lead_id"] for q in queue] == [str(waits)]
    assert queue[0]["waiting_reason"] == "rule rest: no eligible seller (capacity_full 3)"

    # Manual reassignment with a reason frees ann; the re-run gives her the waiting lead.
    moved = await http.post(f"/v1/leads/{other}/assignment", json={"seller_id": "bob", "reason": "knows them"})
    assert moved.json()["seller_id"] == "bob" and moved.json()["history"][-1]["method"] == "manual"
    assert (await http.post(f"/v1/leads/{other}/assignment", json={"seller_id": "ann"})).status_code == 422
    assert (await http.post("/v1/queue/rerun")).json() == {"tried": 1, "assigned": 1, "still_waiting": 0}
    assert s.owner(waits) == "ann" and (await http.get("/v1/queue")).json() == []

    # What-if and load.
    draft = (await http.post("/v1/rulesets", json={"name": "all ann", "rules": [
        {"name": "ann", "target": {"kind": "seller", "seller_id": "ann"}, "method": "direct"}]})).json()  # fmt: skip
    simulated = (await http.post(f"/v1/rulesets/{draft['version']}/simulate", json={"last": 10})).json()
    assert simulated["leads"] == 4 and "different_owner" in simulated and "unassigned" in simulated
    load = (await http.get("/v1/sellers/load")).json()
    assert {r["seller_id"] for r in load["sellers"]} == {"ann", "bob", "cy"}
    assert {f["rule"] for f in load["fairness"]} == {"german leads", "rest"}
