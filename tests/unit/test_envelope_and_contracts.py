"""CloudEvents in all three inbound shapes, binary out; contracts refuse bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from intake.domain import lead_id_for
from intake.stream import parse_inbound
from leadflow_shared.cloudevents import EnvelopeError, event_id, from_kafka, to_binary
from leadflow_shared.contracts import InboundLeadV1, LeadAssignedV1
from leadflow_shared.deadletters import InvalidMessage

pytestmark = pytest.mark.unit

LEAD = {
    "source": "web-form",
    "external_id": "42",
    "occurred_at": "2026-11-01T10:00:00Z",
    "contact": {"email": "ada@example.com"},
}


def test_binary_mode_out_carries_attributes_in_headers_and_the_aggregate_id_as_key() -> None:
    lead_id = lead_id_for("web-form", "42")
    event = LeadAssignedV1(
        aggregate_id=lead_id,
        version=2,
        lead_id=lead_id,
        seller_id="s1",
        method="round_robin",
        decided_at=datetime(2026, 11, 1, tzinfo=UTC),
        source="web-form",
        external_id="42",
    )
    key, value, headers = to_binary(event, source="leadflow/assignment", time=datetime(2026, 11, 1, tzinfo=UTC))
    h = dict(headers)
    assert key == str(lead_id).encode()
    assert h["ce_type"] == b"lead.assigned.v1"
    assert h["ce_subject"] == str(lead_id).encode()
    assert h["ce_id"] == event_id(lead_id, 2).encode()  # stable: a re-sent event keeps its id
    assert json.loads(value)["source"] == "web-form"
    assert b"ada" not in b"".join(v for _, v in headers)  # no personal data in headers
    read = from_kafka(value, headers)
    assert (read.mode, read.type, read.subject) == ("binary", "lead.assigned.v1", str(lead_id))


def test_inbound_accepts_binary_structured_and_bare_shapes() -> None:
    binary = parse_inbound(
        json.dumps(LEAD).encode(), [("ce_specversion", b"1.0"), ("ce_type", b"lead.inbound.v1"), ("ce_id", b"1")]
    )
    structured = parse_inbound(
        json.dumps(
            {"specversion": "1.0", "type": "lead.inbound.v1", "id": "1", "source": "crm", "data": LEAD}
        ).encode(),
        [("content-type", b"application/cloudevents+json")],
    )
    bare = parse_inbound(json.dumps(LEAD).encode(), [])
    assert binary == structured == bare
    assert bare.contact.email == "ada@example.com"


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{not json", [], "not valid JSON"),
        (b"[1, 2]", [], "JSON object"),
        (json.dumps(LEAD).encode(), [("ce_specversion", b"0.3")], "specversion"),
        (json.dumps(LEAD).encode(), [("ce_specversion", b"1.0"), ("ce_type", b"lead.other.v1")], "unexpected"),
        (json.dumps({"specversion": "1.0", "type": "lead.inbound.v1"}).encode(), [], "no data"),
        (json.dumps({**LEAD, "score": "high"}).encode(), [], "score"),
        (json.dumps({k: v for k, v in LEAD.items() if k != "source"}).encode(), [], "source"),
        (json.dumps({**LEAD, "occurred_at": "2026-11-01T10:00:00"}).encode(), [], "occurred_at"),
        (json.dumps({**LEAD, "contact": {"email": "not-an-email"}}).encode(), [], "contact.email"),
        (json.dumps({**LEAD, "unknown": 1}).encode(), [], "unknown"),
        (json.dumps({**LEAD, "notes": "x" * 70_000}).encode(), [], "exceeds"),
    ],
)
def test_inbound_refuses_what_it_cannot_read_with_a_reason(
    value: bytes, headers: list[tuple[str, bytes]], reason: str
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_inbound(value, headers)
    assert reason in caught.value.as_json()


def test_the_envelope_refuses_a_message_without_value() -> None:
    with pytest.raises(EnvelopeError):
        from_kafka(None, [])


def test_contracts_are_frozen() -> None:
    lead = InboundLeadV1.model_validate(LEAD)
    with pytest.raises(ValidationError):
        lead.source = "other"  # type: ignore[misc]
