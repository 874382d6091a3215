"""What upstream marketing systems send: InboundLeadV1 and its parts."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import phonenumbers
from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from .base import Contract, Identifier, LongText, ShortText

MAX_INBOUND_BYTES = 64 * 1024
"""Largest accepted inbound payload (HTTP body or Kafka message value)."""
FUTURE_LIMIT = timedelta(days=366)
"""How far ahead of now an `occurred_at` may lie (a clock off by hours is fine; a year is a typo)."""


def _printable(value: str) -> str:
    """A name is text a person can read: not blank, no NUL or other control characters."""
    if not value.strip():
        raise ValueError("is blank; leave it out instead")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("contains control characters")
    return value


def _not_a_boolean(value: Any) -> Any:
    """JSON true/false is not a number (pydantic would read it as 1/0)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Name = Annotated[ShortText, AfterValidator(_printable)]
Score = Annotated[int, Field(ge=0, le=1000), BeforeValidator(_not_a_boolean)]


class LeadType(StrEnum):
    customer_inquiry = "customer_inquiry"
    marketing_qualified = "marketing_qualified"
    sales_qualified = "sales_qualified"


class Contact(Contract):
    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    job_title: Name | None = None


class Company(Contract):
    name: Name | None = None
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
    score: Score | None = None
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
        value = _aware(value)
        if value > datetime.now(UTC) + FUTURE_LIMIT:
            raise ValueError("lies more than a year in the future")
        return value

    @model_validator(mode="after")
    def _phone_in_e164(self) -> InboundLeadV1:
        if self.contact.phone is None:
            return self
        try:
            e164 = normalise_phone(self.contact.phone, self.company.country)
        except InvalidPhone as exc:
            # The check needs company.country, so it runs on the whole lead; the error still names
            # the field (loc contact.phone), as every other field's error does.
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("phone_number", "{reason}", {"reason": exc.reason}),
                        loc=("contact", "phone"),
                        input=self.contact.phone,
                    )
                ],
            ) from None
        # Set on the model being validated, never returned as a copy: a copy returned from a model
        # validator is dropped when the model is built by calling the class (InboundLeadV1(...), as
        # intake's auto-create does), and the phone would stay as typed.
        object.__setattr__(self, "contact", self.contact.model_copy(update={"phone": e164}))
        return self


class InvalidPhone(ValueError):
    """A phone number that cannot be read; `reason` says why without repeating it."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"contact.phone {reason}")
        self.reason = reason


def normalise_phone(raw: str, country: str | None) -> str:
    """E.164 form of a phone number; a national number needs the company's country."""
    national = not raw.lstrip().startswith("+") and not country
    hint = " (give it in +<country code> form or set company.country)" if national else ""
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException as exc:
        why = str(exc.args[0] if exc.args else exc).rstrip(".")
        raise InvalidPhone(f"is not a phone number: {why[:1].lower()}{why[1:]}{hint}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(f"is not a valid number{hint}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a time zone offset")
    return value


class ContactLifecycleChangedV1(Contract):
    """An upstream CRM moved a contact to another lifecycle stage (type `contact.lifecycle-changed.v1`).

    When the stage is the one lead settings name for auto-creation, intake creates a lead
    for the contact, once.
    """

    cloudevents_type: ClassVar[str] = "contact.lifecycle-changed.v1"

    source: Identifier
    contact_id: Identifier
    lifecycle_stage: ShortText
    contact: Contact = Field(default_factory=Contact)
    company: Company = Field(default_factory=Company)
    occurred_at: datetime

    @field_validator("occurred_at")
    @classmethod
    def _must_be_timezone_aware(cls, value: datetime) -> datetime:
        return _aware(value)
