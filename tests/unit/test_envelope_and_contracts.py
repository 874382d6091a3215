"""CloudEvents (through the SDK's Kafka binding) in all three inbound shapes, binary out; hostile
input becomes a reason, never an exception; contracts refuse bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from intake.application import IntakeApplication
from intake.domain import lead_id_for
from intake.entrypoints.stream import subscriptions
from leadflow_shared import envelope
from leadflow_shared.contracts import InboundLeadV1, LeadAssignedV1
from leadflow_shared.deadletters import InvalidMessage
from leadflow_shared.subscriptions import Incoming, decode

pytestmark = pytest.mark.unit

LEAD = {
    "source": "web-form",
    "external_id": "42",
    "occurred_at": "2026-11-01T10:00:00Z",
    "contact": {"email": "ada@example.com"},
}
CE_HEADERS = [("ce_specversion", b"1.0"), ("ce_type", b"lead.inbound.v1"), ("ce_id", b"1"), ("ce_source", b"/crm")]


@pytest.fixture(scope="module")
def inbound() -> object:
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    return subscriptions(app)[0]


def read_inbound(subscription: object, value: bytes | None, headers: list[tuple[str, bytes | None]]) -> Incoming:
    return decode(subscription, Incoming("leads.inbound.v1", 0, 0, None, value, tuple(headers)))  # type: ignore[arg-type]


def test_binary_mode_out_carries_attributes_in_headers_and_the_aggregate_id_as_key() -> None:
    lead_id = lead_id_for("web-form", "42")
    event = LeadAssignedV1(
        aggregate_id=lead_id,
        version=2,
        previous_version=1,
        lead_id=lead_id,
        seller_id="s1",
        method="round_robin",
        decided_at=datetime(2026, 11, 1, tzinfo=UTC),
        source="web-form",
        external_id="42",
    )
    out = envelope.to_binary(event, source="leadflow/assignment", time=datetime(2026, 11, 1, tzinfo=UTC))
    h = out.headers
    assert out.key == str(lead_id).encode()
    assert h["ce_type"] == "lead.assigned.v1"
    assert h["ce_subject"] == str(lead_id)
    assert h["ce_id"] == envelope.event_id(lead_id, 2)  # stable: a re-sent event keeps its id
    assert (h["ce_aggregateversion"], h["ce_previousversion"]) == ("2", "1")
    assert json.loads(out.value)["source"] == "web-form"
    assert "ada" not in "".join(h.values())  # no personal data in headers
    read = envelope.read(out.value, out.record()[2])
    assert (read.mode, read.type, read.subject) == ("binary", "lead.assigned.v1", str(lead_id))
    assert (read.aggregate_id, read.aggregate_version, read.previous_version) == (lead_id, 2, 1)
    structured = envelope.to_structured(event, source="leadflow/assignment", time=datetime(2026, 11, 1, tzinfo=UTC))
    assert envelope.read(structured.value, structured.record()[2]).data == read.data


def test_inbound_accepts_binary_structured_and_bare_shapes(inbound: object) -> None:
    binary = read_inbound(inbound, json.dumps(LEAD).encode(), CE_HEADERS)
    structured = read_inbound(
        inbound,
        json.dumps(
            {"specversion": "1.0", "type": "lead.inbound.v1", "id": "1", "source": "crm", "data": LEAD}
        ).encode(),
        [("content-type", b"application/cloudevents+json")],
    )
    structured_without_header = read_inbound(
        inbound,
        json.dumps(
            {"specversion": "1.0", "type": "lead.inbound.v1", "id": "1", "source": "crm", "data": LEAD}
        ).encode(),
        [],
    )
    bare = read_inbound(inbound, json.dumps(LEAD).encode(), [])
    assert [i.invalid for i in (binary, structured, structured_without_header, bare)] == [None] * 4
    assert binary.message == structured.message == structured_without_header.message == bare.message
    assert isinstance(bare.message, InboundLeadV1) and bare.message.contact.email == "ada@example.com"


DEEP = b'{"source": "a", "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{not json", [], "not valid JSON"),
        (b"[1, 2]", [], "JSON object"),
        (b"\xff\xfe\x00", [], "not a readable message"),
        (None, [], "no value"),
        (json.dumps(LEAD).encode(), [("ce_specversion", b"0.3"), *CE_HEADERS[1:]], "specversion"),
        (json.dumps(LEAD).encode(), [*CE_HEADERS[:1], ("ce_type", b"lead.other.v1"), *CE_HEADERS[2:]], "unexpected"),
        (json.dumps(LEAD).encode(), [("ce_specversion", b"1.0"), ("ce_type", b"lead.inbound.v1")], "source"),
        (json.dumps(LEAD).encode(), [*CE_HEADERS, ("ce_time", b"yesterday")], "not a readable message"),
        (json.dumps(LEAD).encode(), [*CE_HEADERS, ("ce_type", b"\xff\xfe")], "not a readable message"),
        (json.dumps(LEAD).encode(), [*CE_HEADERS, ("ce_id", None)], "has no value"),
        (json.dumps({"specversion": "1.0", "type": "lead.inbound.v1", "id": "1", "source": "s"}).encode(), [], "data"),
        (
            json.dumps({"specversion": "1.0", "type": ["lead.inbound.v1"], "id": "1", "source": "s"}).encode(),
            [],
            "type",
        ),
        (
            json.dumps({"specversion": "1.0", "type": {"a": 1}, "id": "1", "source": "s", "data": LEAD}).encode(),
            [],
            "type",
        ),
        (json.dumps({**LEAD, "score": "high"}).encode(), [], "score"),
        (json.dumps(LEAD).encode()[:-1] + b', "score": ' + b"9" * 5000 + b"}", [], "not a readable message"),
        (DEEP, [], "nested too deeply"),
        (json.dumps({k: v for k, v in LEAD.items() if k != "source"}).encode(), [], "source"),
        (json.dumps({**LEAD, "occurred_at": "2026-11-01T10:00:00"}).encode(), [], "occurred_at"),
        (json.dumps({**LEAD, "contact": {"email": "not-an-email"}}).encode(), [], "contact.email"),
        (json.dumps({**LEAD, "unknown": 1}).encode(), [], "unknown"),
        (json.dumps({**LEAD, "notes": "x" * 70_000}).encode(), [], "exceeds"),
    ],
)
def test_inbound_refuses_what_it_cannot_read_with_a_reason(
    inbound: object, value: bytes | None, headers: list[tuple[str, bytes | None]], reason: str
) -> None:
    item = read_inbound(inbound, value, headers)
    assert item.invalid is not None, item
    assert reason in item.invalid.as_json()


def test_a_reason_never_echoes_the_input() -> None:
    with pytest.raises(InvalidMessage) as caught:
        envelope.read(json.dumps({"specversion": "1.0", "type": 7, "id": "secret-ada", "source": "s"}).encode(), [])
    assert "secret-ada" not in caught.value.as_json()


def test_contracts_are_frozen() -> None:
    lead = InboundLeadV1.model_validate(LEAD)
    with pytest.raises(ValidationError):
        lead.source = "other"  # type: ignore[misc]
