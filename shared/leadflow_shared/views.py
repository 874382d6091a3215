"""Read-side helpers every service's API and read models use: one event of a stream as JSON,
timestamps as read models store them, and cursors of newest-first lists."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

_HIDDEN_EVENT_FIELDS = {"originator_id", "originator_version", "timestamp", "_trace"}
"""Shown elsewhere, or not the event's business (`_trace`: the trace context it was stored in)."""


def event_view(domain_event: Any) -> dict[str, Any]:
    """One event of an aggregate's stream: what, when, who, why, and its data."""
    data = {k: jsonable(v) for k, v in vars(domain_event).items() if k not in _HIDDEN_EVENT_FIELDS}
    return {
        "version": domain_event.originator_version,
        "type": type(domain_event).__name__,
        "recorded_at": iso_or_none(domain_event.timestamp),
        "actor": data.pop("actor", None),
        "reason": data.get("reason"),
        "data": data,
    }


def iso_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


def utc_text(value: datetime | None) -> str | None:
    """A time as read models store it: UTC, microseconds, always the same shape, so text order is
    time order in SQLite and PostgreSQL alike (a naive value is taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


class InvalidCursor(ValueError):
    """A cursor the list did not return, or returned for another query (the reason says which)."""


def encode_cursor(at: str, row_id: str, fingerprint: str) -> str:
    """The position after the row (`at`, `row_id`) of a list ordered by both, newest first, tied
    to the query it came from (`fingerprint`)."""
    raw = json.dumps({"r": at, "i": row_id, "f": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at, row_id, made_for = str(data["r"]), str(data["i"]), data["f"]
        UUID(row_id)
        datetime.fromisoformat(at)
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidCursor("not a cursor this list returned") from None
    if made_for != fingerprint:
        raise InvalidCursor("belongs to a different tab or different filters; start again without it")
    return at, row_id
