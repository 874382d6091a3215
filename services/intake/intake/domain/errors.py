"""Named domain errors: each says what was refused and why."""

from __future__ import annotations

from uuid import UUID


class LeadError(Exception):
    """Base of intake's domain errors."""


class IllegalTransition(LeadError):
    """The lead's current status does not allow the action."""

    def __init__(self, action: str, status: str, allowed: list[str]) -> None:
        super().__init__(f"cannot {action} a lead that is {status}; allowed: {', '.join(allowed) or 'nothing'}")
        self.action = action
        self.status = status
        self.allowed = allowed


class DuplicateCustomerPhone(LeadError):
    """Conversion refused: a customer with the same normalised phone exists."""

    def __init__(self, customer_id: UUID) -> None:
        super().__init__(f"a customer with the same phone already exists: {customer_id}; link to it instead")
        self.customer_id = customer_id


class SettingRequirement(LeadError):
    """A lead setting requires something the request did not give (HTTP 422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SettingConflict(LeadError):
    """A settings change conflicts with the current settings or data (HTTP 409)."""
