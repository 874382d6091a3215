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


class LinkedDocuments(IllegalTransition):
    """Delete refused although the status allows it: quotes or orders are linked (HTTP 409)."""

    def __init__(self, status: str, allowed: list[str], documents: list[dict[str, str]]) -> None:
        super().__init__("delete", status, allowed)
        listed = ", ".join(f"{d['kind']} {d['number']}" for d in documents)
        self.args = (f"lead has linked documents ({listed}); unlink them first",)
        self.documents = [dict(d) for d in documents]


class DuplicateCustomerPhone(LeadError):
    """Conversion refused: a customer with the same normalised phone exists."""

    def __init__(self, customer_id: UUID, customer_name: str | None) -> None:
        who = f"{customer_name} ({customer_id})" if customer_name else f"{customer_id} (no name on record)"
        super().__init__(f"a customer with the same phone already exists: {who}; link to it instead")
        self.customer_id = customer_id
        self.customer_name = customer_name


class DocumentAlreadyLinked(LeadError):
    """The lead already has a quote or order with this number (HTTP 409)."""

    def __init__(self, kind: str, number: str) -> None:
        super().__init__(f"{kind} {number} is already linked to this lead")
        self.kind = kind
        self.number = number


class DocumentNotLinked(LeadError):
    """No quote or order with this number is linked to the lead (HTTP 404)."""

    def __init__(self, number: str) -> None:
        super().__init__(f"no quote or order {number} is linked to this lead")
        self.number = number


class SettingRequirement(LeadError):
    """A lead setting requires something the request did not give (HTTP 422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SettingConflict(LeadError):
    """A settings change conflicts with the current settings or data (HTTP 409)."""


class AlreadyDone(LeadError):
    """The lead is already qualified (or disqualified): doing it again would overwrite who did it (HTTP 409)."""

    def __init__(self, outcome: str, by: str | None) -> None:
        super().__init__(f"the lead is already {outcome}" + (f" (by {by})" if by else "") + "; reopen it first")
        self.outcome = outcome
        self.by = by
