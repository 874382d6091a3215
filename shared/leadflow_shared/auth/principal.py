"""The caller of a request, as its credential says."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SALES_MANAGER = "sales_manager"
    SELLER = "seller"
    INTEGRATION = "integration"
    PARTNER_ADMIN = "partner_admin"
    PARTNER_USER = "partner_user"


@dataclass(frozen=True)
class Principal:
    """A user (from a validated bearer token) or an upstream system (from an API key).

    `subject` is the token's `sub` (for a seller, their seller id) or `key:<name>` for an API
    key: what every event records as the acting user. `teams` are the teams a sales manager
    leads; `org` the partner organisation of a partner admin or user; `scopes` what an API
    key may do.
    """

    subject: str
    roles: frozenset[Role]
    kind: str = "user"
    teams: frozenset[str] = field(default_factory=frozenset)
    org: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        return self.subject

    def has(self, role: Role) -> bool:
        return role in self.roles
