"""A sales manager sees the leads their team members own (membership as assignment publishes it),
and a seller sees the unassigned pool only where self-assignment is allowed."""

from __future__ import annotations

import uuid

import httpx
import pytest
from auth_helpers import authenticator, bearer
from intake_world import assigned, lead_list_of

from intake.application import IntakeApplication
from intake.entrypoints.api import create_api
from leadflow_shared.contracts import TeamMembershipChangedV1
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit
ROSTER = uuid.uuid4()
MANAGER = bearer("sales_manager", sub="max", teams=["emea"])


class Intake:
    def __init__(self, worker: StoreWorker, *, self_assignment: bool = False) -> None:
        self.app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.model = lead_list_of(self.app)
        self.api = create_api(
            self.app,
            worker,
            {},
            self.model,
            authenticator(self.app, worker),
            self_assignment=self_assignment,
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.api), base_url="http://intake")
        self.roster_version = 0

    async def lead(self, name: str, seller: str | None = None, team: str | None = None) -> str:
        body = {"source": "web", "external_id": name, "occurred_at": "2026-11-01T10:00:00Z"}
        lead_id: str = (await self.http.post("/v1/leads", json=body, headers=bearer("admin"))).json()["lead"]["lead_id"]
        if seller is not None or team is not None:
            self.app.execute(self.app.on_assignment_decided, assigned(lead_id, seller, team, method="direct"))
        return lead_id

    def membership(self, team: str, added: list[str], removed: list[str] = [], replaced: bool = False) -> None:  # noqa: B006
        self.roster_version += 1
        change = TeamMembershipChangedV1(
            aggregate_id=ROSTER,
            version=self.roster_version,
            team_id=team,
            added=added,
            removed=removed,
            replaced=replaced,
            changed_at="2026-11-01T09:00:00Z",
        )
        self.app.execute(self.app.on_team_membership_changed, change)

    async def listed(self, headers: dict[str, str]) -> set[str]:
        self.model.runner.catch_up()  # (no projection thread in a unit test)
        page = (await self.http.get("/v1/leads", headers=headers)).json()
        return {item["lead_id"] for item in page["items"]}


@pytest.fixture
async def worker() -> StoreWorker:
    w = StoreWorker("team-visibility")
    yield w  # type: ignore[misc]
    w.shutdown()


async def test_a_manager_sees_leads_owned_by_members_of_their_teams_and_follows_membership(worker: StoreWorker) -> None:
    intake = Intake(worker)
    direct = await intake.lead("direct", seller="sam")  # placed with sam by a seller rule: no team
    placed = await intake.lead("placed", seller="olga", team="emea")  # olga's, placed in emea
    elsewhere = await intake.lead("elsewhere", seller="olga", team="apac")
    assert await intake.listed(MANAGER) == {placed}
    assert (await intake.http.get(f"/v1/leads/{direct}", headers=MANAGER)).status_code == 404

    intake.membership("emea", ["sam", "olga"])
    assert await intake.listed(MANAGER) == {direct, placed, elsewhere}  # olga is in emea now
    assert (await intake.http.get(f"/v1/leads/{direct}", headers=MANAGER)).status_code == 200
    follow_up = await intake.http.post(f"/v1/leads/{elsewhere}/follow-ups", json={"note": "x"}, headers=MANAGER)
    assert follow_up.status_code == 201

    intake.membership("emea", [], removed=["olga"])
    assert await intake.listed(MANAGER) == {direct, placed}
    intake.membership("emea", ["olga"], replaced=True)  # sam left, olga came back
    assert await intake.listed(MANAGER) == {placed, elsewhere}
    assert (await intake.http.get(f"/v1/leads/{direct}", headers=MANAGER)).status_code == 404
    # another team's manager sees none of it; filters still narrow within the manager's view
    assert await intake.listed(bearer("sales_manager", sub="amy", teams=["apac"])) == {elsewhere}
    only_apac = (await intake.http.get("/v1/leads", params={"team_id": "apac"}, headers=MANAGER)).json()
    assert [i["lead_id"] for i in only_apac["items"]] == [elsewhere]
    await intake.http.aclose()


async def test_a_seller_sees_and_works_the_pool_only_with_self_assignment(worker: StoreWorker) -> None:
    for allowed in (False, True):
        intake = Intake(worker, self_assignment=allowed)
        intake.membership("emea", ["sam"])
        pool = await intake.lead("pool")
        team_pool = await intake.lead("team-pool", team="emea")  # a team's, nobody owns it
        olgas = await intake.lead("olgas", seller="olga")
        sam = bearer("seller", sub="sam")
        seen = {
            lead: (await intake.http.get(f"/v1/leads/{lead}", headers=sam)).status_code
            for lead in (pool, team_pool, olgas)
        }
        ida = bearer("seller", sub="ida")  # in no team
        assert seen == {pool: 200 if allowed else 404, team_pool: 200 if allowed else 404, olgas: 404}
        assert (await intake.http.get(f"/v1/leads/{team_pool}", headers=ida)).status_code == 404
        assert (await intake.http.get(f"/v1/leads/{pool}", headers=ida)).status_code == (200 if allowed else 404)
        assert await intake.listed(sam) == set()  # the list stays the seller's own leads
        await intake.http.aclose()
