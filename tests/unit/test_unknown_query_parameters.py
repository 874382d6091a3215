"""Every endpoint of every service refuses a query parameter it does not take (422 naming it):
a misspelt filter on a list must not silently return everything."""

from __future__ import annotations

import httpx
import pytest
from test_schemathesis import ADMIN, APIS

pytestmark = pytest.mark.unit

CASES = [
    ("intake", "/v1/leads", {"tab": "all"}, {"stauts": "assigned"}),
    ("intake", "/v1/settings/leads", {}, {"verbose": "1"}),
    ("assignment", "/v1/sellers", {}, {"activ": "true"}),
    ("assignment", "/v1/queue", {}, {"team": "emea"}),
    ("assignment", "/v1/rulesets", {}, {"status": "draft"}),
    ("assignment", "/v1/revenue/models", {}, {"status": "approved"}),
    ("sequence", "/v1/sequences", {}, {"status": "active"}),
    ("referral", "/v1/referrals", {"tab": "marketplace"}, {"tabb": "marketplace"}),
]


@pytest.mark.parametrize(("service", "path", "good", "bad"), CASES, ids=[f"{s} {p}" for s, p, _, _ in CASES])
async def test_an_unknown_query_parameter_is_422_naming_it(
    service: str, path: str, good: dict[str, str], bad: dict[str, str]
) -> None:
    transport = httpx.ASGITransport(app=APIS[service])
    async with httpx.AsyncClient(transport=transport, base_url="http://svc", headers=ADMIN) as http:
        assert (await http.get(path, params=good)).status_code == 200
        refused = await http.get(path, params={**good, **bad})
        assert refused.status_code == 422, refused.text
        (name,) = bad
        assert refused.json()["detail"][0]["loc"] == ["query", name]
        assert "unknown query parameter" in refused.json()["detail"][0]["msg"]
