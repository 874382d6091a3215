"""Admin input assignment refuses at the door (422), so nothing stored can later break a decision:
null seller fields, rule sets with problems (every problem named at once, on save and again on
activation) and segments that would hold every lead without saying so."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from assignment_scenario import Scenario

from assignment.domain import MAX_CONDITION_DEPTH

pytestmark = pytest.mark.unit

NOT_NULL = (
    "name",
    "time_zone",
    "working_hours",
    "out_of_office",
    "languages",
    "territories",
    "product_lines",
    "tags",
    "active",
    "accepts_assignments",
    "teams",
)
"""Every seller field but `capacity` (null: no limit) and `holiday_list` (null: none)."""


def everyone(name: str = "everyone", **rule: Any) -> dict[str, Any]:
    return {"name": name, "target": {"kind": "sellers"}, "method": "round_robin", **rule}


def nested(depth: int) -> dict[str, Any]:
    """Conditions whose groups nest `depth` deep."""
    tree: dict[str, Any] = {"field": "country", "op": "equals", "value": "DE"}
    for _ in range(depth):
        tree = {"all_of": [tree]}
    return tree


def problems(response: httpx.Response) -> list[tuple[int | None, str]]:
    assert response.status_code == 422, response.text
    return [(p["rule"], p["type"]) for p in response.json()["detail"]]


# -- sellers: null is refused, naming the field ------------------------------------------------


@pytest.mark.parametrize("field", NOT_NULL)
async def test_a_null_seller_field_is_refused_on_every_route_and_nothing_is_stored(
    walk: tuple[Scenario, httpx.AsyncClient], field: str
) -> None:
    s, http = walk
    s.seller("ann", languages=["de"], working_hours={"mon": [["09:00", "17:00"]]})
    before = (await http.get("/v1/sellers/ann")).json()
    answers = [
        await http.post("/v1/sellers", json=[{"seller_id": "bulk", "name": "Bulk", field: None}]),
        await http.put("/v1/sellers/put", json={"name": "Put", field: None}),
        await http.patch("/v1/sellers/ann", json={field: None}),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert [e["loc"][-1] for e in answer.json()["detail"]] == [field]
    assert [x["seller_id"] for x in (await http.get("/v1/sellers")).json()] == ["ann"]
    assert (await http.get("/v1/sellers/ann")).json() == before


async def test_null_capacity_and_holiday_list_keep_their_meaning(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    _, http = walk
    ann = await http.put("/v1/sellers/ann", json={"name": "Ann", "capacity": None, "holiday_list": None})
    assert ann.status_code == 200
    assert (ann.json()["seller"]["capacity"], ann.json()["seller"]["holiday_list"]) == (None, None)


# -- rule sets: every problem at once ------------------------------------------------------------


async def test_a_rule_set_with_many_problems_is_refused_with_every_one_named(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    s.seller("ann", teams=["emea"])
    vip, high = ({"field": "score", "op": "gte", "value": score} for score in (95, 90))
    rules = [
        {"name": "ghost seller", "conditions": vip, "target": {"kind": "seller", "seller_id": "ghost"},
         "method": "direct"},
        {"name": "ghost team", "conditions": high, "target": {"kind": "team", "team_id": "apac"},
         "method": "round_robin"},
        {"name": "ghost segment", "segment": "dach", "target": {"kind": "sellers"}, "method": "round_robin"},
        {"name": "direct to all", "target": {"kind": "sellers"}, "method": "direct",
         "conditions": {"field": "score", "op": "gte", "value": 90}},
        {"name": "team, filtered, direct", "target": {"kind": "team", "team_id": "emea", "seller_conditions":
            {"field": "languages", "op": "contains", "value": "de"}}, "method": "direct",
         "conditions": {"field": "score", "op": "gte", "value": 80}},
        {"name": "too deep", "conditions": nested(MAX_CONDITION_DEPTH + 1), "target": {"kind": "sellers"},
         "method": "round_robin"},
        everyone("catch-all"),
        everyone("after the catch-all", conditions={"field": "country", "op": "equals", "value": "US"}),
    ]  # fmt: skip
    saved = await http.post("/v1/rulesets", json={"name": "messy", "rules": rules})
    assert problems(saved) == [
        (0, "unknown_seller"),
        (1, "unknown_team"),
        (2, "unknown_segment"),
        (3, "contradiction"),
        (4, "contradiction"),
        (5, "depth"),
        (7, "unreachable"),
    ]
    detail = saved.json()["detail"]
    assert detail[1]["loc"] == ["rules", 1, "target", "team_id"] and "'apac'" in detail[1]["msg"]
    assert detail[6]["msg"] == "unreachable: rule 6 before it takes every lead"
    assert (await http.get("/v1/rulesets")).json()["versions"] == []  # nothing stored

    # the same on a revision of a draft
    draft = (await http.post("/v1/rulesets", json={"name": "ok", "rules": [everyone()]})).json()["version"]
    revised = await http.put(f"/v1/rulesets/{draft}", json={"name": "messy", "rules": rules})
    assert len(problems(revised)) == 7
    assert (await http.get(f"/v1/rulesets/{draft}")).json()["name"] == "ok"


async def test_an_empty_rule_set_and_a_rule_shadowed_within_its_segment_are_refused(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    s.seller("ann")
    empty = await http.post("/v1/rulesets", json={"name": "nothing", "rules": []})
    assert problems(empty) == [(None, "empty")] and empty.json()["detail"][0]["loc"] == ["rules"]
    await http.put("/v1/segments/dach", json={"criteria": {"field": "country", "op": "in", "value": ["DE"]}})
    shadowed = [
        everyone("all dach", segment="dach"),
        everyone("dach, high score", segment="dach", conditions={"field": "score", "op": "gte", "value": 80}),
        everyone("rest"),
    ]
    assert problems(await http.post("/v1/rulesets", json={"name": "r", "rules": shadowed})) == [(1, "unreachable")]
    # the other way round, every rule can be reached
    reachable = [shadowed[1], shadowed[0], shadowed[2]]
    assert (await http.post("/v1/rulesets", json={"name": "r", "rules": reachable})).status_code == 201


@pytest.mark.parametrize(
    ("rule", "where"),
    [
        ({"target": {"kind": "sellers"}, "method": "direct"}, ["rules", 0, "method"]),
        ({"target": {"kind": "seller", "seller_id": "ann"}, "method": "round_robin"}, ["rules", 0, "method"]),
        (
            {"target": {"kind": "seller", "seller_id": "ann", "seller_conditions": {"field": "tags", "op": "contains",
             "value": "vip"}}, "method": "direct"},
            ["rules", 0, "target", "seller_conditions"],
        ),
        (
            {"target": {"kind": "team", "team_id": "emea"}, "method": "direct", "available_within_hours": 2},
            ["rules", 0, "available_within_hours"],
        ),
        (
            {"target": {"kind": "queue", "queue_id": "later", "seller_conditions": {"field": "tags", "op": "contains",
             "value": "vip"}}},
            ["rules", 0, "target", "seller_conditions"],
        ),
        ({"target": {"kind": "sellers", "team_id": "emea"}}, ["rules", 0, "target", "team_id"]),
    ],
)  # fmt: skip
async def test_a_method_or_field_the_target_contradicts_is_refused(
    walk: tuple[Scenario, httpx.AsyncClient], rule: dict[str, Any], where: list[Any]
) -> None:
    s, http = walk
    s.seller("ann", teams=["emea"])
    s.app.execute(s.app.define_queue, "later", "Later")
    refused = await http.post("/v1/rulesets", json={"name": "r", "rules": [{"name": "only", **rule}]})
    assert [p["loc"] for p in refused.json()["detail"]] == [where], refused.text
    assert problems(refused) == [(0, "contradiction")]


async def test_a_rule_routes_only_to_a_queue_that_is_defined(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.seller("ann")
    to_queue = {
        "name": "later",
        "conditions": {"field": "score", "op": "lte", "value": 10},
        "target": {"kind": "queue", "queue_id": "later"},
        "method": "round_robin",
    }
    refused = await http.post("/v1/rulesets", json={"name": "r", "rules": [to_queue, everyone()]})
    assert refused.status_code == 422
    assert [(p["loc"], p["type"]) for p in refused.json()["detail"]] == [
        (["rules", 0, "target", "queue_id"], "unknown_queue")
    ]
    defined = await http.put("/v1/queues/later", json={"name": "Call back later"})
    assert defined.status_code == 200
    assert (await http.get("/v1/queues")).json() == [
        {"queue_id": "later", "name": "Call back later", "description": None}
    ]
    saved = await http.post("/v1/rulesets", json={"name": "r", "rules": [to_queue, everyone()]})
    assert saved.status_code == 201
    version = saved.json()["version"]
    assert (await http.post(f"/v1/rulesets/{version}/activate")).status_code == 200
    # A queue the active rule set routes to stays; once it does not, it goes.
    in_use = await http.delete("/v1/queues/later")
    assert in_use.status_code == 409 and "queue later is named by the active rule set" in in_use.text
    other = await http.post("/v1/rulesets", json={"name": "r2", "rules": [everyone()]})
    assert (await http.post(f"/v1/rulesets/{other.json()['version']}/activate")).status_code == 200
    assert (await http.delete("/v1/queues/later")).status_code == 204
    assert (await http.delete("/v1/queues/later")).status_code == 404
    assert (await http.get("/v1/queues")).json() == []
    # Activating a draft that names a queue removed since is refused, naming it.
    refused = await http.post(f"/v1/rulesets/{version}/activate")
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "unknown_queue"


async def test_conditions_may_nest_up_to_the_limit(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.seller("ann")
    deepest = everyone("deep", conditions=nested(MAX_CONDITION_DEPTH))
    assert (await http.post("/v1/rulesets", json={"name": "r", "rules": [deepest]})).status_code == 201
    deep_sellers = everyone("deep sellers")
    deep_sellers["target"]["seller_conditions"] = nested(MAX_CONDITION_DEPTH + 1)
    refused = await http.post("/v1/rulesets", json={"name": "r", "rules": [deep_sellers]})
    assert refused.json()["detail"][0]["loc"] == ["rules", 0, "target", "seller_conditions"]
    assert f"more than {MAX_CONDITION_DEPTH} deep" in refused.json()["detail"][0]["msg"]


async def test_activation_checks_the_draft_again_against_what_exists_now(
    walk: tuple[Scenario, httpx.AsyncClient],
) -> None:
    s, http = walk
    s.seller("ann", teams=["emea"]).seller("bob")
    await http.put("/v1/segments/dach", json={"criteria": {"field": "country", "op": "in", "value": ["DE"]}})
    rules = [
        {"name": "dach", "segment": "dach", "target": {"kind": "team", "team_id": "emea"}, "method": "round_robin"},
        {"name": "vip", "conditions": {"field": "score", "op": "gte", "value": 90},
         "target": {"kind": "seller", "seller_id": "bob"}, "method": "direct"},
        everyone(),
    ]  # fmt: skip
    draft = (await http.post("/v1/rulesets", json={"name": "draft", "rules": rules})).json()["version"]
    # since the draft was saved, the team, the segment and bob went
    assert (await http.delete("/v1/teams/emea")).status_code == 204
    assert (await http.delete("/v1/segments/dach")).status_code == 204
    assert (await http.delete("/v1/sellers/bob")).status_code == 204
    refused = await http.post(f"/v1/rulesets/{draft}/activate")
    assert problems(refused) == [(0, "unknown_segment"), (0, "unknown_team"), (1, "unknown_seller")]
    assert (await http.get("/v1/rulesets")).json()["active_version"] == 0
    assert (await http.get(f"/v1/rulesets/{draft}")).json()["status"] == "draft"


# -- segments: holding every lead is said explicitly -------------------------------------------


async def test_a_segment_without_criteria_says_match_all(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.seller("ann")
    for body in ({"priority": 1}, {"priority": 1, "criteria": None}, {"priority": 1, "criteria": []}):
        missing = await http.put("/v1/segments/everything", json=body)
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "criteria"], body
        assert "match_all" in missing.json()["detail"][0]["msg"]
    both = {"priority": 1, "match_all": True, "criteria": {"field": "country", "op": "equals", "value": "DE"}}
    refused = await http.put("/v1/segments/everything", json=both)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "criteria"]
    preview = await http.post("/v1/segments/everything/preview", json={"priority": 1})
    assert preview.status_code == 422
    assert (await http.get("/v1/segments")).json() == []  # nothing stored

    saved = await http.put("/v1/segments/everything", json={"priority": 1, "match_all": True})
    assert saved.status_code == 200 and saved.json()["match_all"] is True
    assert (await http.get("/v1/segments")).json() == [
        {"name": "everything", "priority": 1, "criteria": None, "match_all": True}
    ]
    assert s.app.get_assignment(s.lead("any", country="US")).segment == "everything"
