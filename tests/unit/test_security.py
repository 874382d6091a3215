"""Who may call (issue 9): every route needs a credential, tokens are checked properly, API
keys work and are stored hashed, and each operation answers each kind of caller as the policy
says — own objects, other people's objects (404, never 403, so ids cannot be probed), and
roles that may not (403)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from assignment_scenario import Scenario
from auth_helpers import authenticator, token
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from intake_world import lead_list_of
from referral_world import referral_list_of
from sequence_world import SequenceWorld

from assignment.entrypoints.api import create_api as assignment_api
from intake.application import IntakeApplication
from intake.entrypoints.api import create_api as intake_api
from leadflow_shared.auth.apikeys import API_KEYS_ID
from leadflow_shared.auth.devissuer import DEV_AUDIENCE, DEV_ISSUER, ensure_keys
from leadflow_shared.auth.http import PUBLIC_PATHS, route_permission
from leadflow_shared.store import StoreWorker
from referral.application import ReferralApplication
from referral.entrypoints.api import create_api as referral_api

pytestmark = pytest.mark.unit
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


# -- every route of every service needs a credential ----------------------------------------


@pytest.fixture
def services() -> AsyncIterator[dict[str, FastAPI]]:
    worker = StoreWorker("security-test")
    intake = IntakeApplication(env=POPO)
    scenario = Scenario()
    sequence, referral = SequenceWorld(), ReferralApplication(env=POPO)
    yield {
        "intake": intake_api(intake, worker, {}, lead_list_of(intake), authenticator(intake, worker)),
        "assignment": assignment_api(
            scenario.app, worker, {}, scenario.read_model, authenticator(scenario.app, worker)
        ),
        "sequence": sequence.api,
        "referral": referral_api(referral, worker, {}, referral_list_of(referral), authenticator(referral, worker)),
    }
    worker.shutdown()


def operations(api: FastAPI) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in api.openapi()["paths"].items()
        for method in item
        if path not in PUBLIC_PATHS
    ]


def concrete(path: str) -> str:
    return path.replace("{lead_id}", str(uuid.uuid4())).replace("{version}", "1").format_map(_Anything())


class _Anything(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "x"


@pytest.mark.parametrize("service", ["intake", "assignment", "sequence", "referral"])
async def test_no_operation_answers_a_caller_without_credentials(services: dict[str, FastAPI], service: str) -> None:
    api = services[service]
    found = operations(api)
    assert ("GET", "/v1/api-keys") in found  # every service manages its own keys
    anonymous, bad = [], []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://s") as http:
        for method, path in found:
            response = await http.request(method, concrete(path), json={})
            if response.status_code != 401 or not response.headers.get("www-authenticate", "").startswith("Bearer"):
                anonymous.append((method, path, response.status_code))
            forged = await http.request(method, concrete(path), json={}, headers={"Authorization": "Bearer x.y.z"})
            if forged.status_code != 401 or 'error="invalid_token"' not in forged.headers["www-authenticate"]:
                bad.append((method, path, forged.status_code))
        for probe in ("/healthz", "/docs", "/openapi.json"):
            assert (await http.get(probe)).status_code == 200
    assert anonymous == [] and bad == []
    # and each names the permission it needs (the policy's table), so none is open by accident
    routes = [r for r in api.routes if isinstance(r, APIRoute) and r.path not in PUBLIC_PATHS]
    assert [r.path for r in routes if route_permission(r) is None] == []


# -- tokens ---------------------------------------------------------------------------------


async def test_a_token_is_only_taken_when_signature_issuer_audience_and_expiry_hold(tmp_path: Path) -> None:
    app, worker = IntakeApplication(env=POPO), StoreWorker("tokens")
    api = intake_api(app, worker, {}, lead_list_of(app), authenticator(app, worker, run_dir=tmp_path))
    own_key = __import__("cryptography.hazmat.primitives.serialization", fromlist=["x"])
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = json.loads(ensure_keys(tmp_path).read_text())["keys"][0]["kid"]
    now = int(time.time())
    claims = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "ana", "exp": now + 60, "roles": ["admin"]}
    private = own_key.load_pem_private_key((tmp_path / "auth" / "dev-issuer.pem").read_bytes(), password=None)

    def signed(key: Any = private, **changes: Any) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm="RS256", headers={"kid": kid})

    cases = {
        "good": (signed(), 200),
        "expired": (signed(exp=now - 120), 401),
        "another issuer": (signed(iss="https://evil.example"), 401),
        "another audience": (signed(aud="someone-else"), 401),
        "no subject": (
            jwt.encode({k: v for k, v in claims.items() if k != "sub"}, private, "RS256", {"kid": kid}),
            401,
        ),
        "a stranger's key": (signed(stranger), 401),
        "a shared secret": (jwt.encode(claims, "secret-secret-secret-secret-1234", "HS256", {"kid": kid}), 401),
        "unsigned": (jwt.encode(claims, None, "none", {"kid": kid}), 401),
        "another issuer's test key": (token("admin"), 401),  # the other test issuer's key pair
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://intake") as http:
        for name, (presented, expected) in cases.items():
            response = await http.get("/v1/settings/leads", headers={"Authorization": f"Bearer {presented}"})
            assert response.status_code == expected, (name, response.text)
            if expected == 401:
                assert presented not in response.text and "invalid_token" in response.headers["www-authenticate"]
        # key rotation: the issuer publishes a second key; tokens signed with it are taken at once
        rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks_file = tmp_path / "auth" / "jwks.json"
        document = json.loads(jwks_file.read_text())
        new = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rotated.public_key()))
        document["keys"].append({**new, "kid": "rotated-1", "use": "sig", "alg": "RS256"})
        jwks_file.write_text(json.dumps(document))
        time.sleep(1.1)  # the key file is read again at most once a second
        fresh = jwt.encode(claims, rotated, algorithm="RS256", headers={"kid": "rotated-1"})
        assert (await http.get("/v1/settings/leads", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200
        assert (await http.get("/v1/settings/leads", headers={"Authorization": "Basic YTpi"})).status_code == 401
    worker.shutdown()


# -- API keys -------------------------------------------------------------------------------


async def test_an_api_key_is_shown_once_stored_hashed_scoped_and_revocable() -> None:
    app, worker = IntakeApplication(env=POPO), StoreWorker("keys")
    api = intake_api(app, worker, {}, lead_list_of(app), authenticator(app, worker))
    admin = {"Authorization": f"Bearer {token('admin', sub='ada')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://intake") as http:
        created = await http.post("/v1/api-keys", json={"name": "web forms", "scopes": ["leads:write"]}, headers=admin)
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        assert key.startswith("lfk_") and created.json()["created_by"] == "ada"
        listed = (await http.get("/v1/api-keys", headers=admin)).json()
        assert "key" not in listed[0] and key not in json.dumps(listed) and listed[0]["scopes"] == ["leads:write"]
        stored = b"".join(bytes(e.state) for e in app.recorder.select_events(API_KEYS_ID))
        assert key.split(".")[1].encode() not in stored  # only the digest is stored

        lead = {"source": "web-form", "external_id": "k-1", "occurred_at": "2026-11-01T10:00:00Z"}
        posted = await http.post("/v1/leads", json=lead, headers={"X-API-Key": key, "X-Actor": "mallory"})
        assert posted.status_code == 201, posted.text
        lead_id = posted.json()["lead"]["lead_id"]
        assert (await http.get(f"/v1/leads/{lead_id}", headers={"X-API-Key": key})).status_code == 403
        assert (await http.get("/v1/settings/leads", headers={"X-API-Key": key})).status_code == 403
        for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), "lfk_nope", key.replace("lfk_", "lfk_0")):
            refused = await http.post("/v1/leads", json=lead, headers={"X-API-Key": wrong})
            assert refused.status_code == 401 and wrong not in refused.text

        seller = {"Authorization": f"Bearer {token('seller', sub='sam')}"}
        assert (
            await http.post("/v1/api-keys", json={"name": "x", "scopes": ["leads:write"]}, headers=seller)
        ).status_code == 403
        unknown_scope = await http.post("/v1/api-keys", json={"name": "x", "scopes": ["everything"]}, headers=admin)
        assert unknown_scope.status_code == 422
        key_id = listed[0]["key_id"]
        assert (await http.delete(f"/v1/api-keys/{key_id}", headers=admin)).status_code == 204
        assert (await http.post("/v1/leads", json=lead, headers={"X-API-Key": key})).status_code == 401
        assert (await http.get("/v1/api-keys", headers=admin)).json()[0]["revoked_at"] is not None
    worker.shutdown()
    events = [type(e).__name__ for e in app.events.get(uuid.UUID(lead_id))]
    assert events[0] == "Received"


async def test_the_acting_user_comes_from_the_token_never_from_a_header() -> None:
    app, worker = IntakeApplication(env=POPO), StoreWorker("actor")
    api = intake_api(app, worker, {}, lead_list_of(app), authenticator(app, worker))
    headers = {"Authorization": f"Bearer {token('admin', sub='ada')}", "X-Actor": "mallory"}
    lead = {"source": "s", "external_id": "a-1", "occurred_at": "2026-11-01T10:00:00Z"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://intake") as http:
        lead_id = (await http.post("/v1/leads", json=lead, headers=headers)).json()["lead"]["lead_id"]
        await http.post(f"/v1/leads/{lead_id}/follow-ups", json={"note": "called"}, headers=headers)
        await http.post(f"/v1/leads/{lead_id}/void", json={}, headers=headers)
        history = (await http.get(f"/v1/leads/{lead_id}/events", headers=headers)).json()
    worker.shutdown()
    actors = [e["actor"] for e in history if e.get("actor")]
    assert actors == ["ada", "ada", "ada"], history  # posted, followed up, voided: each by ada
