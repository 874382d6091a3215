# ruff: noqa: E501  (the matrix reads best one operation per line)
"""The referral service's tenant matrix: every endpoint, asked by each kind of caller, about their
own organisation's referral and about another's. The answers are the table below (docs/referral.md
shows the same matrix).

Callers, in the order of each row's answers:
  admin   a platform admin (every organisation)
  padm    a referrals admin (partner_admin) of `fabrikam`, the referral's organisation
  puser   a referral user (partner_user) of `fabrikam`
  oadm    a referrals admin of `northwind` (another partner)
  ouser   a referral user of `northwind`
  key     an API key with scope `referrals:write` (a sender)
  seller  a seller (no referral role)
  none    a valid token without any role

Each answer comes from a world of its own: {new} is fabrikam's referral just received, {accepted}
one fabrikam accepted. Another partner's answer is 404 (never 403: nothing is said about it); a
409 is the referral's own rules once the caller may act on it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from auth_helpers import token
from referral_world import DEAL, ReferralWorld, inbound

from leadflow_shared.auth.http import PUBLIC_PATHS, create_api_key

pytestmark = pytest.mark.unit
CALLERS = ("admin", "padm", "puser", "oadm", "ouser", "key", "seller", "none")
PATCH = [{"op": "replace", "path": "/deal_name", "value": "Phase 2"}]
MEMBER = {"first_name": "Tom", "last_name": "Rye"}
REASONS = {"reasons": [{"id": "busy", "label": "Busy"}]}
S = "/v1/settings/referrals/decline-reasons"

MATRIX = [
    ("POST", "/v1/referrals", "inbound", "201 403 403 403 403 201 403 403"),
    ("GET", "/v1/referrals", None, "200 200 200 200 200 403 403 403"),
    ("GET", "/v1/referrals/metrics", None, "200 200 200 200 200 403 403 403"),
    ("GET", "/v1/referrals/{new}", None, "200 200 200 404 404 403 403 403"),
    ("GET", "/v1/referrals/{new}/events", None, "200 200 200 404 404 403 403 403"),
    ("POST", "/v1/referrals/{new}/accept", DEAL, "200 200 200 404 404 403 403 403"),
    ("POST", "/v1/referrals/{new}/decline", {"reason": "no_capacity"}, "200 200 200 404 404 403 403 403"),
    ("POST", "/v1/referrals/{new}/won", None, "409 409 409 404 404 403 403 403"),
    ("PATCH", "/v1/referrals/{accepted}", PATCH, "200 200 200 404 404 403 403 403"),
    ("POST", "/v1/referrals/{accepted}/team-members", MEMBER, "201 201 403 404 403 403 403 403"),
    ("POST", "/v1/referrals/{accepted}/won", None, "200 200 200 404 404 403 403 403"),
    ("POST", "/v1/referrals/{accepted}/lost", {"reason": "budget"}, "200 200 200 404 404 403 403 403"),
    ("PUT", "/v1/referrals/{new}/favorite", None, "200 200 200 404 404 403 403 403"),
    ("DELETE", "/v1/referrals/{new}/favorite", None, "200 200 200 404 404 403 403 403"),
    ("GET", S + "?org=fabrikam", None, "200 200 200 404 404 403 403 403"),
    ("PUT", S + "?org=fabrikam", REASONS, "200 200 403 404 403 403 403 403"),
    ("POST", S + "?org=fabrikam", {"id": "busy", "label": "Busy"}, "201 201 403 404 403 403 403 403"),
    ("DELETE", S + "/other?org=fabrikam", None, "200 200 403 404 403 403 403 403"),
    ("GET", "/v1/api-keys", None, "200 403 403 403 403 403 403 403"),
    ("POST", "/v1/api-keys", {"name": "partner-feed", "scopes": ["referrals:write"]}, "201 403 403 403 403 403 403 403"),
    ("DELETE", "/v1/api-keys/nokey", None, "404 403 403 403 403 403 403 403"),
]  # fmt: skip


def headers_of(caller: str, key: str) -> dict[str, str]:
    def bearer(role: str, sub: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, sub=sub, **claims)}"}

    return {
        "admin": bearer("admin", "ada"),
        "padm": bearer("partner_admin", "pia", org="fabrikam"),
        "puser": bearer("partner_user", "pat", org="fabrikam"),
        "oadm": bearer("partner_admin", "oda", org="northwind"),
        "ouser": bearer("partner_user", "ole", org="northwind"),
        "key": {"X-API-Key": key},
        "seller": bearer("seller", "sam"),
        "none": bearer("", "nobody"),
    }[caller]


async def answer(method: str, path: str, body: Any, caller: str) -> int:
    world = ReferralWorld()
    try:
        _, key = world.app.execute(create_api_key, "msft-feed", ["referrals:write"], "test")
        new = (await world.receive("r-new"))["referral_id"]
        accepted = (await world.receive("r-accepted"))["referral_id"]
        assert (await world.http.post(f"/v1/referrals/{accepted}/accept", json=DEAL)).status_code == 200
        path = path.replace("{new}", new).replace("{accepted}", accepted)
        headers = headers_of(caller, key)
        if method == "PATCH":
            headers["If-Match"] = "*"
        if body == "inbound":
            body = inbound("r-sent")
        return (await world.http.request(method, path, json=body, headers=headers)).status_code
    finally:
        await world.close()


@pytest.mark.parametrize(("method", "path", "body", "answers"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
async def test_matrix(method: str, path: str, body: Any, answers: str) -> None:
    got = [await answer(method, path, body, caller) for caller in CALLERS]
    expected = [int(a) for a in answers.split()]
    assert dict(zip(CALLERS, got, strict=True)) == dict(zip(CALLERS, expected, strict=True))


def test_the_matrix_names_every_operation() -> None:
    world = ReferralWorld()
    api = world.http._transport.app  # type: ignore[attr-defined]
    operations = {
        (method.upper(), path)
        for path, item in api.openapi()["paths"].items()
        for method in item
        if path not in PUBLIC_PATHS
    }
    named = {
        (method, re.sub(r"\?.*$", "", path).replace("{new}", "{referral_id}").replace("{accepted}", "{referral_id}"))
        for method, path, _, _ in MATRIX
    }
    named = {(m, p.replace("/other", "/{reason_id}").replace("/nokey", "/{key_id}")) for m, p in named}
    assert operations - named == set()
