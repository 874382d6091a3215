"""Integration-event contracts: frozen, versioned pydantic v2 models.

A breaking change is a new model (``...V2``), never an edit of an existing one. Every
outgoing event carries its aggregate id and version, the consumers' idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

MAX_INBOUND_BYTES = 64 * 1024
"""Largest accepted inbound payload (HTTP body or Kafka message value)."""

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=4000)]


class Contract(BaseModel):
    """Base of every contract: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LeadType(StrEnum):
    customer_inquiry = "customer_inquiry"
    marketing_qualified = "marketing_qualified"
    sales_qualified = "sales_qualified"


class Contact(Contract):
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    job_title: ShortText | None = None


class Company(Contract):
    name: ShortText | None = None
    size_band: Annotated[str, StringConstraints(max_length=40)] | None = None
    industry: ShortText | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    region: ShortText | None = None
    city: ShortText | None = None


class InboundLeadV1(Contract):
    """A lead as an upstream marketing system sends it (Kafka `leads.inbound.v1` or HTTP)."""

    cloudevents_type: ClassVar[str] = "lead.inbound.v1"

    source: Identifier
    external_id: Identifier
    type: LeadType = LeadType.customer_inquiry
    contact: Contact = Field(default_factory=Contact)
    company: Company = Field(default_factory=Company)
    score: Annotated[int, Field(ge=0, le=1000)] | None = None
    lifecycle_stage: ShortText | None = None
    campaign_id: ShortText | None = None
    product_interest: ShortText | None = None
    notes: LongText | None = None
    contact_requested: bool = False
    consent: bool | None = None
    occurred_at: datetime
    attributes: dict[Annotated[str, StringConstraints(max_length=64)], ShortText] = Field(
        default_factory=dict, max_length=50
    )

    @field_validator("occurred_at")
    @classmethod
    def _must_be_timezone_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone offset")
        return value


class IntegrationEvent(Contract):
    """Base of outgoing events: the aggregate id and version are the idempotency key."""

    cloudevents_type: ClassVar[str]

    aggregate_id: UUID
    version: int

    @property
    def subject(self) -> str:
        return str(self.aggregate_id)


class LeadReceivedV1(IntegrationEvent):
    """intake recorded a new lead (topic `leads.events.v1`)."""

    cloudevents_type: ClassVar[str] = "lead.received.v1"

    lead_id: UUID
    source: str
    external_id: str
    type: LeadType
    contact: Contact
    company: Company
    score: int | None = None
    campaign_id: str | None = None
    occurred_at: datetime
    received_at: datetime


class LeadAssignedV1(IntegrationEvent):
    """assignment decided who owns a lead (topic `assignments.events.v1`)."""

    cloudevents_type: ClassVar[str] = "lead.assigned.v1"

    lead_id: UUID
    seller_id: str
    method: str
    decided_at: datetime
    source: str | None = None
    external_id: str | None = None


INTEGRATION_EVENTS: dict[str, type[IntegrationEvent]] = {
    model.cloudevents_type: model for model in (LeadReceivedV1, LeadAssignedV1)
}
"""CloudEvents type → contract model, for consumers decoding a topic."""

ALL_CONTRACTS: tuple[type[BaseModel], ...] = (InboundLeadV1, *INTEGRATION_EVENTS.values())


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every contract, keyed by model name (see `make schemas`)."""
    return {model.__name__: model.model_json_schema() for model in ALL_CONTRACTS}
