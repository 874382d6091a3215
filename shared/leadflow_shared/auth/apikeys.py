"""API keys for upstream systems (marketing automation, web forms, partner programs).

A key is shown once, when an admin creates it: `lfk_<key id>.<secret>`. The service stores only
the SHA-256 of the secret (a 256-bit random value needs no slow hash), with the key's name and
scopes, in an `ApiKeys` aggregate of its own event store; a presented key is compared in
constant time. Revoking a key is an event too, so who created or revoked which key, and when,
stays in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .policy import SCOPES
from .principal import Principal, Role

API_KEYS_ID = uuid5(NAMESPACE_URL, "leadflow:api-keys")
PREFIX = "lfk_"
_PRESENTED = re.compile(r"^lfk_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")


class InvalidApiKey(Exception):
    pass


class ApiKeyNotFound(LookupError):
    pass


class InvalidScopes(ValueError):
    pass


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeys(Aggregate):
    """Every API key of one service: name, scopes, the secret's digest, created / revoked."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return API_KEYS_ID

    @event("Opened")
    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}

    def create(self, name: str, scopes: Iterable[str], by: str, at: datetime) -> tuple[str, str]:
        """A new key: returns (key id, the key as shown once)."""
        wanted = sorted(set(scopes))
        unknown = [s for s in wanted if s not in SCOPES]
        if unknown or not wanted:
            raise InvalidScopes(f"scopes are one or more of {', '.join(sorted(SCOPES))}; not {unknown or 'none'}")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        self._created(key_id, name, wanted, digest(secret), by, at)
        return key_id, f"{PREFIX}{key_id}.{secret}"

    @event("KeyCreated")
    def _created(self, key_id: str, name: str, scopes: list[str], secret_digest: str, by: str, at: datetime) -> None:
        self.keys[key_id] = {
            "name": name,
            "scopes": scopes,
            "digest": secret_digest,
            "created_by": by,
            "created_at": at,
            "revoked_at": None,
        }

    def revoke(self, key_id: str, by: str, at: datetime) -> None:
        if key_id not in self.keys:
            raise ApiKeyNotFound(f"no API key {key_id}")
        if self.keys[key_id]["revoked_at"] is None:
            self._revoked(key_id, by, at)

    @event("KeyRevoked")
    def _revoked(self, key_id: str, by: str, at: datetime) -> None:
        self.keys[key_id].update(revoked_at=at, revoked_by=by)


def view(key_id: str, key: dict[str, Any]) -> dict[str, Any]:
    """A key as listed: never its digest."""
    return {
        "key_id": key_id,
        "name": key["name"],
        "scopes": key["scopes"],
        "created_by": key["created_by"],
        "created_at": key["created_at"].isoformat(),
        "revoked_at": key["revoked_at"].isoformat() if key["revoked_at"] else None,
    }


class ApiKeyChecker:
    """Checks presented keys against the store's keys, read again at most every `refresh_seconds`
    (a key revoked by another replica stops working within that time; by this one, at once).
    Only `refresh` reads the store; `check` compares against what was read."""

    def __init__(self, load: Callable[[], ApiKeys | None], *, refresh_seconds: float = 5.0) -> None:
        self._load = load
        self._refresh = refresh_seconds
        self._keys: dict[str, dict[str, Any]] = {}
        self._read_at = float("-inf")

    def invalidate(self) -> None:
        self._read_at = float("-inf")

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._read_at > self._refresh

    def refresh(self) -> None:
        book = self._load()
        self._keys = dict(book.keys) if book is not None else {}
        self._read_at = time.monotonic()

    def check(self, presented: str) -> Principal:
        match = _PRESENTED.match(presented)
        if match is None:
            raise InvalidApiKey("the API key is malformed")
        key_id, secret = match.groups()
        key = self._keys.get(key_id)
        expected = key["digest"] if key is not None else digest("")
        same = hmac.compare_digest(expected, digest(secret))
        if key is None or not same or key["revoked_at"] is not None:
            raise InvalidApiKey("the API key is not valid (unknown, wrong or revoked)")
        return Principal(
            subject=f"key:{key['name']}",
            roles=frozenset({Role.INTEGRATION}),
            kind="api_key",
            scopes=frozenset(key["scopes"]),
        )
