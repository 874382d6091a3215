"""Sequence definitions over HTTP: a draft, activation refused with every problem listed (422),
activation, an active sequence changed only through a new version, deactivation, the catalog,
at most 250 active sequences, the preview of due times, and who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from auth_helpers import bearer
from sequence_world import SequenceWorld

from sequence.domain import MAX_ACTIVE_SEQUENCES

pytestmark = pytest.mark.unit
TRADE_SHOW = [{"id": "e1", "type": "email"}, {"id": "w1", "type": "wait", "days": 3}, {"id": "c1", "type": "call"}]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    world = SequenceWorld()
    yield world.http
    await world.close()


async def create(http: httpx.AsyncClient, steps: list[dict[str, Any]], name: str = "Trade show UK") -> str:
    response = await http.post("/v1/sequences", json={"name": name, "steps": steps})
    assert response.status_code == 201, response.text
    return str(response.json()["sequence_id"])


async def test_a_draft_is_checked_on_activation_with_every_problem_listed(http: httpx.AsyncClient) -> None:
    sid = await create(http, [{"id": "x", "type": "advance"}, {"id": "w", "type": "wait", "days": 31}])
    refused = await http.post(f"/v1/sequences/{sid}/activate")
    assert refused.status_code == 422
    assert refused.json()["problems"] == [
        {"step_id": "x", "reason": "advance to another sequence cannot be the first step"},
        {"step_id": "x", "reason": "nothing may follow advance to another sequence"},
        {"step_id": "x", "reason": "advance needs the sequence to advance to (sequence_id)"},
        {"step_id": "w", "reason": "a wait is at most 30 days"},
        {"step_id": "w", "reason": "a wait cannot be the last step of a path"},
    ]
    edited = await http.patch(f"/v1/sequences/{sid}", json={"steps": TRADE_SHOW})
    assert edited.status_code == 200 and edited.json()["status"] == "draft"
    active = await http.post(f"/v1/sequences/{sid}/activate")
    assert active.status_code == 200 and (active.json()["status"], active.json()["active_version"]) == ("active", 1)


async def test_an_active_sequence_changes_through_a_new_version(http: httpx.AsyncClient) -> None:
    sid = await create(http, TRADE_SHOW)
    await http.post(f"/v1/sequences/{sid}/activate")
    assert (await http.patch(f"/v1/sequences/{sid}", json={"name": "x"})).status_code == 409
    drafted = await http.post(f"/v1/sequences/{sid}/versions")
    assert drafted.status_code == 201 and drafted.json()["draft_version"] == 2
    await http.patch(f"/v1/sequences/{sid}", json={"name": "Trade show UK v2", "settings": {"exit_on_reply": False}})
    body = (await http.post(f"/v1/sequences/{sid}/activate")).json()
    assert [v["status"] for v in body["versions"]] == ["superseded", "active"]
    assert body["versions"][1]["settings"]["exit_on_reply"] is False
    listed = (await http.get("/v1/sequences")).json()["items"]
    assert listed == [{"sequence_id": sid, "name": "Trade show UK v2", "status": "active"}]
    gone = (await http.post(f"/v1/sequences/{sid}/deactivate")).json()
    assert gone["status"] == "inactive" and gone["active_version"] is None
    assert (await http.get("/v1/sequences")).json()["items"][0]["status"] == "inactive"


async def test_at_most_250_sequences_are_active(http: httpx.AsyncClient) -> None:
    ids = [await create(http, TRADE_SHOW, name=f"s{i}") for i in range(MAX_ACTIVE_SEQUENCES + 1)]
    for sid in ids[:MAX_ACTIVE_SEQUENCES]:
        assert (await http.post(f"/v1/sequences/{sid}/activate")).status_code == 200
    refused = await http.post(f"/v1/sequences/{ids[-1]}/activate")
    assert refused.status_code == 409 and "250" in refused.json()["detail"]
    await http.post(f"/v1/sequences/{ids[0]}/deactivate")
    assert (await http.post(f"/v1/sequences/{ids[-1]}/activate")).status_code == 200


async def test_the_preview_shows_each_steps_due_time(http: httpx.AsyncClient) -> None:
    sid = await create(http, TRADE_SHOW)
    params = {"start": "2026-12-02T10:30:00+01:00", "time_zone": "Europe/Berlin"}
    body = (await http.get(f"/v1/sequences/{sid}/preview", params=params)).json()
    assert [(s["step_id"], s["due_at"]) for s in body["steps"]] == [
        ("e1", "2026-12-02T10:30:00+01:00"),
        ("w1", "2026-12-08T09:00:00+01:00"),
        ("c1", "2026-12-08T09:00:00+01:00"),
    ]
    naive = await http.get(f"/v1/sequences/{sid}/preview", params={"start": "2026-12-02T10:30:00"})
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["query", "start"]
    nowhere = await http.get(f"/v1/sequences/{sid}/preview", params={**params, "time_zone": "Mars/Olympus"})
    assert nowhere.status_code == 422
    assert (await http.get(f"/v1/sequences/{sid}/preview", params={**params, "version": 9})).status_code == 404


async def test_sellers_read_admins_write(http: httpx.AsyncClient) -> None:
    sid = await create(http, TRADE_SHOW)
    seller = bearer("seller", sub="sam")
    assert (await http.get(f"/v1/sequences/{sid}", headers=seller)).status_code == 200
    assert (await http.post("/v1/sequences", json={"name": "x"}, headers=seller)).status_code == 403
    assert (await http.post(f"/v1/sequences/{sid}/activate", headers=seller)).status_code == 403
    assert (await http.get(f"/v1/sequences/{sid}", headers=bearer("partner_user", org="x"))).status_code == 403
    assert (await http.get("/v1/sequences/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_the_preview_uses_the_sellers_calendar_and_the_organisations_holidays() -> None:
    world = SequenceWorld()
    world.seller("kai", time_zone="Asia/Tokyo")
    sid = await create(world.http, TRADE_SHOW)
    put = await world.http.put("/v1/settings/holidays", json={"holidays": [{"date": "2026-12-07", "name": "x"}]})
    assert put.status_code == 200 and put.json()["holidays"][0]["date"] == "2026-12-07"
    params = {"start": "2026-12-02T10:30:00+09:00", "seller_id": "kai"}
    body = (await world.http.get(f"/v1/sequences/{sid}/preview", params=params)).json()
    assert body["time_zone"] == "Asia/Tokyo"  # Thursday, Friday, (Monday off), Tuesday waited
    assert [s["due_at"] for s in body["steps"]] == [
        "2026-12-02T10:30:00+09:00",
        "2026-12-09T09:00:00+09:00",
        "2026-12-09T09:00:00+09:00",
    ]
    bad = await world.http.put("/v1/settings/holidays", json={"holidays": [{"date": "2026-02-30"}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "holidays", 0, "date"]
    await world.close()


async def test_segments_link_and_unlink_and_a_deleted_sequence_is_gone(http: httpx.AsyncClient) -> None:
    sid = await create(http, TRADE_SHOW)
    linked = await http.put(f"/v1/sequences/{sid}/segments/uk-trade-show")
    assert linked.status_code == 200 and linked.json()["segments"] == ["uk-trade-show"]
    assert (await http.put(f"/v1/sequences/{sid}/segments/uk-trade-show")).json()["segments"] == ["uk-trade-show"]
    assert (await http.put(f"/v1/sequences/{sid}/segments/bad%20id")).status_code == 422
    assert (await http.delete(f"/v1/sequences/{sid}/segments/uk-trade-show")).json()["segments"] == []
    assert (await http.delete(f"/v1/sequences/{sid}")).status_code == 204
    assert (await http.get(f"/v1/sequences/{sid}")).status_code == 404
    assert (await http.get("/v1/sequences")).json()["items"] == []
