"""Bearer tokens: OAuth 2.0 access tokens (JWT) validated against the identity provider's JWKS.

Signature, issuer, audience, expiry and subject are checked by PyJWT; keys come from the
provider's JWKS document, cached and fetched again when a token names a key id the cache does
not hold (key rotation). Any standard OIDC provider works by settings (issuer, audience, JWKS
address, the claim that holds roles); the embedded mode reads the development issuer's JWKS
file (`devissuer`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import jwt

from .principal import Principal, Role

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
"""Asymmetric algorithms only: a token signed with a shared secret (or `none`) is refused."""


class InvalidToken(Exception):
    """The bearer token cannot be trusted; the message says why (never the token)."""


class KeySource(Protocol):
    def signing_key(self, token: str) -> Any: ...


class RemoteJwks:
    """The provider's JWKS over HTTPS, cached; an unknown key id fetches it again."""

    def __init__(self, url: str, *, lifespan_seconds: float = 300, timeout_seconds: float = 5) -> None:
        self._client = jwt.PyJWKClient(
            url, cache_keys=True, lifespan=int(lifespan_seconds), timeout=int(timeout_seconds)
        )

    def signing_key(self, token: str) -> Any:
        return self._client.get_signing_key_from_jwt(token).key


class FileJwks:
    """A JWKS document in a file (the embedded development issuer's), read again when a token
    names a key id it does not hold (at most once a second)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keys: dict[str, Any] = {}
        self._read_at = 0.0
        self._lock = threading.Lock()

    def signing_key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._read_at > 1.0:
                self._read()
            if kid not in self._keys:
                raise InvalidToken("the token's signing key is not one of the issuer's keys")
            return self._keys[kid]

    def _read(self) -> None:
        self._read_at = time.monotonic()
        try:
            document = json.loads(self._path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidToken(f"the issuer's keys cannot be read ({type(exc).__name__})") from None
        self._keys = {k.key_id: k.key for k in jwt.PyJWKSet.from_dict(document).keys if k.key_id}


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        roles_claim: str = "roles",
        leeway_seconds: float = 30,
    ) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self._roles_claim = roles_claim
        self._leeway = leeway_seconds

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key=self._keys.signing_key(token),
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.PyJWKClientError as exc:
            raise InvalidToken(f"the issuer's keys cannot be used ({exc})") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"the token is not valid ({exc})") from None
        return principal_from_claims(claims, self._roles_claim)


def principal_from_claims(claims: Mapping[str, Any], roles_claim: str = "roles") -> Principal:
    raw_roles: Any = claims
    for part in roles_claim.split("."):  # e.g. Keycloak's "realm_access.roles"
        raw_roles = raw_roles.get(part) if isinstance(raw_roles, Mapping) else None
    known = {r.value for r in Role}
    roles = frozenset(Role(r) for r in (raw_roles or []) if isinstance(r, str) and r in known)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 200:
        raise InvalidToken("the token's subject is missing or not a short text")
    teams = claims.get("teams") or []
    org = claims.get("org")
    return Principal(
        subject=subject,
        roles=roles - {Role.INTEGRATION},  # integrations are API keys, never users
        teams=frozenset(t for t in teams if isinstance(t, str)) if isinstance(teams, list) else frozenset(),
        org=org if isinstance(org, str) else None,
    )
