"""Bases of every contract."""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=4000)]


class Contract(BaseModel):
    """Base of every contract: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class IntegrationEvent(Contract):
    """Base of outgoing events: the aggregate id and version are the idempotency key.

    Unknown fields are ignored on read so a producer can add optional fields without
    breaking consumers that were built against the older shape (tolerant reader).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    cloudevents_type: ClassVar[str]

    aggregate_id: UUID
    version: int
    previous_version: int | None = None
    """The version of this aggregate's previous event on the same topic (0: this is its first),
    set by the relay; a consumer that has not applied it yet waits for it."""

    @property
    def subject(self) -> str:
        return str(self.aggregate_id)
