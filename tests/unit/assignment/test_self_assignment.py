"""Self-assignment: a seller takes a lead from the unassigned pool; and assignment publishes its
teams' membership for intake (the manager's view of their members' leads)."""

from __future__ import annotations

import httpx
import pytest
from assignment_scenario import Scenario
from auth_helpers import authenticator, bearer

from assignment.domain import NotInPool, Roster, SellerNotTakingLeads, SellerOverCapacity
from assignment.entrypoints.api import create_api
from assignment.entrypoints.stream import publications
from leadflow_shared.contracts import TeamMembershipChangedV1
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit


def pool() -> Scenario:
    s = Scenario()
    s.lead("w1")  # nobody exists yet: both wait in the unassigned queue
    s.lead("w2")
    return s.seller("sam", teams=["emea"]).seller("olga", teams=["apac"])


def test_a_seller_takes_a_waiting_lead_and_it_counts_as_their_turn_and_load() -> None:
    s = pool()
    lead = next(iter(s.versions))
    assert s.app.get_assignment(lead).status == "waiting"
    taken = s.app.execute(s.app.claim, lead, seller_id="sam")
    assert (taken.status, taken.seller_id, taken.method) == ("assigned", "sam", "self")
    assert s.open_leads("sam") == 1
    decision = s.assigned()[-1]
    assert (decision.lead_id, decision.seller_id, decision.method) == (lead, "sam", "self")
    assert decision.explanation["self_assignment"] is True and decision.explanation["actor"] == "sam"
    assert [q["lead_id"] for q in s.read_model.queue()] == [str(i) for i in s.versions if i != lead]


def test_taking_a_lead_one_already_owns_changes_nothing_and_someone_elses_is_refused() -> None:
    s = pool()
    lead = next(iter(s.versions))
    s.app.execute(s.app.claim, lead, seller_id="sam")
    before = s.app.recorder.max_notification_id()
    assert s.app.execute(s.app.claim, lead, seller_id="sam").seller_id == "sam"
    assert s.app.recorder.max_notification_id() == before
    with pytest.raises(NotInPool, match="not in the unassigned pool"):
        s.app.execute(s.app.claim, lead, seller_id="olga")
    assert s.owner(lead) == "sam" and s.open_leads("olga") == 0


def test_capacity_and_accepting_assignments_count_for_a_seller_taking_a_lead() -> None:
    s = pool()
    first, second = list(s.versions)
    s.seller("sam", capacity=1)
    s.app.execute(s.app.claim, first, seller_id="sam")
    with pytest.raises(SellerOverCapacity):
        s.app.execute(s.app.claim, second, seller_id="sam")
    s.seller("olga", accepts_assignments=False)
    with pytest.raises(SellerNotTakingLeads):
        s.app.execute(s.app.claim, second, seller_id="olga")
    assert s.app.get_assignment(second).status == "waiting"


def test_a_lead_placed_in_a_team_with_no_owner_is_taken_only_by_a_member_of_that_team() -> None:
    s = pool()
    lead = next(iter(s.versions))
    s.app.execute(s.app.assign_by_hand, lead, seller_id=None, team_id="emea", reason="team queue")
    with pytest.raises(NotInPool):
        s.app.execute(s.app.claim, lead, seller_id="olga")
    taken = s.app.execute(s.app.claim, lead, seller_id="sam")
    assert (taken.seller_id, taken.team_id) == ("sam", "emea")


async def test_over_http_the_pool_is_listed_and_taken_and_conflicts_are_409() -> None:
    s = pool()
    lead = next(iter(s.versions))
    worker = StoreWorker("self-assignment")
    api = create_api(s.app, worker, {}, s.read_model, authenticator(s.app, worker), self_assignment=True)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://a") as http:
            sam, olga = bearer("seller", sub="sam"), bearer("seller", sub="olga")
            queue = (await http.get("/v1/queue", headers=sam)).json()
            assert [q["lead_id"] for q in queue] == [str(i) for i in s.versions]
            taken = await http.post(f"/v1/leads/{lead}/assignment/claim", headers=sam)
            assert taken.status_code == 200 and taken.json()["seller_id"] == "sam"
            # olga no longer sees it (sam's now): as if it did not exist
            assert (await http.post(f"/v1/leads/{lead}/assignment/claim", headers=olga)).status_code == 404
            assert (await http.get(f"/v1/leads/{lead}/assignment", headers=olga)).status_code == 404
            s.seller("olga", capacity=0)
            other = next(i for i in s.versions if i != lead)
            full = await http.post(f"/v1/leads/{other}/assignment/claim", headers=olga)
            assert full.status_code == 409 and "capacity" in full.json()["detail"]
            ghost = await http.post("/v1/leads/00000000-0000-0000-0000-000000000000/assignment/claim", headers=sam)
            assert ghost.status_code == 404
    finally:
        worker.shutdown()


def test_team_membership_changes_are_published_for_intake_in_order() -> None:
    s = Scenario().seller("sam", teams=["emea"]).seller("olga").seller("cy")
    s.app.execute(s.app.define_team, "emea", "EMEA", ["sam", "olga"])
    s.app.execute(s.app.define_team, "emea", "EMEA", ["olga", "cy"])
    sellers = publications(s.app)[1]
    published = [
        sellers.map(e)
        for e in (s.app.mapper.to_domain_event(n) for n in s.app.recorder.select_notifications(1, 1000))
        if type(e) in sellers.mappers
    ]
    events = [e for e in published if isinstance(e, TeamMembershipChangedV1)]  # sellers' calendars go there too
    changes = [(e.team_id, e.added, e.removed) for e in events]
    assert changes == [("emea", ["sam"], []), ("emea", ["olga"], []), ("emea", [], ["sam"]), ("emea", ["cy"], [])]
    assert [e.version for e in events] == sorted(e.version for e in events)
    assert {e.aggregate_id for e in events} == {s.app.roster().id} and Roster.MembersAdded in sellers.mappers
