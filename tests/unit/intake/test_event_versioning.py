"""The worked example of evolving a stored event: Lead.FollowedUp v2 added `channel`. A v1 event
— as every follow-up before it was written — upcasts to a note; new ones are stored as v2."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest
from auth_helpers import authenticator, bearer
from eventsourcing.persistence import StoredEvent
from golden_events import key, load
from intake_world import lead_list_of

from intake.application import IntakeApplication
from intake.domain import Lead
from intake.entrypoints.api import create_api
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
TOPIC = "intake.domain.lead:Lead.FollowedUp"


def v1_state() -> dict[str, object]:
    (sample,) = [s for s in load() if key(s) == (TOPIC, 1)]
    state: dict[str, object] = json.loads(sample["state"])
    assert "class_version" not in state and "channel" not in state  # written before v2
    return state


def test_a_version_1_follow_up_reads_as_a_note() -> None:
    app = IntakeApplication(env=POPO)
    received = app.execute(
        app.receive_lead,
        InboundLeadV1(source="web-form", external_id="v-1", occurred_at=datetime(2026, 11, 1, tzinfo=UTC)),
        via="http",
    )
    # Given a lead whose stream holds a follow-up written by the code before `channel` existed,
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=received.lead_id,
                originator_version=2,
                topic=TOPIC,
                state=json.dumps(v1_state()).encode(),
            )
        ]
    )
    # then the lead replays it as a note,
    lead = app.get_lead(received.lead_id)
    assert isinstance(lead, Lead)
    assert (lead.follow_ups, lead.last_follow_up_channel) == (1, "note")
    (followed_up,) = [e for e in app.events.get(received.lead_id) if type(e).__name__ == "FollowedUp"]
    assert followed_up.channel == "note"


async def test_a_new_follow_up_is_stored_as_version_2_with_its_channel() -> None:
    app = IntakeApplication(env=POPO)
    worker = StoreWorker("test")
    api = create_api(app, worker, {}, lead_list_of(app), authenticator(app, worker))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://intake", headers=bearer()
    ) as http:
        body = {"source": "web-form", "external_id": "v-2", "occurred_at": "2026-11-01T10:00:00Z"}
        lead_id = (await http.post("/v1/leads", json=body)).json()["lead"]["lead_id"]
        called = await http.post(f"/v1/leads/{lead_id}/follow-ups", json={"note": "rang", "channel": "call"})
        assert called.status_code == 201 and called.json()["last_follow_up_channel"] == "call"
        fax = await http.post(f"/v1/leads/{lead_id}/follow-ups", json={"note": "x", "channel": "fax"})
        assert fax.status_code == 422 and fax.json()["detail"][0]["loc"][-1] == "channel"
    worker.shutdown()
    (stored,) = [r for r in app.recorder.select_events(UUID(lead_id)) if r.topic == TOPIC]
    state = json.loads(stored.state)
    assert (state["class_version"], state["channel"]) == (2, "call")


@pytest.mark.parametrize(
    ("topic", "outcome"),
    [("intake.domain.lead:Lead.Qualified", "qualified"), ("intake.domain.lead:Lead.Disqualified", "disqualified")],
)
def test_a_version_1_qualification_keeps_the_status_it_left_the_lead_in(topic: str, outcome: str) -> None:
    """Qualified/Disqualified v2 move the lead to a status of its own; one written before (v1)
    only filled in `qualification`, and still reads that way: the lead stays open."""
    (sample,) = [s for s in load() if key(s) == (topic, 1)]
    state = json.loads(sample["state"])
    assert "class_version" not in state and "status_before" not in state  # written before v2
    app = IntakeApplication(env=POPO)
    received = app.execute(
        app.receive_lead,
        InboundLeadV1(source="web-form", external_id="q-1", occurred_at=datetime(2026, 11, 1, tzinfo=UTC)),
        via="http",
    )
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=received.lead_id,
                originator_version=2,
                topic=topic,
                state=json.dumps(state).encode(),
            )
        ]
    )
    lead = app.get_lead(received.lead_id)
    assert (lead.status, lead.qualification["outcome"], lead.is_open) == ("unassigned", outcome, True)
    (event,) = [e for e in app.events.get(received.lead_id) if type(e).__name__ == topic.rsplit(".", 1)[1]]
    assert event.status_before is None
