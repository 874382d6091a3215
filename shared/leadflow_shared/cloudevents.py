"""CloudEvents 1.0 over Kafka: binary mode out, binary/structured/bare JSON in.

Binary mode puts the attributes in `ce_*` headers and the data in the value; structured
mode puts the whole event, attributes and `data`, in a JSON value. Many upstream systems
cannot set headers at all, so an inbound message may also be the bare data object.
Personal data never goes into keys or headers: only ids and types do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from .contracts import IntegrationEvent

Headers = list[tuple[str, bytes]]

SPECVERSION = "1.0"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:event-id")


class EnvelopeError(ValueError):
    """The message is not a readable CloudEvent nor a bare JSON object."""


@dataclass(frozen=True)
class CloudEvent:
    """One CloudEvent as read from or written to Kafka."""

    type: str | None
    data: Any
    id: str | None = None
    source: str | None = None
    subject: str | None = None
    time: str | None = None
    mode: str = "bare"  # "binary" | "structured" | "bare"
    extensions: dict[str, str] = field(default_factory=dict)


def event_id(aggregate_id: UUID, version: int) -> str:
    """Deterministic CloudEvents id: a re-sent event keeps its id."""
    return str(uuid5(_EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}"))


def to_binary(event: IntegrationEvent, *, source: str, time: datetime) -> tuple[bytes, bytes, Headers]:
    """Encode an integration event as (key, value, headers) in binary mode."""
    headers: Headers = [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_id", event_id(event.aggregate_id, event.version).encode()),
        ("ce_source", source.encode()),
        ("ce_type", event.cloudevents_type.encode()),
        ("ce_subject", event.subject.encode()),
        ("ce_time", time.isoformat().encode()),
        ("content-type", b"application/json"),
    ]
    return event.subject.encode(), event.model_dump_json().encode(), headers


def from_kafka(value: bytes | None, headers: Headers | None) -> CloudEvent:
    """Read a Kafka message as a CloudEvent in binary, structured or bare mode."""
    header_map = {k.lower(): v.decode("utf-8", "replace") for k, v in (headers or []) if v is not None}
    if value is None:
        raise EnvelopeError("message has no value")
    try:
        payload = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"value is not valid JSON: {exc}") from None

    if "ce_specversion" in header_map:
        _check_specversion(header_map["ce_specversion"])
        return CloudEvent(
            type=header_map.get("ce_type"),
            data=payload,
            id=header_map.get("ce_id"),
            source=header_map.get("ce_source"),
            subject=header_map.get("ce_subject"),
            time=header_map.get("ce_time"),
            mode="binary",
            extensions={k[3:]: v for k, v in header_map.items() if k.startswith("ce_")},
        )
    content_type = header_map.get("content-type", "")
    if not isinstance(payload, dict):
        raise EnvelopeError("value must be a JSON object")
    if content_type.startswith(STRUCTURED_CONTENT_TYPE) or "specversion" in payload:
        _check_specversion(str(payload.get("specversion")))
        if "data" not in payload:
            raise EnvelopeError("structured CloudEvent has no data")
        return CloudEvent(
            type=payload.get("type"),
            data=payload["data"],
            id=payload.get("id"),
            source=payload.get("source"),
            subject=payload.get("subject"),
            time=payload.get("time"),
            mode="structured",
        )
    return CloudEvent(type=None, data=payload, mode="bare")


def _check_specversion(value: str) -> None:
    if value != SPECVERSION:
        raise EnvelopeError(f"unsupported CloudEvents specversion {value!r}")
