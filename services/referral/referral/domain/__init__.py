"""referral's aggregates. Pure: standard library and eventsourcing.domain only."""

from .referral import (
    ACTIONS,
    ALLOWED,
    CONTACT_FLAG,
    EDITABLE,
    EXPIRY,
    ActionNotAllowed,
    MissingDetails,
    Referral,
    ReferralError,
    referral_id_for,
)

__all__ = [
    "ACTIONS",
    "ALLOWED",
    "CONTACT_FLAG",
    "EDITABLE",
    "EXPIRY",
    "ActionNotAllowed",
    "MissingDetails",
    "Referral",
    "ReferralError",
    "referral_id_for",
]
