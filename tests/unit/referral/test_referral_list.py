"""The referral list: tabs and their counts, filters, cursor pages, per-user favorites, response-time
figures per partner organisation, a rebuilt list equal to the live one; and every change mapped to
its event on referrals.events.v1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from referral_world import DEAL, ReferralWorld, partner

from leadflow_shared.contracts import (
    LeadReceivedV1,
    ReferralAcceptedV1,
    ReferralDeclinedV1,
    ReferralExpiredV1,
    ReferralReceivedV1,
)
from leadflow_shared.relay import Publication
from referral.entrypoints.stream import publications

pytestmark = pytest.mark.unit


async def ids(world: ReferralWorld, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
    response = await world.http.get("/v1/referrals", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return [i["referral_id"] for i in response.json()["items"]]


async def a_mix(world: ReferralWorld) -> dict[str, str]:
    """direct (new), mql (accepted), sql (declined), direct with contact requested (new),
    northwind's direct (new): each an hour after the one before."""
    made: dict[str, str] = {}
    plan: list[tuple[str, dict[str, Any]]] = [
        ("direct", {}),
        ("mql", {"qualification": "marketing_qualified"}),
        ("sql", {"qualification": "sales_qualified"}),
        (
            "urgent",
            {
                "contact_requested": True,
                "customer": {
                    "name": "Tailspin",
                    "address": {"country": "FR"},
                    "contacts": [{"email": "Max@Tailspin.example"}],
                },
            },
        ),
        ("northwind", {"target_org": "northwind"}),
    ]
    for name, overrides in plan:
        made[name] = (await world.receive(name, **overrides))["referral_id"]
        world.clock.advance(timedelta(hours=1))
    await world.http.post(f"/v1/referrals/{made['mql']}/accept", json=DEAL)
    await world.http.post(f"/v1/referrals/{made['sql']}/decline", json={"reason": "duplicate"})
    return made


async def test_tabs_and_counts(world: ReferralWorld) -> None:
    made = await a_mix(world)
    own = partner()
    assert await ids(world, own, tab="marketplace") == [made["urgent"], made["direct"]]
    assert await ids(world, own, tab="qualified") == [made["mql"]]
    assert await ids(world, own, tab="archived") == [made["sql"]]
    assert await ids(world, own, tab="favorites") == []
    body = (await world.http.get("/v1/referrals", headers=own)).json()
    assert body["counts"] == {"all": 4, "marketplace": 2, "qualified": 1, "favorites": 0, "archived": 1}
    everyone = (await world.http.get("/v1/referrals")).json()  # an admin: every organisation
    assert everyone["counts"]["all"] == 5
    assert await ids(world, org="northwind") == [made["northwind"]]
    assert (await world.http.get("/v1/referrals", params={"tab": "inbox"})).status_code == 422


async def test_filters(world: ReferralWorld) -> None:
    made = await a_mix(world)
    own = partner()
    assert await ids(world, own, status="new") == [made["urgent"], made["direct"]]
    assert await ids(world, own, substatus=["accepted", "declined"]) == [made["sql"], made["mql"]]
    assert await ids(world, own, qualification="sales_qualified") == [made["sql"]]
    assert await ids(world, own, country="FR") == [made["urgent"]]
    assert await ids(world, own, contact_requested="true") == [made["urgent"]]
    assert await ids(world, own, contact_email="max@tailspin.EXAMPLE") == [made["urgent"]]
    assert await ids(world, own, contact_email="nobody@tailspin.example") == []
    # the accept and the decline happened at the last hour: updated since then → those two
    since = (world.clock.now() - timedelta(minutes=1)).isoformat()
    assert sorted(await ids(world, own, updated_since=since)) == sorted([made["mql"], made["sql"]])
    naive = await world.http.get("/v1/referrals", params={"updated_since": "2026-11-02T10:00:00"}, headers=own)
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["query", "updated_since"]
    bad = await world.http.get("/v1/referrals", params={"status": "open"}, headers=own)
    assert bad.status_code == 422


async def test_cursor_pages_go_newest_first_without_gaps(world: ReferralWorld) -> None:
    made = [(await world.receive(f"p-{i}"))["referral_id"] for i in range(7)]  # same created time
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await world.http.get("/v1/referrals", params=params)).json()
        seen += [i["referral_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7
    assert seen == sorted(seen, reverse=True)  # same time: by id, descending


async def test_a_cursor_from_another_query_is_refused(world: ReferralWorld) -> None:
    for i in range(3):
        await world.receive(f"c-{i}")
    cursor = (await world.http.get("/v1/referrals", params={"limit": 1})).json()["next_cursor"]
    refused = await world.http.get("/v1/referrals", params={"limit": 1, "cursor": cursor, "tab": "archived"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "cursor"]
    garbage = await world.http.get("/v1/referrals", params={"cursor": "not-a-cursor"})
    assert garbage.status_code == 422


async def test_favorites_are_per_user_idempotent_and_invisible_to_others(world: ReferralWorld) -> None:
    made = await a_mix(world)
    pat, kim = partner(sub="pat"), partner(sub="kim")
    for _ in range(2):
        put = await world.http.put(f"/v1/referrals/{made['sql']}/favorite", headers=pat)
        assert put.status_code == 200 and put.json()["favorite"] is True
    assert await ids(world, pat, tab="favorites") == [made["sql"]]  # archived ones stay favorites
    assert await ids(world, kim, tab="favorites") == []
    listed = (await world.http.get("/v1/referrals", headers=kim)).json()["items"]
    assert not any(i["favorite"] for i in listed)
    events = (await world.http.get(f"/v1/referrals/{made['sql']}/events", headers=kim)).text
    assert "pat" not in events  # a favorite is not a change to the referral
    for _ in range(2):
        gone = await world.http.delete(f"/v1/referrals/{made['sql']}/favorite", headers=pat)
        assert gone.status_code == 200 and gone.json()["favorite"] is False
    assert await ids(world, pat, tab="favorites") == []


async def test_response_time_figures_per_organisation(world: ReferralWorld) -> None:
    def at(hours: float) -> None:
        world.clock.advance(timedelta(hours=hours))

    fast = (await world.receive("fast"))["referral_id"]
    slow = (await world.receive("slow"))["referral_id"]
    lost = (await world.receive("lost"))["referral_id"]
    silent = (await world.receive("silent"))["referral_id"]
    await world.receive("other", target_org="northwind")
    at(2)
    await world.http.post(f"/v1/referrals/{fast}/accept", json=DEAL)  # 2 h
    await world.http.post(f"/v1/referrals/{lost}/accept", json=DEAL)  # 2 h
    at(28)
    await world.http.post(f"/v1/referrals/{slow}/decline", json={"reason": "no_capacity"})  # 30 h
    await world.http.post(f"/v1/referrals/{fast}/won")
    await world.http.post(f"/v1/referrals/{lost}/lost", json={"reason": "budget"})
    world.clock.advance(timedelta(days=14))
    world.deadlines.fire_due()
    assert (await world.http.get(f"/v1/referrals/{silent}")).json()["substatus"] == "expired"
    own = (await world.http.get("/v1/referrals/metrics", headers=partner())).json()["organisations"]
    assert own == [
        {
            "org": "fabrikam",
            "received": 4,
            "open": 0,
            "accepted": 2,
            "declined": 1,
            "expired": 1,
            "won": 1,
            "lost": 1,
            "median_seconds_to_answer": 2 * 3600.0,
            "answered_within_24h_share": 0.5,  # 2 of the 4 whose first day is over
            "win_rate": 0.5,
        }
    ]
    every = (await world.http.get("/v1/referrals/metrics")).json()["organisations"]
    assert [o["org"] for o in every] == ["fabrikam", "northwind"]
    assert every[1]["expired"] == 1 and every[1]["median_seconds_to_answer"] is None
    assert (
        await world.http.get("/v1/referrals/metrics", params={"org": "fabrikam"}, headers=partner(org="x"))
    ).status_code == 404


async def test_the_rebuilt_list_equals_the_live_one(world: ReferralWorld) -> None:
    made = await a_mix(world)
    await world.http.put(f"/v1/referrals/{made['direct']}/favorite", headers=partner())
    await world.http.get("/v1/referrals")
    live = world.read_model.dump()
    world.read_model.rebuild()
    assert world.read_model.dump() == live and len(live["referral_rm_referrals"]) == 5


async def test_every_change_goes_out_as_its_event_with_identity_and_status(world: ReferralWorld) -> None:
    made = await a_mix(world)
    world.clock.advance(timedelta(days=15))
    world.deadlines.fire_due()
    publication: Publication = publications(world.app)[0]
    out = []
    for notification in world.app.recorder.select_notifications(start=1, limit=1000):
        domain_event = world.app.mapper.to_domain_event(notification)
        if type(domain_event) in publication.mappers:
            out.append(publication.enrich(publication.mappers[type(domain_event)](domain_event)))  # type: ignore[misc]
    assert all(e.target_org in ("fabrikam", "northwind") and e.sender == "msft" for e in out)
    by_type = {type(e): e for e in out}
    received = by_type[ReferralReceivedV1]
    assert isinstance(received, ReferralReceivedV1) and received.expires_at > received.occurred_at
    accepted = by_type[ReferralAcceptedV1]
    assert isinstance(accepted, ReferralAcceptedV1)
    assert str(accepted.referral_id) == made["mql"] and accepted.qualification == "marketing_qualified"
    assert accepted.customer.name == "Contoso" and accepted.deal_value.currency == "EUR"
    declined = by_type[ReferralDeclinedV1]
    assert isinstance(declined, ReferralDeclinedV1) and declined.reason_label.startswith("Duplicate")
    expired = [e for e in out if isinstance(e, ReferralExpiredV1)]
    assert {str(e.referral_id) for e in expired} == {made["direct"], made["urgent"], made["northwind"]}
    assert all((e.status, e.substatus) == ("closed", "expired") for e in expired)


async def test_the_lead_intake_made_is_linked_to_the_referral(world: ReferralWorld) -> None:
    rid = (await world.receive())["referral_id"]
    await world.http.post(f"/v1/referrals/{rid}/accept", json=DEAL)
    lead_id = "0f6d2a9e-2d0c-4a55-9a53-4f1b8c9d0e11"
    received = LeadReceivedV1.model_validate(
        {
            "aggregate_id": lead_id,
            "version": 1,
            "lead_id": lead_id,
            "type": "marketing_qualified",
            "contact": {},
            "company": {},
            "source": "referral",
            "external_id": rid,
            "occurred_at": "2026-11-02T10:00:00Z",
            "received_at": "2026-11-02T10:00:01Z",
        }
    )
    for _ in range(2):  # again: nothing more
        world.app.execute(world.app.on_lead_received, received)
    assert (await world.http.get(f"/v1/referrals/{rid}")).json()["lead_id"] == lead_id
    types = [e["type"] for e in (await world.http.get(f"/v1/referrals/{rid}/events")).json()]
    assert types.count("LeadLinked") == 1
    web = received.model_copy(update={"source": "web-form"})
    world.app.execute(world.app.on_lead_received, web)  # not a referral's lead: ignored
