"""The assignment API in-process: a narrated scenario and an HTTP client over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from assignment_scenario import Scenario
from auth_helpers import authenticator, bearer

from assignment.entrypoints.api import create_api
from leadflow_shared.store import StoreWorker


@pytest.fixture
async def walk() -> AsyncIterator[tuple[Scenario, httpx.AsyncClient]]:
    s = Scenario()
    worker = StoreWorker("assignment-test")
    api = create_api(s.app, worker, {}, s.read_model, authenticator(s.app, worker))
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://assignment", headers=bearer("admin")) as http:
        yield s, http
    worker.shutdown()
