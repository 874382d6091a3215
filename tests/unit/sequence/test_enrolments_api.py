"""Enrolments over HTTP, as a seller and an admin use them: connect a lead, see its enrolments,
do the steps, send a signal, read the work list and a sequence's figures; who may see what; and
an automated e-mail delivered to a real SMTP server (the catcher), or failing with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from auth_helpers import bearer
from sequence_world import TRADE_SHOW, SequenceWorld

from leadflow_tools.smtp import SmtpCatcher

pytestmark = pytest.mark.unit
SAM = bearer("seller", sub="sam")


@pytest.fixture
async def world() -> AsyncIterator[SequenceWorld]:
    w = SequenceWorld()
    yield w
    await w.close()


async def active(http: httpx.AsyncClient, steps: list[dict[str, Any]], **settings: bool) -> str:
    created = await http.post("/v1/sequences", json={"name": "s", "steps": steps, "settings": settings})
    sid = str(created.json()["sequence_id"])
    assert (await http.post(f"/v1/sequences/{sid}/activate")).status_code == 200
    return sid


async def test_a_seller_works_their_leads_steps(world: SequenceWorld) -> None:
    http = world.http
    sid = await active(http, [*TRADE_SHOW[:1], {"id": "c0", "type": "call"}, *TRADE_SHOW[1:]])
    lead = uuid4()
    world.assign(lead, "sam", segment_id=None)
    made = await http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(lead)}, headers=SAM)
    assert made.status_code == 201, made.text
    enrolment = made.json()
    eid = enrolment["enrolment_id"]
    assert (enrolment["owner_id"], enrolment["current_step"]["step_id"], enrolment["upcoming_step"]) == (
        "sam",
        "e1",
        {"step_id": "c0", "type": "call"},
    )
    again = await http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(lead)})
    assert again.status_code == 409 and eid in again.json()["detail"]

    work = (await http.get("/v1/work", params={"bucket": "due_today"}, headers=SAM)).json()
    assert [(i["enrolment_id"], i["step_id"]) for i in work["items"]] == [(eid, "e1")]
    done = await http.post(f"/v1/enrolments/{eid}/steps/e1/complete", json={"note": "sent the deck"}, headers=SAM)
    assert done.status_code == 200 and done.json()["current_step"]["step_id"] == "c0"
    wrong = await http.post(f"/v1/enrolments/{eid}/steps/e1/complete", json={}, headers=SAM)
    assert wrong.status_code == 409 and "not the current step" in wrong.json()["detail"]
    called = await http.post(f"/v1/enrolments/{eid}/steps/c0/complete", json={"outcome": "left_voicemail"}, headers=SAM)
    assert called.json()["current_step"]["step_id"] == "w1"
    assert called.json()["upcoming_step"] == {"step_id": "c1", "type": "call"}
    skipped = await http.post(f"/v1/enrolments/{eid}/steps/w1/skip-wait", headers=SAM)
    assert skipped.json()["current_step"] == {**skipped.json()["current_step"], "step_id": "c1", "is_due": True}
    until = (world.clock.now() + timedelta(days=1)).isoformat()
    snoozed = await http.post(f"/v1/enrolments/{eid}/steps/c1/snooze", json={"until": until}, headers=SAM)
    assert snoozed.json()["current_step"]["snoozed_until"] == until
    assert (await http.post(f"/v1/enrolments/{eid}/steps/c1/snooze", json={"until": "tomorrow"})).status_code == 422

    mine = (await http.get(f"/v1/leads/{lead}/enrolments", headers=SAM)).json()["items"]
    assert [s["step_id"] for s in mine[0]["completed_steps"]] == ["e1", "c0", "w1"]
    assert mine[0]["completed_steps"][1]["outcome"] == "left_voicemail" and mine[0]["completed_steps"][0]["has_note"]
    figures = (await http.get(f"/v1/sequences/{sid}/figures")).json()
    assert figures["connected"] == 1 and figures["success"]["30d"]["success_rate"] is None
    connected = (await http.get(f"/v1/sequences/{sid}/enrolments")).json()["items"]
    assert [(c["enrolment_id"], c["current_step"], c["steps_done"]) for c in connected] == [(eid, "c1", 3)]

    assert (await http.delete(f"/v1/enrolments/{eid}", headers=SAM)).status_code == 204
    gone = (await http.get(f"/v1/enrolments/{eid}")).json()
    assert (gone["status"], gone["exit_cause"]) == ("exited", "disconnected")
    figures = (await http.get(f"/v1/sequences/{sid}/figures")).json()
    assert figures["connected"] == 0 and figures["success"]["30d"] == {"ended": 1, "completed": 0, "success_rate": 0.0}


async def test_another_sellers_enrolments_are_not_found(world: SequenceWorld) -> None:
    sid = await active(world.http, TRADE_SHOW)
    lead = uuid4()
    world.assign(lead, "kim", segment_id=None)
    eid = (await world.http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(lead)})).json()["enrolment_id"]
    assert (await world.http.get(f"/v1/enrolments/{eid}", headers=SAM)).status_code == 404
    assert (await world.http.post(f"/v1/enrolments/{eid}/steps/e1/skip", headers=SAM)).status_code == 404
    assert (await world.http.get(f"/v1/leads/{lead}/enrolments", headers=SAM)).status_code == 404
    other = await world.http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(uuid4())}, headers=SAM)
    assert other.status_code == 404
    assert (await world.http.get("/v1/work", params={"seller_id": "kim"}, headers=SAM)).status_code == 404
    assert (await world.http.get("/v1/work")).status_code == 422  # an admin names the seller
    assert (await world.http.get("/v1/work", params={"bucket": "someday", "seller_id": "kim"})).status_code == 422
    assert (await world.http.get(f"/v1/enrolments/{eid}", headers=bearer("partner_user", org="x"))).status_code == 403


async def test_signals_over_http_are_checked(world: SequenceWorld) -> None:
    sid = await active(
        world.http,
        [
            {"id": "e1", "type": "email"},
            {"id": "if", "type": "condition", "kind": "link_clicked", "step_id": "e1", "within_hours": 24,
             "yes": [{"id": "y", "type": "call"}], "no": [{"id": "n", "type": "task"}]},
        ],
    )  # fmt: skip
    lead = uuid4()
    eid = (await world.http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(lead)})).json()["enrolment_id"]
    early = await world.http.post(f"/v1/enrolments/{eid}/signals", json={"step_id": "e1", "kind": "link_clicked"})
    assert early.status_code == 422 and early.json()["detail"][0]["loc"] == ["body", "step_id"]
    await world.http.post(f"/v1/enrolments/{eid}/steps/e1/complete", json={})
    unknown = await world.http.post(f"/v1/enrolments/{eid}/signals", json={"step_id": "e1", "kind": "liked"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "kind"]
    not_email = await world.http.post(f"/v1/enrolments/{eid}/signals", json={"step_id": "if", "kind": "link_clicked"})
    assert not_email.status_code == 422
    clicked = await world.http.post(f"/v1/enrolments/{eid}/signals", json={"step_id": "e1", "kind": "link_clicked"})
    assert clicked.status_code == 202 and clicked.json()["current_step"]["step_id"] == "y"
    seller = await world.http.post(
        f"/v1/enrolments/{eid}/signals", json={"step_id": "e1", "kind": "email_opened"}, headers=SAM
    )
    assert seller.status_code == 403


AUTO = [
    {"id": "m1", "type": "auto_email",
     "template": {"subject": "Great to meet you at {{ attributes.event }}, {{ first_name }}",
                  "body": "Hello {{ first_name }},\nthanks for visiting {{ company.name }}'s stand."}},
    {"id": "c1", "type": "call"},
]  # fmt: skip


async def test_an_automated_email_is_rendered_and_delivered_over_smtp(smtp_catcher: SmtpCatcher) -> None:
    world = SequenceWorld(smtp=smtp_catcher.address)
    sid = await active(world.http, AUTO)
    lead = uuid4()
    world.contacts.leads[lead] = {
        "email": "ada@contoso.example",
        "first_name": "Ada",
        "company_name": "Contoso",
        "company": {"country": "GB"},
        "attributes": {"event": "Future of Sales London"},
    }
    eid = (await world.http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(lead)})).json()["enrolment_id"]
    world.read_model.runner.catch_up()
    assert await world.mailer.send_due() == 1
    mail = smtp_catcher.wait_for(lambda m: True)
    assert mail.recipients == ("ada@contoso.example",)
    assert mail.message["Subject"] == "Great to meet you at Future of Sales London, Ada"
    assert "thanks for visiting Contoso's stand." in mail.message.get_content()
    assert mail.message["X-Leadflow-Enrolment"] == eid
    view = (await world.http.get(f"/v1/enrolments/{eid}")).json()
    assert view["emails"]["m1"]["status"] == "sent" and view["current_step"]["step_id"] == "c1"
    assert world.types(UUID(eid))[-3:] == ["email-sent", "step-completed", "step-due"]
    world.read_model.runner.catch_up()
    assert await world.mailer.send_due() == 0 and len(smtp_catcher.messages) == 1  # once
    await world.close()


async def test_a_failed_delivery_is_an_event_and_the_step_is_skipped(smtp_catcher: SmtpCatcher) -> None:
    world = SequenceWorld(smtp=smtp_catcher.address)
    smtp_catcher.refuse("gone@contoso.example")
    sid = await active(world.http, AUTO)
    refused, nameless = uuid4(), uuid4()
    world.contacts.leads[refused] = {
        "email": "gone@contoso.example",
        "first_name": "G",
        "company_name": "C",
        "attributes": {"event": "x"},
    }
    world.contacts.leads[nameless] = {"email": "n@contoso.example", "company_name": "C", "attributes": {"event": "x"}}
    ids = [
        (await world.http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(lead)})).json()["enrolment_id"]
        for lead in (refused, nameless)
    ]
    world.read_model.runner.catch_up()
    await world.mailer.send_due()
    for eid, reason in zip(ids, ("550", "first_name"), strict=True):
        view = (await world.http.get(f"/v1/enrolments/{eid}")).json()
        assert view["emails"]["m1"]["status"] == "failed" and reason in view["emails"]["m1"]["last_error"]
        assert view["completed_steps"][0]["action"] == "skipped" and view["current_step"]["step_id"] == "c1"
    assert smtp_catcher.messages == []
    await world.close()


async def test_a_temporary_failure_is_tried_again_later() -> None:
    world = SequenceWorld(smtp=("127.0.0.1", 1))  # nothing listens there
    sid = await active(world.http, AUTO)
    lead = uuid4()
    world.contacts.leads[lead] = {
        "email": "a@b.example",
        "first_name": "A",
        "company_name": "C",
        "attributes": {"event": "x"},
    }
    eid = (await world.http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(lead)})).json()["enrolment_id"]
    world.read_model.runner.catch_up()
    assert await world.mailer.send_due() == 1
    world.read_model.runner.catch_up()
    assert await world.mailer.send_due() == 0  # the next attempt is 30 s later
    world.clock.advance(timedelta(seconds=30))
    assert await world.mailer.send_due() == 1
    emails = (await world.http.get(f"/v1/enrolments/{eid}")).json()["emails"]["m1"]
    assert (emails["status"], emails["attempts"]) == ("retrying", 2)
    await world.close()


async def test_activation_checks_templates(world: SequenceWorld) -> None:
    created = await world.http.post(
        "/v1/sequences",
        json={"name": "t", "steps": [{"id": "m", "type": "auto_email", "template": {"subject": "{{ x", "body": "b"}}]},
    )
    refused = await world.http.post(f"/v1/sequences/{created.json()['sequence_id']}/activate")
    assert refused.status_code == 422 and refused.json()["problems"][0]["step_id"] == "m"


async def test_readyz_names_the_mailer_while_deliveries_keep_failing_and_clears_it_after_one_goes_through(
    smtp_catcher: SmtpCatcher,
) -> None:
    world = SequenceWorld(smtp=("127.0.0.1", 1))  # nothing listens there
    sid = await active(world.http, AUTO)
    for _ in range(3):
        lead = uuid4()
        world.contacts.leads[lead] = {
            "email": "a@b.example",
            "first_name": "A",
            "company_name": "C",
            "attributes": {"event": "x"},
        }
        await world.http.post(f"/v1/sequences/{sid}/enrolments", json={"lead_id": str(lead)})
    world.read_model.runner.catch_up()
    await world.mailer.send_due()
    assert "3 deliveries in a row failed" in world.mailer.health.problems().get("mailer", "")
    world.mailer.smtp = replace(world.mailer.smtp, port=smtp_catcher.address[1])
    world.clock.advance(timedelta(seconds=30))
    world.read_model.runner.catch_up()
    await world.mailer.send_due()
    assert "mailer" not in world.mailer.health.problems() and len(smtp_catcher.messages) == 3
    await world.close()
