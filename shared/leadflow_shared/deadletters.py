"""Dead letters: a message that cannot be decoded or validated is kept, not dropped."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from .cloudevents import Headers
from .topics import dead_letter_topic


class InvalidMessage(Exception):
    """Raised by a handler for a message that no retry can fix; it goes to the DLQ."""

    def __init__(self, reason: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details or []

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> InvalidMessage:
        # include_input=False: the offending values may be personal data.
        details = exc.errors(include_input=False, include_url=False, include_context=False)
        fields = ", ".join(".".join(str(p) for p in d["loc"]) or "<root>" for d in details)
        return cls(f"validation failed: {fields}", [dict(d) for d in details])

    def as_json(self) -> str:
        return json.dumps({"reason": self.reason, "errors": self.details}, default=str)


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    error: InvalidMessage


class DeadLetterPublisher:
    """Publishes to `<topic>.dlq` with the original key, bytes and headers plus the error."""

    def __init__(self, producer: AIOKafkaProducer, *, consumer_group: str) -> None:
        self._producer = producer
        self._group = consumer_group

    async def publish(self, letter: DeadLetter) -> None:
        headers = [
            *list(letter.headers),
            ("leadflow_error", letter.error.as_json().encode()),
            ("leadflow_origin", f"{letter.topic}:{letter.partition}:{letter.offset}".encode()),
            ("leadflow_consumer_group", self._group.encode()),
        ]
        await self._producer.send_and_wait(
            dead_letter_topic(letter.topic), value=letter.value, key=letter.key, headers=headers
        )
