"""The embedded mode's development issuer: an RSA key pair under the run folder, its JWKS for
the services, and `issue()` for `make token`. Never used in production mode."""

from __future__ import annotations

import json
import os
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEV_ISSUER = "http://leadflow.local/dev-issuer"
DEV_AUDIENCE = "leadflow"


def keys_dir(run_dir: Path) -> Path:
    return run_dir / "auth"


def jwks_path(run_dir: Path) -> Path:
    return keys_dir(run_dir) / "jwks.json"


def ensure_keys(run_dir: Path) -> Path:
    """Create the key pair once (safe when several services start at the same time); return the
    JWKS file's path."""
    folder = keys_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public = folder / "dev-issuer.pem", jwks_path(run_dir)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(100):  # another process is writing them
            if public.exists():
                return public
            time.sleep(0.05)
        raise RuntimeError(f"{public} did not appear; remove {folder} and start again") from None
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=uuid.uuid4().hex[:16], use="sig", alg="RS256")
    temporary = public.with_suffix(".tmp")
    temporary.write_text(json.dumps({"keys": [jwk]}, indent=2))
    temporary.replace(public)
    return public


@lru_cache(maxsize=16)
def _signing_key(pem: Path, _modified: int) -> tuple[Any, str]:
    key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    kid = json.loads((pem.parent / "jwks.json").read_text())["keys"][0]["kid"]
    return key, kid


def issue(
    run_dir: Path,
    *,
    subject: str,
    roles: list[str],
    teams: list[str] | None = None,
    org: str | None = None,
    lifetime_seconds: int = 8 * 3600,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
) -> str:
    """A bearer token signed by the development issuer."""
    ensure_keys(run_dir)
    pem = keys_dir(run_dir) / "dev-issuer.pem"
    key, kid = _signing_key(pem, pem.stat().st_mtime_ns)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "exp": now + lifetime_seconds,
        "roles": roles,
    }
    if teams:
        claims["teams"] = teams
    if org:
        claims["org"] = org
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})  # type: ignore[arg-type]
