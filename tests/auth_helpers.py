"""Credentials for tests: tokens from a development issuer of the test run's own, and an
authenticator for APIs built in-process."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from leadflow_shared.auth.apikeys import ApiKeyChecker
from leadflow_shared.auth.devissuer import DEV_AUDIENCE, DEV_ISSUER, ensure_keys, issue
from leadflow_shared.auth.http import Authenticator
from leadflow_shared.auth.setup import load_api_keys
from leadflow_shared.auth.tokens import FileJwks, TokenVerifier
from leadflow_shared.store import ServiceApplication, StoreWorker


@cache
def keys_dir() -> Path:
    """One key pair for every in-process API of the test run."""
    folder = Path(tempfile.mkdtemp(prefix="leadflow-test-issuer-"))
    ensure_keys(folder)
    return folder


def token(role: str = "admin", sub: str | None = None, run_dir: Path | None = None, **claims: Any) -> str:
    return issue(run_dir or keys_dir(), subject=sub or f"test-{role}", roles=[role] if role else [], **claims)


def bearer(role: str = "admin", sub: str | None = None, run_dir: Path | None = None, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, sub, run_dir, **claims)}"}


def authenticator(app: ServiceApplication, worker: StoreWorker, run_dir: Path | None = None) -> Authenticator:
    verifier = TokenVerifier(FileJwks(ensure_keys(run_dir or keys_dir())), issuer=DEV_ISSUER, audience=DEV_AUDIENCE)
    return Authenticator(verifier, ApiKeyChecker(lambda: load_api_keys(app)), run=worker.call)
