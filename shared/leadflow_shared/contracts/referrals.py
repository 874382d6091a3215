"""Partner referrals: what a sender sends on `referrals.inbound.v1` (or `POST /v1/referrals`), and
the events the referral service publishes on `referrals.events.v1` (key and subject = referral id).

The shape follows Microsoft Partner Center's referral resource. Outgoing events carry no contact
details, except `ReferralAcceptedV1`: the partner accepted the referral, and intake makes a lead of
it (the push-down), which needs the customer's profile.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import EmailStr, Field, StringConstraints, field_validator, model_validator

from .base import Contract, Identifier, IntegrationEvent, LongText, ShortText
from .inbound import MAX_INBOUND_BYTES, normalise_phone

MAX_REFERRAL_BYTES = MAX_INBOUND_BYTES
PUSHED_DOWN_SOURCE = "referral"
"""The `source` of the lead intake makes of an accepted referral (its external id: the referral id);
the referral service recognises that lead's LeadReceivedV1 by it."""
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2."""
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""ISO 4217."""
Names = Annotated[list[ShortText], Field(max_length=50)]


class Qualification(StrEnum):
    direct = "direct"
    """A customer inquiry (the Marketplace tab)."""
    marketing_qualified = "marketing_qualified"
    sales_qualified = "sales_qualified"


class ReferralType(StrEnum):
    independent = "independent"
    shared = "shared"


class ContactPreference(StrEnum):
    email = "email"
    phone = "phone"
    none = "none"


class Address(Contract):
    address_line1: ShortText | None = None
    address_line2: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Country


class Person(Contract):
    """A customer contact or a team member."""

    first_name: ShortText | None = None
    last_name: ShortText | None = None
    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    contact_preference: ContactPreference = ContactPreference.email


class CustomerProfile(Contract):
    name: Identifier
    address: Address
    size: Annotated[str, StringConstraints(max_length=40)] | None = None
    """A size band (e.g. "1to10employees", "51to250employees")."""
    contacts: Annotated[list[Person], Field(max_length=20)] = Field(default_factory=list)
    ids: Annotated[dict[Annotated[str, StringConstraints(max_length=64)], ShortText], Field(max_length=20)] = Field(
        default_factory=dict
    )
    """The customer's ids in other systems (e.g. {"crm": "A-17"})."""

    @model_validator(mode="after")
    def _phones_in_e164(self) -> CustomerProfile:
        contacts = [
            c if c.phone is None else c.model_copy(update={"phone": normalise_phone(c.phone, self.address.country)})
            for c in self.contacts
        ]
        return self.model_copy(update={"contacts": contacts})


class Consent(Contract):
    share_information: bool = False
    """The customer agreed that their information is shared with the partner."""
    be_contacted: bool = False


class Money(Contract):
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
    currency: Currency


class Requirements(Contract):
    industries: Names = Field(default_factory=list)
    products: Names = Field(default_factory=list)
    services: Names = Field(default_factory=list)
    solutions: Names = Field(default_factory=list)


class ReferralDetails(Contract):
    notes: LongText | None = None
    deal_value: Money | None = None
    closing_date: date | None = None
    requirements: Requirements = Field(default_factory=Requirements)


class InviteContext(Contract):
    notes: LongText | None = None
    invited_by: ShortText | None = None


class InboundReferralV1(Contract):
    """A referral as its sender sends it. One referral per (`sender`, `external_reference_id`):
    sending it again changes nothing."""

    cloudevents_type: ClassVar[str] = "referral.inbound.v1"

    sender: Identifier
    external_reference_id: Identifier
    engagement_id: Identifier | None = None
    name: Identifier
    type: ReferralType = ReferralType.independent
    qualification: Qualification = Qualification.direct
    target_org: Identifier
    """The partner organisation the referral is for (its tenant)."""
    customer: CustomerProfile
    consent: Consent = Field(default_factory=Consent)
    details: ReferralDetails = Field(default_factory=ReferralDetails)
    team: Annotated[list[Person], Field(max_length=20)] = Field(default_factory=list)
    """The sender's team members on this referral."""
    invite: InviteContext = Field(default_factory=InviteContext)
    contact_requested: bool = False
    """The customer asked to be contacted ("contact me"): urgent for 72 hours."""
    occurred_at: datetime

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone offset")
        return value


# -- what the referral service publishes ----------------------------------------------------------


class ReferralEventV1(IntegrationEvent):
    """Every referral event names the referral, its partner organisation and its sender."""

    referral_id: UUID
    target_org: str
    sender: str
    external_reference_id: str
    status: str
    substatus: str
    occurred_at: datetime


class ReferralReceivedV1(ReferralEventV1):
    cloudevents_type: ClassVar[str] = "referral.received.v1"

    qualification: Qualification
    type: ReferralType
    expires_at: datetime
    contact_requested: bool


class ReferralAcceptedV1(ReferralEventV1):
    """The partner accepted: intake makes a lead of it (key: the referral id), linked both ways."""

    cloudevents_type: ClassVar[str] = "referral.accepted.v1"

    qualification: Qualification
    deal_name: str
    deal_value: Money
    closing_date: date
    crm_id: str | None = None
    campaign_id: str | None = None
    customer: CustomerProfile
    """Personal data: the push-down needs the customer's contacts."""
    contact_requested: bool = False
    actor: str


class ReferralDeclinedV1(ReferralEventV1):
    """The partner declined: the sender is notified."""

    cloudevents_type: ClassVar[str] = "referral.declined.v1"

    reason: str
    reason_label: str
    has_notes: bool = False
    actor: str


class ReferralUpdatedV1(ReferralEventV1):
    """Deal details changed while accepted (`changed`: the names of the changed fields; free-text
    notes are not repeated)."""

    cloudevents_type: ClassVar[str] = "referral.updated.v1"

    changed: list[str]
    deal_name: str | None = None
    deal_value: Money | None = None
    closing_date: date | None = None
    crm_id: str | None = None
    campaign_id: str | None = None
    actor: str


class ReferralTeamMemberAddedV1(ReferralEventV1):
    cloudevents_type: ClassVar[str] = "referral.team-member-added.v1"

    team_size: int
    actor: str


class ReferralWonV1(ReferralEventV1):
    cloudevents_type: ClassVar[str] = "referral.won.v1"

    actor: str


class ReferralLostV1(ReferralEventV1):
    cloudevents_type: ClassVar[str] = "referral.lost.v1"

    reason: str
    actor: str


class ReferralExpiredV1(ReferralEventV1):
    """Nobody answered in time: the sender is notified."""

    cloudevents_type: ClassVar[str] = "referral.expired.v1"

    expires_at: datetime


class ReferralContactFlagChangedV1(ReferralEventV1):
    """The "contact me" flag changed: `urgent` false = still active, no longer urgent (72 hours)."""

    cloudevents_type: ClassVar[str] = "referral.contact-flag-changed.v1"

    urgent: bool


REFERRAL_EVENTS: tuple[type[ReferralEventV1], ...] = (
    ReferralReceivedV1,
    ReferralAcceptedV1,
    ReferralDeclinedV1,
    ReferralUpdatedV1,
    ReferralTeamMemberAddedV1,
    ReferralWonV1,
    ReferralLostV1,
    ReferralExpiredV1,
    ReferralContactFlagChangedV1,
)
