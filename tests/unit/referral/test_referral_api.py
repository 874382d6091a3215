"""The referral service over HTTP: receiving (idempotent), answering, working an accepted referral,
ETag concurrency, the decline-reason list, JSON Patch paths, expiry and the contact flag by
durable deadlines with an injected clock, time travel and the stream."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from referral_world import DEAL, ReferralWorld, partner

pytestmark = pytest.mark.unit


def loc(response: Any) -> list[list[Any]]:
    return [d["loc"] for d in response.json()["detail"]]


async def test_receiving_is_idempotent_on_sender_and_external_reference(world: ReferralWorld) -> None:
    first = await world.http.post("/v1/referrals", json=_inbound("r-1"))
    again = await world.http.post("/v1/referrals", json=_inbound("r-1", name="changed"))
    other_sender = await world.http.post("/v1/referrals", json=_inbound("r-1", sender="google"))
    assert (first.status_code, again.status_code, other_sender.status_code) == (201, 200, 201)
    assert first.json()["referral"]["referral_id"] == again.json()["referral"]["referral_id"]
    assert again.json()["referral"]["name"] == "Contoso rollout" and again.json()["created"] is False
    assert other_sender.json()["referral"]["referral_id"] != first.json()["referral"]["referral_id"]
    assert first.headers["ETag"] == first.json()["referral"]["etag"]


async def test_bad_inbound_referrals_are_422_naming_the_field(world: ReferralWorld) -> None:
    no_country = _inbound("r-2")
    no_country["customer"] = {"name": "Contoso", "address": {"city": "Berlin"}}
    bad_qualification = _inbound("r-3", qualification="hot")
    naive_time = _inbound("r-4", occurred_at="2026-11-02T08:00:00")
    for body, field in (
        (no_country, ["body", "customer", "address", "country"]),
        (bad_qualification, ["body", "qualification"]),
        (naive_time, ["body", "occurred_at"]),
    ):
        response = await world.http.post("/v1/referrals", json=body)
        assert response.status_code == 422 and field in loc(response), response.text


async def test_accept_requires_the_deal_and_moves_to_active_accepted(world: ReferralWorld) -> None:
    referral = await world.receive()
    rid = referral["referral_id"]
    missing = await world.http.post(f"/v1/referrals/{rid}/accept", json={"deal_name": "x"})
    assert missing.status_code == 422
    assert {("body", "deal_value"), ("body", "closing_date")} <= {tuple(x) for x in loc(missing)}
    bad_currency = await world.http.post(
        f"/v1/referrals/{rid}/accept", json={**DEAL, "deal_value": {"amount": "1", "currency": "euro"}}
    )
    assert bad_currency.status_code == 422 and ["body", "deal_value", "currency"] in loc(bad_currency)
    accepted = await world.http.post(f"/v1/referrals/{rid}/accept", json=DEAL, headers=partner())
    body = accepted.json()
    assert accepted.status_code == 200 and (body["status"], body["substatus"]) == ("active", "accepted")
    assert body["deal"]["deal_value"] == {"amount": "12000", "currency": "EUR"}
    assert body["accepted_at"] and body["deadlines"]["referral-expiry"]["state"] == "cancelled"
    assert accepted.headers["ETag"] == body["etag"] != referral["etag"]


async def test_an_action_not_allowed_is_409_naming_the_status_and_allowed_actions(world: ReferralWorld) -> None:
    rid = (await world.receive())["referral_id"]
    won = await world.http.post(f"/v1/referrals/{rid}/won")
    assert won.status_code == 409
    assert won.json()["status"] == "new" and won.json()["substatus"] == "received"
    assert won.json()["allowed_actions"] == ["accept", "decline"]
    await world.http.post(f"/v1/referrals/{rid}/decline", json={"reason": "no_capacity"})
    again = await world.http.post(f"/v1/referrals/{rid}/accept", json=DEAL)
    assert again.status_code == 409 and again.json()["allowed_actions"] == []
    assert "closed/declined" in again.json()["detail"]


async def test_decline_takes_a_reason_from_the_organisations_list(world: ReferralWorld) -> None:
    rid = (await world.receive())["referral_id"]
    unknown = await world.http.post(f"/v1/referrals/{rid}/decline", json={"reason": "too_far"})
    assert unknown.status_code == 422 and ["body", "reason"] in loc(unknown)
    assert "no_capacity" in unknown.json()["detail"][0]["msg"]
    declined = await world.http.post(
        f"/v1/referrals/{rid}/decline", json={"reason": "no_capacity", "notes": "full until May"}, headers=partner()
    )
    assert declined.status_code == 200
    assert (declined.json()["status"], declined.json()["substatus"]) == ("closed", "declined")
    assert declined.json()["status_reason"] == "no_capacity"
    archived = (await world.http.get("/v1/referrals", params={"tab": "archived"}, headers=partner())).json()
    assert [i["referral_id"] for i in archived["items"]] == [rid]


async def test_the_decline_reasons_are_configurable_and_orderable_per_organisation(world: ReferralWorld) -> None:
    admin = partner("partner_admin", sub="pia")
    path = "/v1/settings/referrals/decline-reasons"
    defaults = (await world.http.get(path, headers=partner())).json()["reasons"]
    assert defaults[0]["id"] == "not_a_fit" and len(defaults) == 6
    reordered = [{"id": "too_far", "label": "Too far away"}, *reversed(defaults)]
    put = await world.http.put(path, json={"reasons": reordered}, headers=admin)
    assert put.status_code == 200 and [r["id"] for r in put.json()["reasons"]] == [r["id"] for r in reordered]
    added = await world.http.post(path, json={"id": "budget", "label": "No budget", "position": 1}, headers=admin)
    assert added.status_code == 201 and [r["id"] for r in added.json()["reasons"]][:2] == ["too_far", "budget"]
    removed = await world.http.delete(f"{path}/other", headers=admin)
    assert "other" not in [r["id"] for r in removed.json()["reasons"]]
    assert (await world.http.delete(f"{path}/other", headers=admin)).status_code == 404
    twice = await world.http.put(path, json={"reasons": [reordered[0], reordered[0]]}, headers=admin)
    assert twice.status_code == 422 and ["body", "reasons", "1", "id"] in loc(twice)
    assert (await world.http.put(path, json={"reasons": reordered}, headers=partner())).status_code == 403
    # another organisation keeps the defaults; an admin names the organisation
    other = (await world.http.get(path, params={"org": "northwind"})).json()["reasons"]
    assert other == defaults
    assert (await world.http.get(path)).status_code == 422
    # the new reason is accepted by decline, the removed one is not
    rid = (await world.receive())["referral_id"]
    gone = await world.http.post(f"/v1/referrals/{rid}/decline", json={"reason": "other"}, headers=partner())
    assert gone.status_code == 422
    ok = await world.http.post(f"/v1/referrals/{rid}/decline", json={"reason": "too_far"}, headers=partner())
    assert ok.status_code == 200 and ok.json()["status_reason"] == "too_far"


async def test_etags_refuse_stale_changes_and_patch_requires_one(world: ReferralWorld) -> None:
    referral = await world.receive()
    rid, etag = referral["referral_id"], referral["etag"]
    got = await world.http.get(f"/v1/referrals/{rid}")
    assert got.headers["ETag"] == etag
    stale = await world.http.post(f"/v1/referrals/{rid}/accept", json=DEAL, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.headers["ETag"] == etag
    assert (await world.http.get(f"/v1/referrals/{rid}")).json()["status"] == "new"  # nothing changed
    accepted = await world.http.post(f"/v1/referrals/{rid}/accept", json=DEAL, headers={"If-Match": etag})
    assert accepted.status_code == 200
    new_etag = accepted.headers["ETag"]
    patch = [{"op": "replace", "path": "/deal_name", "value": "Contoso phase 2"}]
    assert (await world.http.patch(f"/v1/referrals/{rid}", json=patch)).status_code == 428
    old = await world.http.patch(f"/v1/referrals/{rid}", json=patch, headers={"If-Match": etag})
    assert old.status_code == 412
    garbage = await world.http.patch(f"/v1/referrals/{rid}", json=patch, headers={"If-Match": "yesterday"})
    assert garbage.status_code == 412
    done = await world.http.patch(f"/v1/referrals/{rid}", json=patch, headers={"If-Match": new_etag})
    assert done.status_code == 200 and done.json()["deal"]["deal_name"] == "Contoso phase 2"
    assert done.headers["ETag"] != new_etag
    weak = await world.http.patch(
        f"/v1/referrals/{rid}",
        json=[{"op": "add", "path": "/crm_id", "value": "CRM-9"}],
        headers={"If-Match": f"W/{done.headers['ETag']}"},
    )
    assert weak.status_code == 200 and weak.json()["deal"]["crm_id"] == "CRM-9"


async def test_json_patch_changes_only_the_editable_paths_with_replace_or_add(world: ReferralWorld) -> None:
    rid = (await world.receive())["referral_id"]
    not_yet = await world.http.patch(
        f"/v1/referrals/{rid}", json=[{"op": "replace", "path": "/notes", "value": "x"}], headers={"If-Match": "*"}
    )
    assert not_yet.status_code == 409  # only while accepted
    etag = (await world.http.post(f"/v1/referrals/{rid}/accept", json=DEAL)).headers["ETag"]
    refused = await world.http.patch(
        f"/v1/referrals/{rid}",
        json=[
            {"op": "remove", "path": "/notes"},
            {"op": "replace", "path": "/status", "value": "closed"},
            {"op": "replace", "path": "/closing_date", "value": "soon"},
            {"op": "replace", "path": "/deal_value", "value": {"amount": -1, "currency": "EUR"}},
        ],
        headers={"If-Match": etag},
    )
    assert refused.status_code == 422
    assert loc(refused) == [["body", 0, "op"], ["body", 1, "path"], ["body", 2, "value"], ["body", 3, "value"]]
    moved = await world.http.patch(
        f"/v1/referrals/{rid}", json=[{"op": "move", "from": "/notes", "path": "/crm_id"}], headers={"If-Match": etag}
    )
    assert moved.status_code == 422 and loc(moved) == [["body", 0, "op"]]
    changes = [
        {"op": "replace", "path": "/closing_date", "value": "2027-06-30"},
        {"op": "replace", "path": "/deal_value", "value": {"amount": "15000.50", "currency": "USD"}},
        {"op": "add", "path": "/campaign_id", "value": "spring-27"},
        {"op": "replace", "path": "/notes", "value": "signed NDA"},
    ]
    done = await world.http.patch(f"/v1/referrals/{rid}", json=changes, headers={"If-Match": etag})
    deal = done.json()["deal"]
    assert done.status_code == 200
    assert (deal["closing_date"], deal["deal_value"], deal["campaign_id"], deal["notes"]) == (
        "2027-06-30",
        {"amount": "15000.50", "currency": "USD"},
        "spring-27",
        "signed NDA",
    )
    events = (await world.http.get(f"/v1/referrals/{rid}/events")).json()
    assert events[-1]["type"] == "Updated" and events[-1]["actor"] == "test-admin"


async def test_team_members_won_and_lost(world: ReferralWorld) -> None:
    a, b = (await world.receive("r-a"))["referral_id"], (await world.receive("r-b"))["referral_id"]
    member = {"first_name": "Tom", "last_name": "Rye", "email": "tom@fabrikam.example", "contact_preference": "phone"}
    assert (await world.http.post(f"/v1/referrals/{a}/team-members", json=member)).status_code == 409
    for rid in (a, b):
        await world.http.post(f"/v1/referrals/{rid}/accept", json=DEAL)
    added = await world.http.post(
        f"/v1/referrals/{a}/team-members", json=member, headers=partner("partner_admin", sub="pia")
    )
    assert added.status_code == 201 and added.json()["team_members"] == [member]
    no_reason = await world.http.post(f"/v1/referrals/{b}/lost", json={})
    assert no_reason.status_code == 422 and ["body", "reason"] in loc(no_reason)
    lost = await world.http.post(f"/v1/referrals/{b}/lost", json={"reason": "went with a competitor"})
    won = await world.http.post(f"/v1/referrals/{a}/won", headers=partner())
    assert (lost.json()["substatus"], won.json()["substatus"]) == ("lost", "won")
    assert lost.json()["status_reason"] == "went with a competitor"


async def test_expiry_fires_at_exactly_the_answer_deadline_and_never_after_an_answer(world: ReferralWorld) -> None:
    silent = (await world.receive("r-silent"))["referral_id"]
    answered = (await world.receive("r-answered"))["referral_id"]
    await world.http.post(f"/v1/referrals/{answered}/accept", json=DEAL)
    world.clock.advance(timedelta(days=14) - timedelta(seconds=1))
    assert world.deadlines.fire_due() == 0
    assert (await world.http.get(f"/v1/referrals/{silent}")).json()["status"] == "new"
    world.clock.advance(timedelta(seconds=1))
    assert world.deadlines.fire_due() == 1
    expired = (await world.http.get(f"/v1/referrals/{silent}")).json()
    assert (expired["status"], expired["substatus"]) == ("closed", "expired")
    assert expired["updated_at"] == expired["expires_at"]
    world.clock.advance(timedelta(days=30))
    assert world.deadlines.fire_due() == 0  # once; and the accepted one never
    assert (await world.http.get(f"/v1/referrals/{answered}")).json()["substatus"] == "accepted"
    types = [e["type"] for e in (await world.http.get(f"/v1/referrals/{silent}/events")).json()]
    assert types.count("Closed") == 1 and types.count("DeadlineFired") == 1


async def test_the_answer_window_is_a_setting(world: ReferralWorld) -> None:
    world.app.answer_within = timedelta(days=3)
    rid = (await world.receive())["referral_id"]
    world.clock.advance(timedelta(days=3))
    assert world.deadlines.fire_due() == 1
    assert (await world.http.get(f"/v1/referrals/{rid}")).json()["substatus"] == "expired"


async def test_contact_requested_is_urgent_for_72_hours_then_still_active(world: ReferralWorld) -> None:
    urgent = (await world.receive("r-urgent", contact_requested=True))["referral_id"]
    assert (await world.http.get(f"/v1/referrals/{urgent}")).json()["contact_urgent"] is True
    world.clock.advance(timedelta(hours=72) - timedelta(seconds=1))
    assert world.deadlines.fire_due() == 0
    world.clock.advance(timedelta(seconds=1))
    assert world.deadlines.fire_due() == 1
    now = (await world.http.get(f"/v1/referrals/{urgent}")).json()
    assert now["contact_requested"] is True and now["contact_urgent"] is False and now["status"] == "new"
    assert [e["type"] for e in (await world.http.get(f"/v1/referrals/{urgent}/events")).json()][-1] == (
        "ContactFlagChanged"
    )
    listed = (await world.http.get("/v1/referrals", params={"contact_requested": "true"})).json()["items"]
    assert [(i["referral_id"], i["contact_urgent"]) for i in listed] == [(urgent, False)]


async def test_time_travel_and_the_stream(world: ReferralWorld) -> None:
    rid = (await world.receive())["referral_id"]
    events = (await world.http.get(f"/v1/referrals/{rid}/events")).json()
    received_at = events[0]["recorded_at"]
    await world.http.post(f"/v1/referrals/{rid}/accept", json=DEAL)
    past = (await world.http.get(f"/v1/referrals/{rid}", params={"as_of": received_at})).json()
    assert past["status"] == "new" and past["as_of"]
    assert (await world.http.get(f"/v1/referrals/{rid}")).json()["status"] == "active"
    before = await world.http.get(f"/v1/referrals/{rid}", params={"as_of": "2020-01-01T00:00:00Z"})
    assert before.status_code == 404
    unknown = await world.http.get(f"/v1/referrals/{rid}", params={"asof": received_at})
    assert unknown.status_code == 422


async def test_another_organisation_gets_404_never_403(world: ReferralWorld) -> None:
    rid = (await world.receive())["referral_id"]
    stranger = partner(sub="sam", org="northwind")
    for method, path, body in (
        ("GET", f"/v1/referrals/{rid}", None),
        ("GET", f"/v1/referrals/{rid}/events", None),
        ("POST", f"/v1/referrals/{rid}/accept", DEAL),
        ("POST", f"/v1/referrals/{rid}/decline", {"reason": "no_capacity"}),
        ("PUT", f"/v1/referrals/{rid}/favorite", None),
    ):
        response = await world.http.request(method, path, json=body, headers=stranger)
        assert response.status_code == 404, (method, path, response.text)
        assert "fabrikam" not in response.text
    assert (await world.http.get("/v1/referrals", headers=stranger)).json()["counts"]["all"] == 0
    assert (await world.http.get("/v1/referrals", params={"org": "fabrikam"}, headers=stranger)).status_code == 404
    assert (await world.http.get(f"/v1/referrals/{rid}")).json()["status"] == "new"


def _inbound(external_reference_id: str, **overrides: Any) -> dict[str, Any]:
    from referral_world import inbound

    return inbound(external_reference_id, **overrides)
