"""Dead letters: a message that cannot be read or applied is kept, with why — never dropped.

`<topic>.dlq` receives the original key, bytes and headers plus `leadflow_error` (the reason,
as JSON), `leadflow_origin` (topic:partition:offset) and `leadflow_consumer_group`. A dead
letter that would not fit the producer's limit is stored truncated, with the original size
and the SHA-256 of the original bytes, so the consumer never dies on its own dead letter.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import ValidationError

from .personal import DataKeys, SubjectErased
from .topics import dead_letter_topic

DEAD_LETTER_SUBJECTS = uuid5(NAMESPACE_URL, "leadflow:dead-letter")
SubjectOf = Callable[[bytes | None, Sequence[tuple[str, bytes | None]]], UUID | None]
"""Whose personal data a message of a topic carries (None: cannot tell)."""

DEFAULT_MAX_DEAD_LETTER_BYTES = 512 * 1024
"""Value + headers of one dead letter; well under the producer's 1 MiB request limit."""
_HEADER_BUDGET = 16 * 1024


class InvalidMessage(Exception):
    """Raised for a message that no retry can fix; it goes to the dead-letter topic."""

    def __init__(self, reason: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details or []

    @classmethod
    def from_validation_error(cls, exc: ValidationError, prefix: str = "validation failed") -> InvalidMessage:
        # include_input=False: the offending values may be personal data.
        details = exc.errors(include_input=False, include_url=False, include_context=False)
        fields = ", ".join(".".join(str(p) for p in d["loc"]) or "<root>" for d in details)
        return cls(f"{prefix}: {fields}"[:1000], [dict(d) for d in details[:50]])

    @classmethod
    def rejected_by_use_case(cls, exc: Exception) -> InvalidMessage:
        """A use case refused the message's content (a domain rule, a derived value out of range)."""
        if isinstance(exc, InvalidMessage):
            return exc
        if isinstance(exc, ValidationError):
            return cls.from_validation_error(exc, prefix="refused by the use case, validation failed")
        return cls(f"refused by the use case: {type(exc).__name__}: {exc}"[:1000])

    def as_json(self) -> str:
        return json.dumps({"reason": self.reason, "errors": self.details}, default=str)


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]
    error: InvalidMessage

    @property
    def origin(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def seal(letter: DeadLetter, keys: DataKeys, subject_of: SubjectOf) -> DeadLetter:
    """The dead letter of a message that may carry personal data, sealed: its original key, value
    and headers encrypted with the data key of the subject it is about (a lead: erasing the lead
    makes this copy unreadable too), or, when the message does not say whose it is, with a key of
    its own. Runs on the store thread (it may record a new key)."""
    subject = None
    with contextlib.suppress(Exception):
        subject = subject_of(letter.value, letter.headers)
    subject = subject or uuid5(DEAD_LETTER_SUBJECTS, letter.origin)
    # One JSON line (the original key and headers), then the original value's bytes as they were.
    about = {"key": _b64(letter.key), "headers": [[name, _b64(value)] for name, value in letter.headers]}
    original = json.dumps(about).encode() + b"\n" + (letter.value or b"")
    try:
        sealed: str | None = base64.b64encode(keys.seal(subject, original)).decode()
    except SubjectErased:
        sealed = None  # the subject was erased already: nothing of it is kept
    value = json.dumps({"sealed": sealed, "subject": str(subject)}).encode()
    return replace(letter, key=str(subject).encode(), value=value, headers=[("leadflow_sealed", str(subject).encode())])


def open_sealed(keys: DataKeys, value: bytes) -> dict[str, Any] | None:
    """A sealed dead letter's original key, value and headers (base64), or None once erased."""
    letter = json.loads(value)
    if not letter.get("sealed"):
        return None
    plain = keys.open(UUID(letter["subject"]), base64.b64decode(letter["sealed"]))
    if plain is None:
        return None
    about, _, value = plain.partition(b"\n")
    return {"subject": letter["subject"], **json.loads(about), "value": base64.b64encode(value).decode()}


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


Send = Callable[..., Awaitable[Any]]
"""`(value, topic, key=..., headers=...)` → awaitable: a FastStream publisher's publish."""
Sealer = Callable[[DeadLetter], Awaitable[DeadLetter]]
"""A dead letter → the same, sealed (the consumer's, on the store thread)."""


class DeadLetterPublisher:
    """Publishes dead letters of one consumer group, truncating what would not fit."""

    def __init__(self, send: Send, *, consumer_group: str, max_bytes: int = DEFAULT_MAX_DEAD_LETTER_BYTES) -> None:
        self._send = send
        self._group = consumer_group
        self.max_bytes = max_bytes
        self.published = 0

    def message(self, letter: DeadLetter, room: int | None = None) -> tuple[bytes | None, dict[str, str]]:
        """(value, headers) of the dead letter as it will be published (the value cut to fit
        `room` bytes, the publisher's limit by default)."""
        room = self.max_bytes if room is None else room
        value = letter.value
        original = [(k, v) for k, v in letter.headers if v is not None]
        headers: dict[str, str] = {}
        header_bytes = 0
        for name, raw in original:
            text = raw.decode("utf-8", "replace")
            header_bytes += len(name) + len(text)
            if header_bytes > _HEADER_BUDGET:
                headers["leadflow_headers_dropped"] = "original headers over the size budget were left out"
                break
            headers[name] = text
        headers.update(
            {
                "leadflow_error": letter.error.as_json()[:8000],
                "leadflow_origin": letter.origin,
                "leadflow_consumer_group": self._group,
            }
        )
        if value is not None and len(value) + header_bytes > room:
            headers.update(
                {
                    "leadflow_truncated": "true",
                    "leadflow_original_size": str(len(value)),
                    "leadflow_original_sha256": hashlib.sha256(value).hexdigest(),
                }
            )
            value = value[: max(0, room - _HEADER_BUDGET - 1024)]
        return value, headers

    async def publish(self, letter: DeadLetter, seal: Sealer | None = None) -> None:
        """Publish the dead letter; with `seal`, its original (cut to fit first: the sealed form is
        base64, a third larger) goes out sealed, with leadflow's own headers beside it."""
        if seal is None:
            value, headers = self.message(letter)
            await self._send(value, dead_letter_topic(letter.topic), key=letter.key, headers=headers)
        else:
            value, headers = self.message(letter, room=self.max_bytes * 3 // 4 - 1024)
            sealed = await seal(replace(letter, value=value))
            ours = {k: v for k, v in headers.items() if k.startswith("leadflow_")}
            published = {name: (raw or b"").decode() for name, raw in sealed.headers} | ours
            await self._send(sealed.value, dead_letter_topic(letter.topic), key=sealed.key, headers=published)
        self.published += 1
