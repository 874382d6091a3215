"""The mailer's lead directory against a real intake API, in-process: the lead's fields when
intake has them, None when intake says the lead is gone (a permanent reason not to send), and
DirectoryUnavailable — try again later — when intake is down or refuses the key, or the key file
`make run` writes is not there yet."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from auth_helpers import authenticator
from intake_world import lead_list_of

from intake.application import IntakeApplication
from intake.entrypoints.api import create_api
from leadflow_shared.auth.http import create_api_key
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.store import StoreWorker
from leadflow_tools import free_port
from sequence.directory import DirectoryUnavailable, IntakeDirectory, LeadDirectory
from sequence.settings import SequenceSettings

pytestmark = pytest.mark.unit


@dataclass
class Intake:
    """intake's API over ASGI, one lead in it, and two keys: the mailer's and one without the scope."""

    app: IntakeApplication
    transport: httpx.ASGITransport
    lead_id: UUID
    mailer_key: str
    upstream_key: str

    def directory(self, api_key: str | None = None, api_key_file: Path | None = None) -> IntakeDirectory:
        return IntakeDirectory("http://intake", api_key=api_key, api_key_file=api_key_file, transport=self.transport)


@pytest.fixture
def worker() -> Iterator[StoreWorker]:
    w = StoreWorker("directory-test")
    yield w
    w.shutdown()


@pytest.fixture
def intake(worker: StoreWorker) -> Intake:
    app = IntakeApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    api = create_api(app, worker, {}, lead_list_of(app), authenticator(app, worker))
    _, mailer_key = app.execute(create_api_key, "sequence", ["leads:contact"], "test")
    _, upstream_key = app.execute(create_api_key, "web forms", ["leads:write"], "test")
    inbound = InboundLeadV1.model_validate(
        {
            "source": "web-form",
            "external_id": "d-1",
            "contact": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
            "company": {"name": "Analytical Engines", "country": "GB"},
            "occurred_at": "2026-11-01T10:00:00Z",
        }
    )
    lead_id = app.execute(app.receive_lead, inbound, via="http").lead_id
    return Intake(app, httpx.ASGITransport(app=api), lead_id, mailer_key, upstream_key)


@pytest.fixture
async def directory(intake: Intake) -> AsyncIterator[IntakeDirectory]:
    d = intake.directory(api_key=intake.mailer_key)
    yield d
    await d.aclose()


async def test_a_known_lead_answers_its_fields(intake: Intake, directory: IntakeDirectory) -> None:
    as_protocol: LeadDirectory = directory

    fields = await as_protocol.contact(intake.lead_id)

    assert fields is not None
    assert (fields["lead_id"], fields["email"], fields["full_name"]) == (
        str(intake.lead_id),
        "ada@example.org",
        "Ada Lovelace",
    )
    assert fields["company_name"] == "Analytical Engines" and fields["company"] == {"country": "GB"}


async def test_an_unknown_or_erased_lead_is_none(intake: Intake, directory: IntakeDirectory) -> None:
    assert await directory.contact(uuid.uuid4()) is None

    intake.app.execute(intake.app.erase, intake.lead_id, actor="admin", reason="asked")

    assert await directory.contact(intake.lead_id) is None


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("lfk_0123456789abcdef.not-a-real-secret-not-a-real-secret-not-a-r", "401"),
        ("upstream", "leads:contact"),  # a valid key without the scope: 403
    ],
)
async def test_a_refused_key_is_unavailable_with_the_reason(intake: Intake, key: str, reason: str) -> None:
    directory = intake.directory(api_key=intake.upstream_key if key == "upstream" else key)
    try:
        with pytest.raises(DirectoryUnavailable, match=reason):
            await directory.contact(intake.lead_id)
    finally:
        await directory.aclose()


async def test_a_key_file_that_appears_later_is_read_then(intake: Intake, tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "sequence-intake.key"
    directory = intake.directory(api_key_file=key_file)
    try:
        with pytest.raises(DirectoryUnavailable, match="does not exist"):
            await directory.contact(intake.lead_id)

        key_file.parent.mkdir()
        key_file.write_text(intake.mailer_key + "\n")

        fields = await directory.contact(intake.lead_id)
        assert fields is not None and fields["email"] == "ada@example.org"
    finally:
        await directory.aclose()


async def test_a_replaced_key_file_is_read_again_after_a_refusal(intake: Intake, tmp_path: Path) -> None:
    key_file = tmp_path / "sequence-intake.key"
    key_file.write_text(intake.upstream_key)
    directory = intake.directory(api_key_file=key_file)
    try:
        with pytest.raises(DirectoryUnavailable, match="leads:contact"):
            await directory.contact(intake.lead_id)

        key_file.write_text(intake.mailer_key)

        assert await directory.contact(intake.lead_id) is not None
    finally:
        await directory.aclose()


async def test_intake_down_is_unavailable() -> None:
    directory = IntakeDirectory(f"http://127.0.0.1:{free_port()}", api_key="lfk_x", timeout=1.0)
    try:
        with pytest.raises(DirectoryUnavailable, match="did not answer"):
            await directory.contact(uuid.uuid4())
    finally:
        await directory.aclose()


async def test_a_404_that_does_not_name_the_lead_is_not_taken_for_a_missing_lead() -> None:
    def elsewhere(_: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Not Found"})

    directory = IntakeDirectory("http://not-intake", api_key="k", transport=httpx.MockTransport(elsewhere))
    try:
        with pytest.raises(DirectoryUnavailable, match="without naming the lead"):
            await directory.contact(uuid.uuid4())
    finally:
        await directory.aclose()


def test_the_settings_make_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env: dict[str, Any] = {
        "SEQUENCE_INTAKE_URL": "http://intake.internal:8001/",
        "SEQUENCE_INTAKE_API_KEY_FILE": str(tmp_path / "k"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    directory = SequenceSettings().directory()

    assert directory.base_url == "http://intake.internal:8001"
    with pytest.raises(ValueError, match="not both"):
        SequenceSettings(intake_api_key="lfk_x")
