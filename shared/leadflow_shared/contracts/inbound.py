"""What upstream marketing systems send: InboundLeadV1 and its parts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import EmailStr, Field, StringConstraints, field_validator

from .base import Contract, Identifier, LongText, ShortText

MAX_INBOUND_BYTES = 64 * 1024
"""Largest accepted inbound payload (HTTP body or Kafka message value)."""


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
