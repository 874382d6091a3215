"""CloudEvents 1.0 over Kafka: the official SDK's Kafka binding, plus bare JSON in.

Out: binary mode (attributes in `ce_*` headers, the data in the value), key = subject = the
aggregate id. Every integration event also carries two extension attributes that let a
consumer keep each aggregate's events in order without decoding the data:
`ce_aggregateversion` (the aggregate's version) and `ce_previousversion` (the version of the
same aggregate's previous event on this topic, 0 when there is none).

In: binary or structured mode through `cloudevents.core.bindings.kafka`; many upstream systems
cannot set headers at all, so an inbound message may also be the bare data object — the SDK
has no notion of that, so that path is ours. Whatever the bytes are, `read` either returns an
Envelope or raises InvalidMessage with a reason that names no personal data: deeply nested
JSON, huge integers, non-UTF-8 headers and attributes of the wrong type all end up there.
Personal data never goes into keys or headers: only ids and types do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from .contracts import IntegrationEvent
from .deadletters import InvalidMessage

Headers = Sequence[tuple[str, bytes | None]]

SPECVERSION = "1.0"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
AGGREGATE_VERSION = "aggregateversion"
PREVIOUS_VERSION = "previousversion"
_FORMAT = JSONFormat()
_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "leadflow:event-id")
# Everything the SDK or the JSON parser can raise on hostile input (RecursionError: JSON
# nested thousands deep; ValueError: integers over 4,300 digits, bad dates, bad UTF-8).
_UNREADABLE = (BaseCloudEventException, ValueError, TypeError, KeyError, AttributeError, RecursionError)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message as read from Kafka."""

    mode: Literal["binary", "structured", "bare"]
    type: str | None
    data: Any
    id: str | None = None
    source: str | None = None
    subject: str | None = None
    time: datetime | None = None
    aggregate_version: int | None = None
    previous_version: int | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def aggregate_id(self) -> UUID | None:
        """The subject as a UUID, when it is one (leadflow's integration events)."""
        if self.subject is None:
            return None
        try:
            return UUID(self.subject)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message ready for a Kafka producer."""

    key: bytes
    value: bytes
    headers: dict[str, str]

    def record(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """(key, value, headers) as a plain Kafka producer sends them."""
        return self.key, self.value, [(name, value.encode()) for name, value in self.headers.items()]


def event_id(aggregate_id: UUID, version: int) -> str:
    """Deterministic CloudEvents id: a re-sent event keeps its id."""
    return str(uuid5(_EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}"))


def _attributes(event: IntegrationEvent, *, source: str, time: datetime) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event_id(event.aggregate_id, event.version),
        "source": source,
        "type": event.cloudevents_type,
        "subject": event.subject,
        "time": time,
        "datacontenttype": "application/json",
        AGGREGATE_VERSION: str(event.version),
    }
    if event.previous_version is not None:
        attributes[PREVIOUS_VERSION] = str(event.previous_version)
    return attributes


def to_binary(
    event: IntegrationEvent, *, source: str, time: datetime, extensions: Mapping[str, str] | None = None
) -> Outgoing:
    """Encode an integration event in binary mode (key = subject = aggregate id).

    `extensions`: further CloudEvents extension attributes (the relay's `traceparent` and
    `tracestate`, see leadflow_shared.telemetry), sent as `ce_<name>` headers."""
    attributes = _attributes(event, source=source, time=time)
    if extensions:
        attributes.update(extensions)
    # The data goes in as bytes: pydantic serialises the model once, the SDK passes it through.
    message = ce_kafka.to_binary(
        CloudEvent(attributes, event.model_dump_json().encode()), _FORMAT, key_mapper=_subject_key
    )
    return Outgoing(
        key=event.subject.encode(),
        value=message.value,
        headers={name: value.decode() for name, value in message.headers.items()},
    )


def to_structured(event: IntegrationEvent, *, source: str, time: datetime) -> Outgoing:
    """The same event in structured mode (tests and tools that want one JSON value)."""
    attributes = _attributes(event, source=source, time=time)
    message = ce_kafka.to_structured(CloudEvent(attributes, event.model_dump(mode="json")), _FORMAT)
    return Outgoing(
        key=event.subject.encode(),
        value=message.value,
        headers={name: value.decode() for name, value in message.headers.items()},
    )


def _subject_key(event: Any) -> str | None:
    subject: str | None = event.get_subject()
    return subject


def read(value: bytes | None, headers: Headers, *, max_bytes: int | None = None) -> Envelope:
    """Read a Kafka message as a CloudEvent (binary or structured mode) or bare JSON object."""
    if value is None:
        raise InvalidMessage("message has no value")
    if max_bytes is not None and len(value) > max_bytes:
        raise InvalidMessage(f"payload of {len(value)} bytes exceeds {max_bytes}")
    ce_headers: dict[str, bytes] = {}
    content_type = b""
    for name, header_value in headers:
        lowered = name.lower()
        if lowered.startswith("ce_"):
            if header_value is None:
                raise InvalidMessage(f"header {name} has no value")
            ce_headers[lowered] = header_value
        elif lowered == "content-type" and header_value is not None:
            content_type = header_value
            ce_headers[lowered] = header_value
    try:
        if ce_headers.keys() - {"content-type"}:
            return _from_event(ce_kafka.from_binary(ce_kafka.KafkaMessage(ce_headers, None, value), _FORMAT), "binary")
        if content_type.startswith(STRUCTURED_CONTENT_TYPE.encode()):
            return _structured(value)
        payload = json.loads(value)
    except InvalidMessage:
        raise
    except _UNREADABLE as exc:
        raise InvalidMessage(f"not a readable message: {_describe(exc)}") from None
    if not isinstance(payload, dict):
        raise InvalidMessage("value must be a JSON object")
    if "specversion" in payload:
        try:
            return _structured(value)
        except InvalidMessage:
            raise
        except _UNREADABLE as exc:
            raise InvalidMessage(f"not a readable CloudEvent: {_describe(exc)}") from None
    return Envelope(mode="bare", type=None, data=payload)


def _structured(value: bytes) -> Envelope:
    event = ce_kafka.from_structured(ce_kafka.KafkaMessage({}, None, value), _FORMAT)
    return _from_event(event, "structured")


def _from_event(event: Any, mode: Literal["binary", "structured"]) -> Envelope:
    if event.get_specversion() != SPECVERSION:
        raise InvalidMessage(f"unsupported CloudEvents specversion {event.get_specversion()!r}")
    data = event.get_data()
    if isinstance(data, bytes | str):
        raise InvalidMessage("CloudEvent data must be a JSON object")
    if not isinstance(data, dict):
        raise InvalidMessage("CloudEvent has no data object")
    attributes = event.get_attributes()
    return Envelope(
        mode=mode,
        type=event.get_type(),
        data=data,
        id=event.get_id(),
        source=event.get_source(),
        subject=event.get_subject(),
        time=event.get_time(),
        aggregate_version=_version(attributes.get(AGGREGATE_VERSION), AGGREGATE_VERSION),
        previous_version=_version(attributes.get(PREVIOUS_VERSION), PREVIOUS_VERSION),
        extensions={k: v for k, v in attributes.items() if k not in _CORE_ATTRIBUTES},
    )


_CORE_ATTRIBUTES = frozenset(
    {"id", "source", "type", "specversion", "subject", "time", "datacontenttype", "dataschema"}
)


def _version(raw: Any, name: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    elif isinstance(raw, str) and raw.isdigit() and len(raw) < 19:
        number = int(raw)
    else:
        raise InvalidMessage(f"extension {name} must be a whole number")
    if number < 0:
        raise InvalidMessage(f"extension {name} must not be negative")
    return number


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
