"""Redefining a team drops the members it no longer names; removing a segment forgets it."""

from __future__ import annotations

import httpx
import pytest
from assignment_scenario import Scenario

pytestmark = pytest.mark.unit


async def test_a_team_redefined_without_a_member_loses_that_member(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    s, http = walk
    s.sellers("ann", "bob", "cy")
    team = await http.put("/v1/teams/emea", json={"name": "EMEA", "members": ["ann", "bob", "cy"]})
    assert team.json()["members"] == ["ann", "bob", "cy"]
    smaller = await http.put("/v1/teams/emea", json={"name": "EMEA", "members": ["cy", "ann"]})
    assert smaller.status_code == 200 and sorted(smaller.json()["members"]) == ["ann", "cy"]
    assert (await http.get("/v1/teams")).json() == [smaller.json()]
    assert "emea" not in s.app.roster().teams_of("bob")


async def test_a_removed_segment_is_gone_and_removing_it_again_is_404(walk: tuple[Scenario, httpx.AsyncClient]) -> None:
    _, http = walk
    criteria = {"all_of": [{"field": "country", "op": "in", "value": ["DE", "AT"]}]}
    assert (await http.put("/v1/segments/dach", json={"priority": 5, "criteria": criteria})).status_code == 200
    assert [x["name"] for x in (await http.get("/v1/segments")).json()] == ["dach"]
    assert (await http.delete("/v1/segments/dach")).status_code == 204
    assert (await http.get("/v1/segments")).json() == []
    assert (await http.delete("/v1/segments/dach")).status_code == 404
