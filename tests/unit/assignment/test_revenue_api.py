"""The revenue-model API as a client sees it: refusals naming the field, lifecycle conflicts,
Change Revenue Stage runs with progress, the activity log in pages, the analyzer in JSON and as a
picture, and a lead's stage at a past moment."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from auth_helpers import authenticator, bearer
from revenue_world import RevenueWorld

from assignment.domain.revenue import default_definition
from assignment.entrypoints.api import create_api
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit


@pytest.fixture
async def walk() -> AsyncIterator[tuple[RevenueWorld, httpx.AsyncClient]]:
    w = RevenueWorld()
    worker = StoreWorker("revenue-api-test")
    api = create_api(w.app, worker, {}, w.read_model, authenticator(w.app, worker), revenue_reads=w.revenue_reads)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://assignment", headers=bearer("admin")) as http:
        yield w, http
    worker.shutdown()


async def new_model(http: httpx.AsyncClient, **body: Any) -> str:
    r = await http.post("/v1/revenue/models", json={"name": "Funnel", **body})
    assert r.status_code == 201, r.text
    return str(r.json()["model_id"])


async def test_a_new_model_starts_with_the_default_success_path_in_draft(walk: Any) -> None:
    _, http = walk
    model = (await http.get(f"/v1/revenue/models/{await new_model(http)}")).json()
    assert model["status"] == "draft"
    assert [s["name"] for s in model["definition"]["stages"] if s["path"] == "success"] == [
        "New",
        "Prospect",
        "Lead",
        "Opportunity",
        "Customer",
    ]
    listed = (await http.get("/v1/revenue/models")).json()
    assert [m["model_id"] for m in listed] == [model["model_id"]]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda d: d["stages"][0].update(type="bucket"), ["body", "definition", "stages", 0, "type"]),
        (lambda d: d["stages"][0].update(id="New Stage"), ["body", "definition", "stages", 0, "id"]),
        (lambda d: d["stages"][2].pop("sla_hours"), ["body", "stages", "lead", "sla_hours"]),
        (
            lambda d: d["transitions"][0].update(triggers=["rained"]),
            ["body", "definition", "transitions", 0, "triggers", 0],
        ),
        (
            lambda d: d["transitions"][0].update(filter={"field": "score", "op": "near"}),
            ["body", "transitions", "sales-ready", "filter"],
        ),
        (lambda d: d["stages"].append(dict(d["stages"][0])), ["body", "stages"]),
        (lambda d: d.update(stages=[]), ["body", "definition", "stages"]),
    ],
)
async def test_a_malformed_definition_is_refused_naming_the_field(walk: Any, change: Any, loc: list[Any]) -> None:
    _, http = walk
    definition = default_definition()
    change(definition)
    r = await http.post("/v1/revenue/models", json={"name": "Bad", "definition": definition})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


async def test_validate_lists_problems_and_approving_stages_refuses_them(walk: Any) -> None:
    _, http = walk
    definition = default_definition()
    definition["stages"].append({"id": "triage", "name": "Triage", "type": "gate"})
    model = await new_model(http, definition=definition)
    found = (await http.post(f"/v1/revenue/models/{model}/validate")).json()
    assert found["valid"] is False
    assert {"where": "stage triage", "reason": "a gate needs a default transition (default_to)"} in found["problems"]
    r = await http.post(f"/v1/revenue/models/{model}/approve-stages")
    assert r.status_code == 422
    assert r.json()["problems"] == found["problems"]


async def test_the_lifecycle_over_http(walk: Any) -> None:
    w, http = walk
    first, second = await new_model(http), await new_model(http, name="Second")
    lead = w.receive("a", score=10)
    assert (await http.post(f"/v1/revenue/models/{first}/approve")).status_code == 409
    assert (await http.post(f"/v1/revenue/models/{first}/leads/{lead}/stage", json={"stage": "new"})).status_code == 409
    assert (await http.post(f"/v1/revenue/models/{first}/approve-stages")).json()["status"] == "stages_approved"
    r = await http.post(f"/v1/revenue/models/{first}/leads/{lead}/stage", json={"stage": "new"})
    assert r.json() == {"lead_id": str(lead), "stage": "new", "outcome": "moved"}
    assert (await http.post(f"/v1/revenue/models/{first}/approve")).json()["status"] == "approved"
    await http.post(f"/v1/revenue/models/{second}/approve-stages")
    await http.post(f"/v1/revenue/models/{second}/leads/{lead}/stage", json={"stage": "new"})
    r = await http.post(f"/v1/revenue/models/{second}/approve")
    assert r.status_code == 409 and first in r.json()["detail"] and "'Funnel'" in r.json()["detail"]
    r = await http.put(f"/v1/revenue/models/{first}", json={"name": "X", "definition": default_definition()})
    assert r.status_code == 409 and "draft" in r.json()["detail"]
    r = await http.patch(f"/v1/revenue/models/{first}/stages/new", json={"name": "Inquiry"})
    assert r.json()["definition"]["stages"][0]["name"] == "Inquiry"
    assert (await http.post(f"/v1/revenue/models/{first}/unapprove")).json()["status"] == "draft"
    r = await http.put(f"/v1/revenue/models/{first}", json={"name": "Renamed", "definition": default_definition()})
    assert r.status_code == 200 and r.json()["name"] == "Renamed"


async def test_change_revenue_stage_reports_progress_and_per_lead_results(walk: Any) -> None:
    w, http = walk
    model = await new_model(http)
    german = [w.receive(f"de-{i}", score=10, country="DE") for i in range(7)]
    w.receive("fr", score=10, country="FR")
    await http.post(f"/v1/revenue/models/{model}/approve-stages")
    await http.post(f"/v1/revenue/models/{model}/leads/{german[0]}/stage", json={"stage": "prospect"})
    r = await http.post(
        f"/v1/revenue/models/{model}/stage-changes",
        json={"stage": "prospect", "filter": {"field": "country", "op": "equals", "value": "DE"}},
    )
    assert r.status_code == 202
    run = r.json()
    assert run["total"] == 8  # leads to look at
    before = (await http.get(run["status_url"])).json()
    assert (before["scanned"], before["finished"], before["progress_pct"]) == (0, False, 0.0)
    w.revenue.run_to_end(run["run_id"], page_size=3)
    done = (await http.get(run["status_url"], params={"limit": 4})).json()
    assert (done["scanned"], done["moved"], done["skipped"], done["refused"], done["finished"]) == (8, 6, 1, 0, True)
    assert done["progress_pct"] == 100.0
    assert len(done["results"]) == 4 and done["next_after"] == 4
    rest = (await http.get(run["status_url"], params={"after": 4})).json()["results"]
    assert {r["lead_id"] for r in done["results"] + rest} == {str(x) for x in german}
    skipped = (await http.get(run["status_url"], params={"outcome": "skipped"})).json()["results"]
    assert [(s["lead_id"], s["reason"]) for s in skipped] == [(str(german[0]), "already in that stage")]
    r = await http.get(run["status_url"], params={"outcom": "moved"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "outcom"]


async def test_the_activity_log_pages_newest_first_and_filters(walk: Any) -> None:
    w, http = walk
    model = await new_model(http)
    lead = w.receive("a", score=10)
    await http.post(f"/v1/revenue/models/{model}/approve-stages")
    await http.post(f"/v1/revenue/models/{model}/leads/{lead}/stage", json={"stage": "new"})
    await http.post(f"/v1/revenue/models/{model}/approve")
    for stage in ("prospect", "lead", "opportunity", "customer"):
        w.later(minutes=5)
        await http.post(f"/v1/revenue/models/{model}/leads/{lead}/stage", json={"stage": stage})
    page = (await http.get(f"/v1/leads/{lead}/revenue-activity", params={"limit": 3})).json()
    assert [x["to_stage"] for x in page["items"]] == ["customer", "opportunity", "lead"]
    rest = (
        await http.get(f"/v1/leads/{lead}/revenue-activity", params={"limit": 3, "cursor": page["next_cursor"]})
    ).json()
    assert [x["to_stage"] for x in rest["items"]] == ["prospect"] and rest["next_cursor"] is None
    by_stage = (await http.get(f"/v1/revenue/models/{model}/activity", params={"stage": "lead"})).json()["items"]
    assert [(x["from_stage"], x["to_stage"]) for x in by_stage] == [("lead", "opportunity"), ("prospect", "lead")]
    assert all(x["actor"] == "test-admin" and x["manual"] for x in by_stage)
    assert (await http.get(f"/v1/revenue/models/{model}/activity", params={"actor": "nobody"})).json()["items"] == []
    r = await http.get(f"/v1/revenue/models/{model}/activity", params={"stage": "lead", "cursor": page["next_cursor"]})
    assert r.status_code == 422


async def test_the_analyzer_in_json_and_as_a_picture_naming_every_stage(walk: Any) -> None:
    w, http = walk
    model = await new_model(http)
    await http.post(f"/v1/revenue/models/{model}/approve-stages")
    for i in range(3):
        w.receive(f"x{i}", score=50 if i else 10)
    window = {"from": "2026-11-02", "to": "2026-11-09", "period": "day"}
    found = (await http.get(f"/v1/revenue/models/{model}/analysis", params=window)).json()
    assert len(found["periods"]) == 7
    assert found["totals"]["lead"]["end_balance"] == 2 and found["totals"]["new"]["end_balance"] == 1
    compared = (
        await http.get(f"/v1/revenue/models/{model}/analysis", params={**window, "compare_from": "2026-10-26"})
    ).json()
    assert compared["compare"]["to"] == "2026-11-02" and compared["compare"]["totals"]["lead"]["in_flow"] == 0
    r = await http.get(f"/v1/revenue/models/{model}/analysis.svg", params=window)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(r.text)
    drawn = {
        g.get("data-stage"): "".join(g.itertext())
        for g in svg.iter("{http://www.w3.org/2000/svg}g")
        if g.get("data-stage")
    }
    assert set(drawn) == {"new", "prospect", "lead", "opportunity", "customer", "disqualified", "recycled"}
    assert "Opportunity" in drawn["opportunity"] and "Lead" in drawn["lead"]
    r = await http.get(f"/v1/revenue/models/{model}/analysis", params={"from": "2026-11-09", "to": "2026-11-02"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "to"]


async def test_a_leads_stage_now_and_at_a_past_moment(walk: Any) -> None:
    w, http = walk
    model = await new_model(http)
    await http.post(f"/v1/revenue/models/{model}/approve-stages")
    lead = w.receive("a", score=10)
    placed = w.clock.now()
    w.later(hours=2)
    await http.post(f"/v1/revenue/models/{model}/leads/{lead}/stage", json={"stage": "lead"})
    now = (await http.get(f"/v1/leads/{lead}/revenue-stage", params={"model_id": model})).json()
    assert (now["stage"], now["stage_name"]) == ("lead", "Lead")
    assert now["stages"]["new"]["latest_seconds"] == 7200 and now["stages"]["new"]["last_exited_at"] is not None
    then = (
        await http.get(
            f"/v1/leads/{lead}/revenue-stage",
            params={"model_id": model, "as_of": (placed.replace(minute=30)).isoformat()},
        )
    ).json()
    assert then["stage"] == "new" and then["stages"]["new"]["latest_seconds"] == 1800
    r = await http.get(f"/v1/leads/{lead}/revenue-stage", params={"model_id": model, "asof": "2026-11-02T10:00:00Z"})
    assert r.status_code == 422
    assert (await http.get(f"/v1/leads/{w.receive('b')}/revenue-stage", params={"model_id": model})).json()[
        "stage"
    ] == "new"


async def test_a_stage_named_in_a_body_must_exist_and_a_bad_window_names_the_query_field(walk: Any) -> None:
    w, http = walk
    model = await new_model(http)
    await http.post(f"/v1/revenue/models/{model}/approve-stages")
    r = await http.post(f"/v1/revenue/models/{model}/stage-changes", json={"stage": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "stage"]
    r = await http.post(f"/v1/revenue/models/{model}/leads/{w.receive('a')}/stage", json={"stage": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "stage"]
    r = await http.post(f"/v1/revenue/models/{model}/stages/new/merge", json={"into": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "into"]
    assert (await http.post(f"/v1/revenue/models/{model}/stages/nope/merge", json={"into": None})).status_code == 404
    r = await http.get(f"/v1/revenue/models/{model}/analysis", params={"from": "2026-11-09", "to": "2026-11-02"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "to"]
