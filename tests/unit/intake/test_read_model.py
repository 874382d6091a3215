"""The lead list read model: tabs, filters, counts, favorites, pages, rebuild (POPO events, SQLite read store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from auth_helpers import authenticator, bearer
from intake_world import START
from intake_world import LeadListWorld as World
from typer.testing import CliRunner

from intake.entrypoints.api import create_api
from intake.entrypoints.cli import cli as intake_cli
from intake.projections import LeadFilters, LeadListProjection
from intake.settings import IntakeSettings
from leadflow_shared.contracts import TeamMembershipChangedV1
from leadflow_shared.readstore import SQLiteReadStore, read_store_path
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(POPO, SQLiteReadStore(tmp_path / "intake-read.sqlite"))
    yield w
    w.close()


# -- tabs ------------------------------------------------------------------------------------


def test_each_tab_holds_its_leads_and_archived_leads_only_in_archived_and_all(world: World) -> None:
    inquiry = world.receive("inquiry")
    mql = world.receive("mql", type="marketing_qualified")
    sql = world.receive("sql", type="sales_qualified")
    converted = world.receive("converted")
    world.assign(converted)
    world.app.execute(world.app.convert, converted, actor="ana")
    closed = world.receive("closed", type="marketing_qualified")
    world.app.execute(world.app.close_invalid, closed, actor="ana", reason="spam")
    survivor, merged = world.receive("survivor"), world.receive("merged")
    world.app.execute(world.app.merge, survivor, merged, actor="ana")

    assert world.ids("marketplace") == {inquiry, survivor}
    assert world.ids("qualified") == {mql, sql}
    assert world.ids("archived") == {converted, closed, merged}
    assert world.ids("all") == {inquiry, mql, sql, converted, closed, survivor, merged}

    world.app.execute(world.app.unmerge, merged, actor="ana")  # back out of the archive, into its own tab
    world.assign(converted)  # ignored: a converted lead cannot be assigned again
    assert world.ids("archived") == {converted, closed}
    assert world.ids("marketplace") == {inquiry, survivor, merged}


def test_recycled_leads_leave_their_owner_and_stay_in_their_tab(world: World) -> None:
    lead = world.receive("1", type="sales_qualified")
    world.assign(lead, seller="s1", team="t1")
    assert world.row(lead)["owner_id"] == "s1" and world.row(lead)["status"] == "assigned"
    world.app.execute(world.app.recycle, lead, actor="ana", reason="no answer")
    row = world.row(lead)
    assert (row["status"], row["owner_id"], row["team_id"]) == ("unassigned", None, None)
    assert world.ids("qualified") == {lead}


def test_voided_leads_are_hidden_unless_asked_for(world: World) -> None:
    kept, voided = world.receive("kept"), world.receive("voided")
    world.app.execute(world.app.void, voided, actor="ana", reason="test lead")
    assert world.ids("all") == {kept}
    assert world.ids("marketplace") == {kept}
    assert world.ids("all", include_voided=True) == {kept, voided}
    assert world.ids("marketplace", include_voided=True) == {kept, voided}
    assert world.counts() == {"all": 1, "marketplace": 1, "qualified": 0, "favorites": 0, "archived": 0}
    assert world.counts(include_voided=True)["all"] == 2
    world.app.execute(world.app.unvoid, voided, actor="ana")
    assert world.ids("all") == {kept, voided}


def test_a_deleted_lead_disappears_from_every_tab_count_and_favorite_list(world: World) -> None:
    kept, deleted = world.receive("kept"), world.receive("deleted")
    world.app.execute(world.app.set_favorite, deleted, user_id="ana", on=True)
    world.app.execute(world.app.follow_up, deleted, actor="ana", note="called")
    world.app.execute(world.app.delete, deleted, actor="ana", reason="gdpr")
    for tab in ("all", "marketplace", "favorites"):
        assert world.ids(tab, include_voided=True) == ({kept} if tab != "favorites" else set())
    assert world.counts(include_voided=True) == {
        "all": 1,
        "marketplace": 1,
        "qualified": 0,
        "favorites": 0,
        "archived": 0,
    }
    assert world.model.leads.favorites_of("ana") == []
    tables = world.model.dump()
    assert str(deleted) not in repr(tables["intake_rm_leads"]) + repr(tables["intake_rm_favorites"])


def test_favorites_are_per_user_and_come_off_again(world: World) -> None:
    a, b, c = world.receive("a"), world.receive("b"), world.receive("c")
    world.app.execute(world.app.set_favorite, a, user_id="ana", on=True)
    world.app.execute(world.app.set_favorite, b, user_id="ana", on=True)
    world.app.execute(world.app.set_favorite, b, user_id="ben", on=True)
    assert world.ids("favorites", user="ana") == {a, b}
    assert world.ids("favorites", user="ben") == {b}
    assert world.ids("favorites", user="cy") == set()
    world.app.execute(world.app.set_favorite, a, user_id="ana", on=False)  # off again
    assert world.ids("favorites", user="ana") == {b}
    assert world.counts(user="ana")["favorites"] == 1 and world.counts(user="ben")["favorites"] == 1
    page = world.model.leads.page(filters=LeadFilters(), user_id="ben")
    assert {i["lead_id"]: i["favorite"] for i in page.items} == {str(a): False, str(b): True, str(c): False}
    world.app.execute(
        world.app.close_invalid, b, actor="ana", reason="spam"
    )  # archived: out of favorites, into archived
    assert world.ids("favorites", user="ben") == set() and world.ids("archived", user="ben") == {b}


# -- filters ---------------------------------------------------------------------------------


def test_each_filter_narrows_the_list(world: World) -> None:
    first = world.receive("1", source="partner", campaign_id="autumn", contact={"first_name": "Grace"})
    second = world.receive("2", type="marketing_qualified", company={"name": "Hopper & Sons"})
    third = world.receive("3", contact={"first_name": "Alan", "last_name": "Turing"}, company={"name": "Bletchley"})
    world.assign(second, seller="s2", team="t2")
    world.assign(third, seller="s3", team="t3")
    world.app.execute(world.app.convert, third, actor="ana")
    world.app.execute(world.app.move_stage, first, actor="ana", stage_id="connected")

    assert world.ids(status=("assigned",)) == {second}
    assert world.ids(status=("assigned", "converted")) == {second, third}
    assert world.ids(lead_type=("marketing_qualified",)) == {second}
    assert world.ids(stage_id=("connected",)) == {first}
    assert world.ids(stage_id=("new",)) == {second, third}
    assert world.ids(owner_id=("s2",)) == {second}
    assert world.ids(team_id=("t3",)) == {third}
    assert world.ids(source=("partner",)) == {first}
    assert world.ids(campaign_id=("autumn",)) == {first}
    # received a minute apart from START + 1 min: created range is [from, to)
    assert world.ids(created_from=START + timedelta(minutes=2)) == {second, third}
    assert world.ids(created_to=START + timedelta(minutes=2)) == {first}
    assert world.ids(created_from=START + timedelta(minutes=2), created_to=START + timedelta(minutes=3)) == {second}
    assert world.ids(q="GRACE") == {first}
    assert world.ids(q="turing") == {third}
    assert world.ids(q="alan turing") == {third}
    assert world.ids(q="hopper &") == {second}
    assert world.ids(q="bletch") == {third}
    assert world.ids(q="%") == set()  # LIKE wildcards are plain text
    assert world.ids(q="lovelace") == {second}
    assert world.counts(q="lovelace") == {"all": 1, "marketplace": 0, "qualified": 1, "favorites": 0, "archived": 0}


def test_an_upstream_update_changes_what_the_filters_see(world: World) -> None:
    lead = world.receive("1")
    world.receive("1", occurred_at="2026-11-01T11:00:00Z", type="sales_qualified", contact={"first_name": "Edsger"})
    assert world.ids(q="edsger") == {lead} and world.ids(q="ada") == set()
    assert world.ids("qualified") == {lead} and world.ids("marketplace") == set()
    assert world.row(lead)["occurred_at"] == "2026-11-01T11:00:00.000000+00:00"


def test_counts_per_tab_follow_the_same_filters(world: World) -> None:
    for i in range(3):
        world.receive(f"ci{i}")
    for i in range(2):
        world.receive(f"mql{i}", type="marketing_qualified", campaign_id="autumn")
    closed = world.receive("closed", campaign_id="autumn")
    world.app.execute(world.app.close_invalid, closed, actor="ana", reason="spam")
    world.app.execute(world.app.set_favorite, closed, user_id="ana", on=True)
    assert world.counts() == {"all": 6, "marketplace": 3, "qualified": 2, "favorites": 0, "archived": 1}
    assert world.counts(campaign_id=("autumn",)) == {
        "all": 3,
        "marketplace": 0,
        "qualified": 2,
        "favorites": 0,
        "archived": 1,
    }


# -- every event shows ---------------------------------------------------------------------


def test_the_row_follows_every_kind_of_lead_event(world: World) -> None:
    other = world.receive("0", contact={"first_name": "Ada", "email": "ada@example.com"})
    lead = world.receive("1", contact={"first_name": "Ada", "email": "ada@example.com"})
    assert world.row(lead)["possible_duplicates"] == [str(other)]
    world.assign(lead, seller="s1")
    world.app.execute(world.app.move_stage, lead, actor="ana", stage_id="attempting")
    world.app.execute(world.app.follow_up, lead, actor="ana", note="called")
    world.app.execute(world.app.follow_up, lead, actor="ben", note="called again")
    world.app.execute(world.app.link_document, lead, actor="ana", kind="quote", number="Q-1")
    world.app.execute(world.app.associate, lead, actor="ana", kind="company", target_id="c-1")
    world.app.execute(world.app.merge, lead, other, actor="ana")
    assert world.row(lead)["absorbed"] == [str(other)] and world.row(other)["merged_into"] == str(lead)
    world.app.execute(world.app.unmerge, other, actor="ana")
    assert world.row(lead)["absorbed"] == [] and world.row(other)["merged_into"] is None
    world.app.execute(world.app.qualify, lead, actor="ana", deal={"name": "Big", "amount": 10.0})
    row = world.row(lead)
    assert row["stage_id"] == "attempting" and (row["status"], row["qualification"]) == ("qualified", "qualified")
    assert (row["follow_ups"], row["last_follower"], row["documents"], row["associations"]) == (2, "ben", 1, 1)
    world.app.execute(world.app.reopen, lead, actor="ana")
    assert (world.row(lead)["status"], world.row(lead)["qualification"]) == ("assigned", None)
    world.app.execute(world.app.disqualify, other, actor="ana", reason_id="no_budget")
    assert (world.row(other)["status"], world.row(other)["archived"]) == ("disqualified", True)
    customer = world.app.execute(world.app.convert, lead, actor="ana")
    row = world.row(lead)
    assert (row["status"], row["customer_id"]) == ("converted", str(customer))
    assert row["version"] == world.app.get_lead(lead).version


def test_deleting_a_stage_moves_the_leads_the_read_model_finds_there(world: World) -> None:
    a, b = world.receive("a"), world.receive("b")
    world.app.execute(world.app.move_stage, b, actor="ana", stage_id="connected")
    assert world.app.execute(world.app.delete_stage, "new", move_to="attempting", actor="ana") == 1
    assert world.app.get_lead(a).stage_id == "attempting"
    assert world.ids(stage_id=("attempting",)) == {a} and world.ids(stage_id=("connected",)) == {b}


# -- pages -----------------------------------------------------------------------------------


def test_cursor_pages_cover_every_lead_once_newest_first(world: World) -> None:
    expected = []
    for i in range(25):
        expected.append(world.receive(f"{i:02}"))
        if i % 3:
            world.clock.advance(timedelta(minutes=-1))  # ties on received_at: the lead id breaks them
    seen: list[str] = []
    cursor = None
    pages = 0
    world.model.runner.catch_up()
    while True:
        page = world.model.leads.page(filters=LeadFilters(), user_id="ana", limit=10, cursor=cursor)
        pages += 1
        seen.extend(i["lead_id"] for i in page.items)
        assert page.counts["all"] == 25
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 25 and set(seen) == {str(i) for i in expected}
    keys = [(world.row(UUID(i))["received_at"], i) for i in seen]
    assert keys == sorted(keys, reverse=True)


# -- rebuild and robustness -------------------------------------------------------------------


def busy_history(world: World) -> None:
    ids = [world.receive(str(i), type=("customer_inquiry", "marketing_qualified")[i % 2]) for i in range(12)]
    world.assign(ids[0])
    world.app.execute(world.app.convert, ids[0], actor="ana")
    world.assign(ids[1], seller="s2", team="t1")
    world.app.execute(world.app.recycle, ids[1], actor="ana")
    world.app.execute(world.app.close_invalid, ids[2], actor="ana", reason="spam")
    world.app.execute(world.app.void, ids[3], actor="ana")
    world.app.execute(world.app.void, ids[4], actor="ana")
    world.app.execute(world.app.unvoid, ids[4], actor="ana")
    world.app.execute(world.app.delete, ids[5], actor="ana")
    world.app.execute(world.app.set_favorite, ids[6], user_id="ana", on=True)
    world.app.execute(world.app.set_favorite, ids[6], user_id="ben", on=True)
    world.app.execute(world.app.set_favorite, ids[7], user_id="ana", on=True)
    world.app.execute(world.app.set_favorite, ids[7], user_id="ana", on=False)
    world.app.execute(world.app.move_stage, ids[8], actor="ana", stage_id="connected")
    world.app.execute(world.app.merge, ids[9], ids[10], actor="ana")
    world.app.execute(world.app.follow_up, ids[11], actor="ana", note="called")
    world.receive("11", occurred_at="2026-11-01T12:00:00Z", contact={"first_name": "Barbara"})
    for version, (added, removed, replaced) in enumerate(
        ((["s1", "s2", "s3"], [], False), ([], ["s2"], False), (["s3", "s4"], [], True)), start=1
    ):
        change = TeamMembershipChangedV1(
            aggregate_id=uuid4(),
            version=version,
            team_id="t1",
            added=added,
            removed=removed,
            replaced=replaced,
            changed_at="2026-11-01T12:00:00Z",
        )
        world.app.execute(world.app.on_team_membership_changed, change)


def test_a_rebuilt_model_equals_the_live_one(world: World) -> None:
    busy_history(world)
    world.model.runner.catch_up()
    live = world.model.dump()
    assert len(live["intake_rm_leads"]) == 11 and len(live["intake_rm_favorites"]) == 2
    assert live["intake_rm_team_members"] == [("t1", "s3"), ("t1", "s4")]
    counts = world.model.rebuild()
    assert world.model.dump() == live
    assert counts == {"intake_rm_leads": 11, "intake_rm_favorites": 2, "intake_rm_team_members": 2}


def test_the_rebuild_command_replays_the_event_store_into_fresh_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "stores" / "intake.sqlite"
    settings = IntakeSettings(run_dir=tmp_path, sqlite_path=events)
    assert read_store_path(settings) == tmp_path / "stores" / "intake-read.sqlite"
    world = World(settings.eventsourcing_env(), SQLiteReadStore(read_store_path(settings)))
    busy_history(world)
    world.model.runner.catch_up()
    live = world.model.dump()

    monkeypatch.setenv("INTAKE_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_SQLITE_PATH", str(events))
    result = CliRunner().invoke(intake_cli, ["rebuild-read-models"])
    assert result.exit_code == 0, result.output
    assert "intake_rm_leads" in result.output and "11" in result.output
    assert world.model.dump() == live
    world.close()


def test_a_failing_projection_never_fails_the_command_leaves_nothing_half_done_and_catches_up_later(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.receive("1")
    runner = world.model.runner
    runner.catch_up()
    position = runner.position()

    def broken(*_: Any) -> None:
        raise RuntimeError("read store down")

    monkeypatch.setattr(LeadListProjection, "_apply_event", broken)
    second = world.receive("2")  # the command succeeds; the projection is not on its path
    world.app.execute(world.app.set_favorite, first, user_id="ana", on=True)
    assert world.app.get_lead(second).version == 1
    with pytest.raises(RuntimeError):
        runner.catch_up()
    assert runner.position() == position  # the failed batch left nothing behind
    monkeypatch.undo()
    assert world.ids() == {first, second} and world.ids("favorites") == {first}


async def test_the_background_job_follows_the_log_reports_being_stuck_and_stops_promptly(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = world.model.runner
    lead = world.receive("1")
    runner.poll_seconds = 0.05
    job = asyncio.create_task(runner.run())
    assert await runner.wait_for(world.app.recorder.max_notification_id(), timeout=2)
    assert lead in {UUID(i["lead_id"]) for i in world.model.leads.page(filters=LeadFilters(), user_id="a").items}
    # A projection that keeps failing says so (what /readyz shows), and recovers.
    monkeypatch.setattr(LeadListProjection, "_apply_event", lambda *_: 1 / 0)
    world.receive("2")
    for _ in range(200):
        if runner.health.problems():
            break
        await asyncio.sleep(0.02)
    (problem,) = runner.health.problems().values()
    assert "projection intake-lead-list stuck" in problem and "ZeroDivisionError" in problem
    monkeypatch.undo()
    assert await runner.wait_for(world.app.recorder.max_notification_id(), timeout=5)
    await asyncio.sleep(0.1)
    assert runner.health.problems() == {}
    runner.stop()
    await asyncio.wait_for(job, timeout=2)


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """The API with the lead list's runner following the log, as in the service."""
    worker = StoreWorker("test")
    api = create_api(world.app, worker, {}, world.model, authenticator(world.app, worker))
    world.app.on_recorded.append(world.model.runner.listener(asyncio.get_running_loop()))
    job = asyncio.create_task(world.model.runner.run())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://intake", headers=bearer()
    ) as client:
        yield client
    world.model.runner.stop()
    await job
    worker.shutdown()


async def test_the_list_over_http_reads_its_own_writes(world: World, http: httpx.AsyncClient) -> None:
    body = {"source": "web-form", "external_id": "1", "occurred_at": "2026-11-01T10:00:00Z", "type": "sales_qualified"}
    lead_id = (await http.post("/v1/leads", json=body)).json()["lead"]["lead_id"]
    await http.put(f"/v1/leads/{lead_id}/favorite", headers=bearer("admin", sub="ana"))
    mine = (await http.get("/v1/leads", params={"tab": "favorites"}, headers=bearer("admin", sub="ana"))).json()
    assert [i["lead_id"] for i in mine["items"]] == [lead_id] and mine["items"][0]["favorite"] is True
    assert mine["counts"] == {"all": 1, "marketplace": 0, "qualified": 1, "favorites": 1, "archived": 0}
    theirs = (await http.get("/v1/leads", params={"tab": "favorites"}, headers=bearer("admin", sub="ben"))).json()
    assert theirs["items"] == [] and theirs["next_cursor"] is None
    repeated = await http.get("/v1/leads", params=[("status", "assigned"), ("status", "unassigned")])
    assert [i["lead_id"] for i in repeated.json()["items"]] == [lead_id]
    assert (await http.delete(f"/v1/leads/{lead_id}")).status_code == 204
    gone = (await http.get("/v1/leads", params={"include_voided": "true"}, headers=bearer("admin", sub="ana"))).json()
    assert gone["items"] == [] and set(gone["counts"].values()) == {0}


async def test_http_pages_follow_the_cursor(world: World, http: httpx.AsyncClient) -> None:
    for i in range(25):
        world.receive(str(i))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 10, "tab": "marketplace"}
    while True:
        page = (await http.get("/v1/leads", params=params)).json()
        seen += [i["lead_id"] for i in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 25


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tab": "mine"}, "tab"),
        ({"status": "lost"}, "status"),
        ({"type": "cold"}, "type"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_from": "2026-11-01T00:00:00"}, "created_from"),
        ({"created_from": "2026-11-02T00:00:00Z", "created_to": "2026-11-01T00:00:00Z"}, "created_to"),
        ({"q": ""}, "q"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_a_bad_parameter_is_422_with_the_reason(
    http: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await http.get("/v1/leads", params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert field in detail["loc"] and detail["msg"]


async def test_a_cursor_only_works_for_the_query_it_came_from(world: World, http: httpx.AsyncClient) -> None:
    for i in range(3):
        world.receive(str(i))
    cursor = (await http.get("/v1/leads", params={"limit": 1})).json()["next_cursor"]
    assert (await http.get("/v1/leads", params={"limit": 1, "cursor": cursor})).status_code == 200
    other = await http.get("/v1/leads", params={"limit": 1, "cursor": cursor, "tab": "qualified"})
    assert other.status_code == 422 and "different" in other.json()["detail"][0]["msg"]


async def test_a_read_asking_for_a_position_nothing_has_reached_is_refused_at_once(http: httpx.AsyncClient) -> None:
    started = asyncio.get_running_loop().time()
    response = await http.get("/v1/leads", params={"min_position": 10**9})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "min_position"]
    assert asyncio.get_running_loop().time() - started < 1.0  # not the 2 s read-your-writes wait
