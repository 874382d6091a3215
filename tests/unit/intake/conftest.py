"""The intake API in-process: an HTTP client over ASGI (an admin's) and the application behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from auth_helpers import authenticator, bearer
from intake_world import lead_list_of

from intake.application import IntakeApplication
from intake.entrypoints.api import create_api
from leadflow_shared.store import StoreWorker


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, IntakeApplication]]:
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    worker = StoreWorker("test")
    api = create_api(app, worker, {}, lead_list_of(app), authenticator(app, worker))
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=bearer("admin")) as http:
        yield http, app
    worker.shutdown()
