"""Erasure by crypto-shredding (issue 9): a lead's personal data is stored encrypted with its own
data key; erasing the lead destroys the key, so no copy of that data can be read again, while the
lead's non-personal history stays and still loads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from auth_helpers import authenticator, bearer
from intake_world import assigned, lead_list_of

from intake.application import IntakeApplication
from intake.domain import IllegalTransition, index_id
from intake.entrypoints.api import create_api
from intake.entrypoints.stream import inbound_subject, to_integration_event
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.deadletters import DeadLetter, InvalidMessage, open_sealed, seal
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit

PERSONAL = ("Zelda", "Quuxley", "zelda.q@example.org", "+442079460123", "Zeldacorp", "prefers mornings", "tea at 4")


def lead_body(**overrides: Any) -> dict[str, Any]:
    return {
        "source": "web-form",
        "external_id": "pd-1",
        "contact": {
            "first_name": "Zelda",
            "last_name": "Quuxley",
            "email": "zelda.q@example.org",
            "phone": "+442079460123",
        },
        "company": {"name": "Zeldacorp", "country": "GB", "industry": "retail"},
        "notes": "prefers mornings",
        "score": 70,
        "occurred_at": "2026-11-01T10:00:00Z",
        **overrides,
    }


def hits(blob: bytes) -> list[str]:
    return [value for value in PERSONAL if value.encode() in blob]


def files_of(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.fixture
def world(tmp_path: Path) -> Any:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "store" / "intake.db"),
        "LEADFLOW_SNAPSHOT_EVERY": "2",
    }
    (tmp_path / "store").mkdir()
    app = IntakeApplication(env=env)
    read_store = SQLiteReadStore(tmp_path / "read" / "intake-read.db")
    model = lead_list_of(app, read_store)
    worker = StoreWorker("test")
    api = create_api(app, worker, {}, model, authenticator(app, worker))
    yield app, model, api, env, tmp_path
    worker.shutdown()
    read_store.close()


async def test_erasure_leaves_no_readable_copy_and_keeps_the_non_personal_history(world: Any) -> None:
    app, model, api, env, tmp_path = world
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=bearer("admin")) as http:
        lead_id = (await http.post("/v1/leads", json=lead_body())).json()["lead"]["lead_id"]
        app.execute(app.on_assignment_decided, assigned(lead_id, "sam", "emea", version=1))
        newer = lead_body(occurred_at="2026-11-02T10:00:00Z", score=80)
        assert (await http.post("/v1/leads", json=newer)).json()["outcome"] == "updated"
        assert (await http.post(f"/v1/leads/{lead_id}/follow-ups", json={"note": "tea at 4"})).status_code == 201
        assert (await http.post(f"/v1/leads/{lead_id}/convert", json={})).status_code == 200
        twin = (await http.post("/v1/leads", json=lead_body(external_id="pd-2"))).json()["lead"]
        assert lead_id in twin["possible_duplicates"]
        model.runner.catch_up()

        # Before erasure: readable through the service, never stored in plain text.
        lead = (await http.get(f"/v1/leads/{lead_id}")).json()
        assert lead["contact"]["email"] == "zelda.q@example.org" and lead["details"]["notes"] == "prefers mornings"
        assert hits(files_of(tmp_path / "store")) == []
        assert list(app.recorder.select_events(UUID(lead_id)))  # and there are events
        listed = await http.get("/v1/leads", params={"q": "zelda"})
        assert [r["lead_id"] for r in listed.json()["items"]].count(lead_id) == 1

        erased = await http.post(f"/v1/leads/{lead_id}/erasure", json={"reason": "asked by the person"})
        assert erased.status_code == 200 and erased.json()["already_erased"] is False
        again = await http.post(f"/v1/leads/{lead_id}/erasure")
        assert again.status_code == 200 and again.json()["already_erased"] is True
        model.runner.catch_up()

        # The non-personal history stays and loads: statuses, owners, times, every event.
        lead = (await http.get(f"/v1/leads/{lead_id}")).json()
        assert (lead["status"], lead["owner_id"], lead["team_id"], lead["score"]) == ("converted", "sam", "emea", 80)
        assert lead["contact"] == {} and lead["company"] == {"country": "GB", "industry": "retail"}
        assert "notes" not in lead["details"] and lead["erased_at"]
        events = (await http.get(f"/v1/leads/{lead_id}/events")).json()
        assert [e["type"] for e in events][-1] == "Erased" and len(events) == 6
        assert hits(json.dumps(events).encode()) == []
        as_of = (await http.get(f"/v1/leads/{lead_id}", params={"as_of": events[1]["recorded_at"]})).json()
        assert as_of["contact"] == {} and as_of["status"] == "assigned"
        # The read model is scrubbed and no longer finds the lead by name.
        listed = (await http.get("/v1/leads", params={"q": "zelda"})).json()["items"]
        assert lead_id not in [r["lead_id"] for r in listed]
        # The twin (another lead with the same email) is untouched, but no longer matched to it.
        assert (await http.get(f"/v1/leads/{twin['lead_id']}")).json()["contact"]["email"] == "zelda.q@example.org"
        entry = app.repository.get(index_id("email", "zelda.q@example.org"))
        assert lead_id not in entry.lead_ids and twin["lead_id"] in entry.lead_ids and entry.customer_ids == []
        # Follow-ups (free text) are refused; an upstream re-send is recorded as ignored.
        refused = await http.post(f"/v1/leads/{lead_id}/follow-ups", json={"note": "again"})
        assert refused.status_code == 409
        assert (await http.post("/v1/leads", json=lead_body(occurred_at="2026-11-03T10:00:00Z"))).json()[
            "outcome"
        ] == "duplicate"

    # A fresh process on the same store (no cached key or aggregate) reads it the same way.
    fresh = IntakeApplication(env=env)
    reloaded = fresh.get_lead(UUID(lead_id))
    assert reloaded.contact == {} and reloaded.status == "converted"
    customer = fresh.repository.get(reloaded.customer_id)
    assert (customer.name, customer.email, customer.phone, customer.company) == (None, None, None, None)
    with pytest.raises(IllegalTransition):
        fresh.execute(fresh.follow_up, UUID(lead_id), actor="sam", note="x")
    # Only the twin's data is left in the read model's rows; nothing of the erased lead anywhere in its files.
    with sqlite3.connect(tmp_path / "read" / "intake-read.db") as db:
        row = db.execute("SELECT * FROM intake_rm_leads WHERE lead_id = ?", (lead_id,)).fetchone()
    assert hits(repr(row).encode()) == []
    assert hits(files_of(tmp_path / "store")) == []


def test_integration_events_carry_no_personal_data() -> None:
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    receipt = app.execute(app.receive_lead, InboundLeadV1.model_validate(lead_body()), via="http")
    app.execute(app.disqualify, receipt.lead_id, actor="sam", note="tea at 4")
    published = [to_integration_event(e) for e in app.events.get(receipt.lead_id)]
    text = "".join(e.model_dump_json() for e in published if e is not None)
    assert hits(text.encode()) == [] and '"country":"GB"' in text


def test_a_dead_letter_is_sealed_with_the_leads_key_and_unreadable_after_erasure() -> None:
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    receipt = app.execute(app.receive_lead, InboundLeadV1.model_validate(lead_body()), via="http")
    bad = json.dumps(lead_body(score="high")).encode()
    letter = DeadLetter(
        "leads.inbound.v1",
        0,
        7,
        b"zelda.q@example.org",
        bad,
        [("ce_subject", b"Zelda")],
        InvalidMessage("validation failed: score"),
    )
    sealed = seal(letter, app.data_keys, inbound_subject)
    assert sealed.key == str(receipt.lead_id).encode()
    assert hits(sealed.value or b"") == [] and hits(b"".join(v or b"" for _, v in sealed.headers)) == []
    opened = open_sealed(app.data_keys, sealed.value or b"")
    assert opened is not None and opened["subject"] == str(receipt.lead_id)
    app.execute(app.erase, receipt.lead_id, actor="admin")
    assert open_sealed(app.data_keys, sealed.value or b"") is None
    # A message that does not say whose it is gets a key of its own; an erased lead's, none at all.
    anonymous = seal(
        DeadLetter("leads.inbound.v1", 0, 8, None, b"{not json Zelda", [], InvalidMessage("x")),
        app.data_keys,
        inbound_subject,
    )
    assert open_sealed(app.data_keys, anonymous.value or b"")["value"]  # type: ignore[index]
    late = seal(letter, app.data_keys, inbound_subject)
    assert json.loads(late.value or b"")["sealed"] is None


def test_an_erased_lead_is_404_for_an_unknown_id_and_admin_only(world: Any) -> None:
    app, *_ = world
    from intake.application import LeadNotFound

    with pytest.raises(LeadNotFound):
        app.execute(app.erase, UUID(int=5), actor="admin")
