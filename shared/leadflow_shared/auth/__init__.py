"""Who may call: identities (bearer tokens, API keys), roles and object rules — one policy,
applied the same way by every service (see docs/security.md)."""

from .policy import POLICY, Permission, allowed, lead_visible
from .principal import Principal, Role

__all__ = ["POLICY", "Permission", "Principal", "Role", "allowed", "lead_visible"]
