"""Admins retire things without erasing history: sellers are deactivated and deleted, teams
deleted, rule-set drafts deleted, and a retired rule set comes back as a new version."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from assignment_scenario import Scenario, everyone

from assignment.application.simulation import replay_decisions

pytestmark = pytest.mark.unit

TO_EMEA = {"name": "emea", "target": {"kind": "team", "team_id": "emea"}, "method": "round_robin"}


async def draft(http: httpx.AsyncClient, *rules: dict[str, Any], name: str = "rules") -> int:
    created = await http.post("/v1/rulesets", json={"name": name, "rules": list(rules)})
    assert created.status_code == 201, created.text
    return created.json()["version"]  # type: ignore[no-any-return]


# -- sellers -------------------------------------------------------------------------------------


async def test_a_deactivated_seller_keeps_their_leads_but_gets_no_new_ones_until_activated_again(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    s.sellers("ann", "bob")
    first = s.lead("first")
    assert s.owner(first) == "ann"
    off = await http.post("/v1/sellers/ann/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    assert [s.owner(s.lead(f"l{i}")) for i in range(2)] == ["bob", "bob"]
    assert s.owner(first) == "ann" and s.open_leads("ann") == 1  # hers still
    assert s.reasons(s.lead("l2"))["ann"] == ["inactive"]
    assert (await http.post("/v1/sellers/ann/activate")).json()["active"] is True
    assert s.owner(s.lead("l3")) == "ann"
    assert (await http.post("/v1/sellers/nobody/deactivate")).status_code == 404


async def test_a_seller_with_open_leads_is_deleted_only_once_they_are_reassigned(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    s.seller("ann", teams=["emea"]).seller("bob", teams=["emea"])
    hers = [s.lead("a"), s.lead("b"), s.lead("c")]
    assert [s.owner(x) for x in hers] == ["ann", "bob", "ann"]
    refused = await http.delete("/v1/sellers/ann")
    assert refused.status_code == 409 and "still owns 2 open lead(s)" in refused.json()["detail"]
    for lead in (hers[0], hers[2]):
        await http.post(f"/v1/leads/{lead}/assignment", json={"seller_id": "bob", "reason": "ann leaves"})
    assert (await http.delete("/v1/sellers/ann")).status_code == 204

    # gone from the roster, her team and every list; her id is not given out again
    assert [x["seller_id"] for x in (await http.get("/v1/sellers")).json()] == ["bob"]
    gone = await http.get("/v1/sellers/ann")
    assert gone.status_code == 404 and gone.json()["detail"] == "seller ann was deleted"
    assert (await http.get("/v1/teams")).json() == [{"team_id": "emea", "name": "emea", "members": ["bob"]}]
    assert {r["seller_id"] for r in (await http.get("/v1/sellers/load")).json()["sellers"]} == {"bob"}
    assert (await http.patch("/v1/sellers/ann", json={"capacity": 1})).status_code == 404
    assert (await http.post("/v1/sellers/ann/activate")).status_code == 404
    assert (await http.delete("/v1/sellers/ann")).status_code == 404
    again = await http.put("/v1/sellers/ann", json={"name": "Ann again"})
    assert again.status_code == 409 and "was deleted" in again.json()["detail"]
    assert (await http.post("/v1/sellers", json=[{"seller_id": "ann", "name": "Ann"}])).json() == {"joined": 0}
    assert (await http.put("/v1/teams/apac", json={"name": "APAC", "members": ["ann"]})).status_code == 404
    by_hand = await http.post(f"/v1/leads/{hers[1]}/assignment", json={"seller_id": "ann", "reason": "back?"})
    assert by_hand.status_code == 409

    # no new leads for her; history (her decisions, their explanation) stays and replays the same
    assert [s.owner(s.lead(f"n{i}")) for i in range(2)] == ["bob", "bob"]
    assert s.explanation(s.lead("n2"))["considered"] == 1
    assert s.app.explain_in_full(hers[0])[0]["same_outcome"] is True
    assert all(r.same for r in replay_decisions(s.app))


async def test_a_seller_the_active_rule_set_names_is_not_deleted(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.sellers("ann", "bob")
    vip = {"name": "vip", "conditions": {"field": "score", "op": "gte", "value": 90},
           "target": {"kind": "seller", "seller_id": "bob"}, "method": "direct"}  # fmt: skip
    await http.post(f"/v1/rulesets/{await draft(http, vip, everyone())}/activate")
    refused = await http.delete("/v1/sellers/bob")
    assert refused.status_code == 409 and "rule 0 ('vip')" in refused.json()["detail"]
    assert (await http.delete("/v1/sellers/ann")).status_code == 204


# -- teams -----------------------------------------------------------------------------------------


async def test_a_deleted_team_is_gone_and_rule_sets_can_no_longer_name_it(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    s.seller("ann", teams=["emea", "apac"])
    assert (await http.delete("/v1/teams/emea")).status_code == 204
    assert [t["team_id"] for t in (await http.get("/v1/teams")).json()] == ["apac"]
    assert (await http.get("/v1/sellers/ann")).json()["teams"] == ["apac"]
    refused = await http.post("/v1/rulesets", json={"name": "r", "rules": [TO_EMEA]})
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "unknown_team"
    assert (await http.delete("/v1/teams/emea")).status_code == 404
    # defining it again makes a new, empty team
    assert (await http.put("/v1/teams/emea", json={"name": "EMEA", "members": []})).json()["members"] == []


async def test_a_team_in_use_is_not_deleted(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.seller("ann", teams=["emea"])
    active = await draft(http, TO_EMEA)
    await http.post(f"/v1/rulesets/{active}/activate")
    routed = await http.delete("/v1/teams/emea")
    assert routed.status_code == 409 and "active rule set (version 1)" in routed.json()["detail"]

    # a lead placed with the team itself, nobody owning it yet, holds the team too
    to_team = {**TO_EMEA, "method": "direct"}
    await http.post(f"/v1/rulesets/{await draft(http, to_team)}/activate")
    placed = s.lead("placed")
    assert (s.app.get_assignment(placed).team_id, s.owner(placed)) == ("emea", None)
    await http.post(f"/v1/rulesets/{await draft(http, everyone())}/activate")
    held = await http.delete("/v1/teams/emea")
    assert held.status_code == 409 and "1 open lead(s) nobody owns" in held.json()["detail"]
    await http.post(f"/v1/leads/{placed}/assignment", json={"seller_id": "ann", "reason": "take it"})
    assert (await http.delete("/v1/teams/emea")).status_code == 204


# -- rule sets -------------------------------------------------------------------------------------


async def test_only_a_draft_is_deleted_and_its_version_number_is_not_reused(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    s.seller("ann")
    first = await draft(http, everyone(name="v1"))
    await http.post(f"/v1/rulesets/{first}/activate")
    second = await draft(http, everyone(name="v2"))
    assert (await http.delete(f"/v1/rulesets/{second}")).status_code == 204
    assert (await http.get(f"/v1/rulesets/{second}")).status_code == 404
    assert (await http.delete(f"/v1/rulesets/{second}")).status_code == 404
    assert (await http.post(f"/v1/rulesets/{second}/activate")).status_code == 404
    assert [v["version"] for v in (await http.get("/v1/rulesets")).json()["versions"]] == [first]
    assert await draft(http, everyone(name="v3")) == 3
    assert (await http.delete(f"/v1/rulesets/{first}")).status_code == 409  # active
    await http.post("/v1/rulesets/3/activate")
    assert (await http.delete(f"/v1/rulesets/{first}")).status_code == 409  # retired
    assert (await http.delete("/v1/rulesets/0")).status_code == 409  # the built-in default


async def test_a_retired_rule_set_comes_back_as_a_new_version(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.seller("ann", teams=["emea"]).seller("bob")
    first = await draft(http, TO_EMEA, name="emea only")
    second = await draft(http, everyone())
    await http.post(f"/v1/rulesets/{first}/activate")
    await http.post(f"/v1/rulesets/{second}/activate")
    back = await http.post(f"/v1/rulesets/{first}/activate")
    assert back.status_code == 200
    assert {k: back.json()[k] for k in ("version", "name", "status", "copy_of", "rules")} == {
        "version": 3,
        "name": "emea only",
        "status": "active",
        "copy_of": first,
        "rules": (await http.get(f"/v1/rulesets/{first}")).json()["rules"],
    }
    listed = (await http.get("/v1/rulesets")).json()
    assert listed["active_version"] == 3
    assert [v["status"] for v in listed["versions"]] == ["retired", "retired", "active"]
    assert (await http.post("/v1/rulesets/3/activate")).status_code == 409  # active already
    assert s.explanation(s.lead("x"))["ruleset_version"] == 3
    assert all(r.same for r in replay_decisions(s.app))

    # a retired set that names a team deleted since is refused, naming it
    await http.post(f"/v1/rulesets/{second}/activate")  # v4, a copy of v2
    assert (await http.delete("/v1/teams/emea")).status_code == 204
    refused = await http.post(f"/v1/rulesets/{first}/activate")
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "unknown_team"
    assert (await http.get("/v1/rulesets")).json()["active_version"] == 4
