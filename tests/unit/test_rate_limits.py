"""Rate limits per caller (issue 9): a token bucket per user or API key, 429 with Retry-After."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from auth_helpers import authenticator, bearer
from intake_world import lead_list_of

from intake.application import IntakeApplication
from intake.entrypoints.api import create_api
from leadflow_shared.auth.ratelimit import MemoryRateLimiter
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit


async def test_a_caller_over_its_rate_gets_429_with_retry_after_and_others_are_untouched() -> None:
    app, worker = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}), StoreWorker("rate")
    auth = authenticator(app, worker)
    auth.limiter = MemoryRateLimiter(rate=20, burst=5)
    api = create_api(app, worker, {}, lead_list_of(app), auth)
    ana, ben = bearer("admin", sub="ana"), bearer("admin", sub="ben")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://intake") as http:
        answers = [(await http.get("/v1/settings/leads", headers=ana)).status_code for _ in range(8)]
        assert answers == [200] * 5 + [429] * 3
        refused = await http.get("/v1/settings/leads", headers=ana)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert (await http.get("/v1/settings/leads", headers=ben)).status_code == 200
        assert (await http.get("/healthz", headers=ana)).status_code == 200  # health is never limited
        await asyncio.sleep(0.15)  # 20 a second: three more by now
        assert [(await http.get("/v1/settings/leads", headers=ana)).status_code for _ in range(4)][:2] == [200, 200]
    worker.shutdown()
