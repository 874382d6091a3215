"""The lead list on PostgreSQL: same tables, same answers; rebuild equality; replicas sharing one database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from auth_helpers import bearer
from harness import as_bytes, eventually, inbound_lead, new_prefix, postgres_settings, produce, settings_for, started
from intake_world import START, lead_list_of
from intake_world import LeadListWorld as World
from typer.testing import CliRunner

from intake.bootstrap import bootstrap as intake_service
from intake.entrypoints.cli import cli as intake_cli
from intake.projections import LeadFilters
from intake.settings import IntakeSettings
from leadflow_shared.readstore import open_read_store
from leadflow_shared.topics import LEADS_INBOUND

pytestmark = pytest.mark.integration


def world_on(settings: IntakeSettings) -> World:
    """intake's application and its lead list, both in one PostgreSQL database."""
    return World(settings.eventsourcing_env(), open_read_store(settings))


@pytest.fixture
def settings(postgres_database: dict[str, Any]) -> IntakeSettings:
    return IntakeSettings(**postgres_settings(postgres_database))


@pytest.fixture
def world(settings: IntakeSettings) -> Iterator[World]:
    w = world_on(settings)
    yield w
    w.close()


def busy_ids(world: World) -> list[UUID]:
    """Leads in the store, from the log (nothing projected yet)."""
    return [
        UUID(str(n.originator_id))
        for n in world.app.recorder.select_notifications(1, 10_000)
        if n.topic.endswith("Lead.Received")
    ]


def busy_history(world: World) -> dict[str, UUID]:
    """Every kind of lead event, on leads whose tab membership we know."""
    names = [
        "inquiry",
        "mql",
        "sql",
        "converted",
        "recycled",
        "closed",
        "voided",
        "unvoided",
        "deleted",
        "survivor",
        "merged",
        "renamed",
    ]
    types = {"mql": "marketing_qualified", "sql": "sales_qualified", "recycled": "sales_qualified"}
    ids = {n: world.receive(n, type=types.get(n, "customer_inquiry"), campaign_id=n) for n in names}
    world.assign(ids["converted"])
    world.app.execute(world.app.link_document, ids["converted"], actor="ana", kind="quote", number="Q-1")
    world.app.execute(world.app.convert, ids["converted"], actor="ana")
    world.assign(ids["recycled"], seller="s2", team="t2")
    world.app.execute(world.app.recycle, ids["recycled"], actor="ana")
    world.app.execute(world.app.close_invalid, ids["closed"], actor="ana", reason="spam")
    world.app.execute(world.app.void, ids["voided"], actor="ana")
    world.app.execute(world.app.void, ids["unvoided"], actor="ana")
    world.app.execute(world.app.unvoid, ids["unvoided"], actor="ana")
    world.app.execute(world.app.set_favorite, ids["deleted"], user_id="ana", on=True)
    world.app.execute(world.app.delete, ids["deleted"], actor="ana")
    world.app.execute(world.app.merge, ids["survivor"], ids["merged"], actor="ana")
    world.app.execute(world.app.move_stage, ids["inquiry"], actor="ana", stage_id="connected")
    world.app.execute(world.app.qualify, ids["mql"], actor="ana")
    world.app.execute(world.app.follow_up, ids["sql"], actor="ana", note="called")  # a disqualified lead takes none
    world.app.execute(world.app.disqualify, ids["sql"], actor="ana", reason_id="no_budget")
    world.app.execute(world.app.associate, ids["inquiry"], actor="ana", kind="company", target_id="c-1")
    world.app.execute(world.app.set_favorite, ids["inquiry"], user_id="ana", on=True)
    world.app.execute(world.app.set_favorite, ids["mql"], user_id="ana", on=True)
    world.app.execute(world.app.set_favorite, ids["mql"], user_id="ben", on=True)
    world.app.execute(world.app.set_favorite, ids["sql"], user_id="ana", on=True)
    world.app.execute(world.app.set_favorite, ids["sql"], user_id="ana", on=False)
    world.receive("renamed", occurred_at="2026-11-01T12:00:00Z", contact={"first_name": "Grace"}, campaign_id="renamed")
    return ids


def test_the_lead_list_on_postgres_answers_like_on_sqlite(world: World) -> None:
    ids = busy_history(world)
    every = set(ids.values()) - {ids["deleted"]}
    assert world.ids("archived") == {ids["converted"], ids["closed"], ids["merged"], ids["sql"]}  # disqualified
    assert world.ids("marketplace") == {ids["inquiry"], ids["unvoided"], ids["survivor"], ids["renamed"]}
    assert world.ids("qualified") == {ids["mql"], ids["recycled"]}
    assert world.ids("favorites", user="ana") == {ids["inquiry"], ids["mql"]}
    assert world.ids("favorites", user="ben") == {ids["mql"]}
    assert world.ids("all") == every - {ids["voided"]}
    assert world.ids("all", include_voided=True) == every
    assert world.ids(q="GRACE") == {ids["renamed"]}
    assert world.ids(q="lovelace") == every - {ids["voided"], ids["renamed"]}
    assert world.ids(status=("assigned",)) == set()
    assert world.ids(status=("unassigned",), lead_type=("sales_qualified",)) == {ids["recycled"]}
    assert world.ids(status=("qualified", "disqualified")) == {ids["mql"], ids["sql"]}
    assert world.ids(stage_id=("connected",)) == {ids["inquiry"]}
    assert world.ids(campaign_id=("survivor", "merged")) == {ids["survivor"], ids["merged"]}
    assert world.ids(created_from=START + timedelta(minutes=2), created_to=START + timedelta(minutes=4)) == {
        ids["mql"],
        ids["sql"],
    }
    world.model.runner.catch_up()
    counts = world.model.leads.counts(filters=LeadFilters(), user_id="ana")
    assert counts == {"all": 10, "marketplace": 4, "qualified": 2, "favorites": 2, "archived": 4}

    seen, cursor = [], None
    while True:
        page = world.model.leads.page(filters=LeadFilters(), user_id="ana", limit=4, cursor=cursor)
        seen += [i["lead_id"] for i in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert len(seen) == len(set(seen)) == 10


def test_the_rebuild_command_on_postgres_gives_back_the_live_model(
    world: World, postgres_database: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_history(world)
    world.model.runner.catch_up()
    live = world.model.dump()
    assert len(live["intake_rm_leads"]) == 11
    for name, value in postgres_settings(postgres_database).items():
        monkeypatch.setenv(f"INTAKE_{name.upper()}", str(value))
    result = CliRunner().invoke(intake_cli, ["rebuild-read-models"])
    assert result.exit_code == 0, result.output
    assert world.model.dump() == live
    world.receive("after-the-rebuild")  # the live runner carries on from the rebuilt position
    world.model.runner.catch_up()
    assert len(world.model.dump()["intake_rm_leads"]) == 12


def test_two_replicas_projecting_into_one_database_apply_each_event_once(settings: IntakeSettings) -> None:
    writer = world_on(settings)
    busy_history(writer)  # nothing projected while the history is written
    open_to_follow_ups = [i for i in busy_ids(writer) if "follow_up" in writer.app.repository.get(i).allowed_actions()]
    for lead_id in open_to_follow_ups[:3]:
        for n in range(5):
            writer.app.execute(
                writer.app.follow_up, lead_id, actor="ana", note=f"call {n}"
            )  # counters expose double application
    replicas = [world_on(settings) for _ in range(2)]
    try:
        for replica in replicas:
            replica.model.runner.batch_size = 3
        barrier = threading.Barrier(len(replicas))
        errors: list[BaseException] = []

        def project(replica: World) -> None:
            barrier.wait()
            try:
                replica.model.runner.catch_up()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=project, args=(r,)) for r in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        concurrent = writer.model.dump()
        assert len(concurrent["intake_rm_leads"]) == 11
        writer.model.rebuild()
        assert writer.model.dump() == concurrent
    finally:
        for replica in replicas:
            replica.close()
        writer.close()


async def test_the_running_service_lists_leads_from_kafka_and_http_and_rebuilds_equal(
    kafka_bootstrap: str, postgres_database: dict[str, Any], tmp_path: Path
) -> None:
    prefix = new_prefix()
    service = intake_service(
        settings_for(
            IntakeSettings,
            tmp_path=tmp_path,
            bootstrap=kafka_bootstrap,
            prefix=prefix,
            **postgres_settings(postgres_database),
        )
    )
    async with started(service):
        transport = httpx.ASGITransport(app=service.api)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://intake", headers=bearer(run_dir=service.settings.run_dir)
        ) as http:
            await produce(
                kafka_bootstrap,
                f"{prefix}{LEADS_INBOUND}",
                [(None, as_bytes(inbound_lead(f"k{i}", type="marketing_qualified")), []) for i in range(3)],
            )
            posted = await http.post("/v1/leads", json=inbound_lead("h1"))
            lead_id = posted.json()["lead"]["lead_id"]
            await http.put(
                f"/v1/leads/{lead_id}/favorite", headers=bearer("admin", sub="ana", run_dir=service.settings.run_dir)
            )

            async def listed() -> dict[str, Any]:
                return (
                    await http.get("/v1/leads", headers=bearer("admin", sub="ana", run_dir=service.settings.run_dir))
                ).json()  # type: ignore[no-any-return]

            page = await eventually(listed, until=lambda p: p["counts"]["all"] == 4)
            assert page["counts"] == {"all": 4, "marketplace": 1, "qualified": 3, "favorites": 1, "archived": 0}
            await http.post(f"/v1/leads/{lead_id}/close-invalid", json={"reason": "spam"})
            archived = (await http.get("/v1/leads", params={"tab": "archived"})).json()
            assert [i["lead_id"] for i in archived["items"]] == [lead_id]  # read-your-writes, no waiting
            live = await service.worker.call(lambda: lead_list_of(service.app, open_read_store(service.settings)))
            before = live.dump()
            await service.worker.call(live.rebuild)
            assert live.dump() == before
            live.store.close()
