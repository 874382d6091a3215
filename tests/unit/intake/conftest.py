"""The intake API in-process: an HTTP client over ASGI and the application behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from intake_world import lead_list_of

from intake.application import IntakeApplication
from intake.entrypoints.api import create_api
from leadflow_shared.store import StoreWorker


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, IntakeApplication]]:
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    worker = StoreWorker("test")
    api = create_api(app, worker, {}, lead_list_of(app))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://intake") as http:
        yield http, app
    worker.shutdown()
