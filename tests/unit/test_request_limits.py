"""Request limits at the door (issue 9): bodies are capped while they stream in (chunked
included) before anything buffers them, JSON depth and number size are bounded before a parser
sees them, and a 422 echoes at most a short excerpt of the input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from assignment_scenario import Scenario
from auth_helpers import authenticator, bearer
from fastapi import FastAPI, Request
from intake_world import lead_list_of

from assignment.entrypoints.api import create_api as assignment_api
from intake.application import IntakeApplication
from intake.entrypoints.api import create_api as intake_api
from leadflow_shared.http import MAX_JSON_DEPTH, BodySizeLimit, json_shape_problem
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit
LEAD = {"source": "web-form", "external_id": "l-1", "occurred_at": "2026-11-01T10:00:00Z"}


@pytest.fixture
async def apis() -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    worker = StoreWorker("limits")
    intake = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    s = Scenario()
    built = {
        "intake": intake_api(intake, worker, {}, lead_list_of(intake), authenticator(intake, worker)),
        "assignment": assignment_api(s.app, worker, {}, s.read_model, authenticator(s.app, worker)),
    }
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://s", headers=bearer())
        for name, api in built.items()
    }
    yield clients
    for client in clients.values():
        await client.aclose()
    worker.shutdown()


class Stream:
    """A chunked body that counts how much of it was ever read."""

    def __init__(self, chunk: bytes, chunks: int) -> None:
        self.chunk, self.chunks, self.read = chunk, chunks, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.read += len(self.chunk)
            yield self.chunk


@pytest.mark.parametrize(("service", "path"), [("intake", "/v1/leads"), ("assignment", "/v1/segments/x")])
async def test_a_chunked_json_body_over_the_limit_is_refused_before_it_is_read_whole(
    apis: dict[str, httpx.AsyncClient], service: str, path: str
) -> None:
    body = Stream(b" " * 65536, 8_000)  # 500 MiB, never all read
    method = "POST" if service == "intake" else "PUT"
    response = await apis[service].request(method, path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "exceeds 65536 bytes" in response.text
    assert body.read <= 2 * 65536


async def test_a_declared_length_over_the_limit_is_refused_at_once(apis: dict[str, httpx.AsyncClient]) -> None:
    body = Stream(b"x" * 65536, 2)
    headers = {"content-type": "text/csv", "content-length": str(200 * 1024 * 1024)}
    response = await apis["intake"].post("/v1/leads/import", content=body, headers=headers)
    assert response.status_code == 413 and body.read == 0


async def test_a_streamed_upload_is_cut_at_its_own_limit() -> None:
    api = FastAPI()
    seen = {"bytes": 0}

    @api.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        async for chunk in request.stream():
            seen["bytes"] += len(chunk)
        return seen

    limited = BodySizeLimit(api, max_bytes=1024, per_path={"/upload": 100_000})
    body = Stream(b"y" * 10_000, 1_000)  # 10 MB of multipart-ish bytes
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://t") as http:
        response = await http.post("/upload", content=body, headers={"content-type": "application/octet-stream"})
        assert response.status_code == 413 and "exceeds 100000 bytes" in response.text
        assert body.read <= 110_000 and seen["bytes"] <= 100_000
        seen["bytes"] = 0
        small = await http.post("/upload", content=b"z" * 50_000, headers={"content-type": "text/plain"})
        assert small.status_code == 200 and small.json() == {"bytes": 50_000}


@pytest.mark.parametrize("service", ["intake", "assignment"])
async def test_deep_json_and_huge_numbers_are_a_422_never_a_500(
    apis: dict[str, httpx.AsyncClient], service: str
) -> None:
    method, path = ("POST", "/v1/leads") if service == "intake" else ("PUT", "/v1/segments/x")
    json_headers = {"content-type": "application/json"}
    for body, reason in (
        (b"[" * 30_000 + b"]" * 30_000, "nested deeper"),
        (b'{"a":' * 1000 + b"1" + b"}" * 1000, "nested deeper"),
        (b'{"source": "s", "score": ' + b"9" * 5000 + b"}", "number longer"),
        (b'{"source": "s", "score": 1e99999999999999999999999999999999999999999}', "number longer"),
    ):
        response = await apis[service].request(method, path, content=body, headers=json_headers)
        assert response.status_code == 422, response.text
        assert reason in response.json()["detail"][0]["msg"]


def test_the_json_shape_check_reads_strings_as_strings() -> None:
    assert (
        json_shape_problem(b'{"phone": "' + b"1" * 500 + b'", "note": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') is None
    )
    assert json_shape_problem(b'{"q": "a \\" [[[[", "n": 12.5e3}') is None
    nested = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_shape_problem(nested) is None and json_shape_problem(b"[" + nested + b"]") is not None


async def test_a_422_echoes_only_a_short_excerpt(apis: dict[str, httpx.AsyncClient]) -> None:
    long = "s" * 60_000
    for service, method, path, body in (
        ("intake", "POST", "/v1/leads", {**LEAD, "source": long}),
        ("assignment", "PUT", "/v1/sellers/ann", {"name": long}),
        ("assignment", "POST", "/v1/rulesets", {"name": "r", "rules": [{"name": long}] * 5}),
    ):
        response = await apis[service].request(method, path, json=body)
        assert response.status_code == 422, response.text
        assert len(response.content) < 4_000, (service, path, len(response.content))
        assert "60000 characters" in response.text or "(an object" in response.text


async def test_bulk_routes_keep_their_larger_limit(apis: dict[str, httpx.AsyncClient]) -> None:
    sellers: list[dict[str, Any]] = [{"seller_id": f"s{i:05}", "name": f"Seller {i}"} for i in range(5_000)]
    assert (await apis["assignment"].post("/v1/sellers", json=sellers)).json() == {"joined": 5_000}
    segment = {"priority": 1, "criteria": {"field": "country", "op": "in", "value": ["DE"] * 20_000}}
    assert (await apis["assignment"].put("/v1/segments/big", json=segment)).status_code == 413
