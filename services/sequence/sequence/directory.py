"""Where the mailer finds whom to write to: a lead's personal fields, read from intake at send time.

intake keeps personal data (email, names, phone, company name) out of `leads.events.v1`, so the
sequence service holds none of it: an automated e-mail step reads the lead by id from intake
(`GET /v1/leads/{id}/contact`, an API key with scope `leads:contact`) when it is about to send,
and forgets it afterwards. An erased lead is never written to: intake answers 404 for it.

Two answers that are not the fields mean different things. `None`: intake says the lead does not
exist (deleted, erased, never known) — a permanent reason not to send. `DirectoryUnavailable`:
intake could not answer now (down, slow, 5xx, rate-limited), or refused our credential (401/403:
a setting to correct; the key file `make run` writes may also not exist yet) — try again later.
Neither the fields nor anything else about the person is logged or put into an error message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import httpx

TIMEOUT_SECONDS = 5.0
CONTACT_PATH = "/v1/leads/{lead_id}/contact"


class DirectoryUnavailable(Exception):
    """The directory could not answer now; trying again later may help. The message says why
    (never with personal data); `retry_after` is the wait intake asked for, if it did."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class LeadDirectory(Protocol):
    """A lead's fields to address and render a message to its person."""

    async def contact(self, lead_id: UUID) -> dict[str, Any] | None:
        """The fields (intake's contact view: `email`, `first_name`, `company_name`, …), or None
        when the lead does not exist or its personal data was erased. Raises DirectoryUnavailable."""
        ...


class IntakeDirectory:
    """intake's `GET /v1/leads/{id}/contact` over one shared HTTP client, with an API key
    (`X-API-Key`) given as is or read from `api_key_file`. The file is read when no key is known
    yet, and again after intake refused the key it held (so a key written or replaced later,
    as `make run` does, is picked up without a restart)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        api_key_file: Path | None = None,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._api_key_file = api_key_file
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def contact(self, lead_id: UUID) -> dict[str, Any] | None:
        key = self._key()
        try:
            response = await self._client.get(CONTACT_PATH.format(lead_id=lead_id), headers={"X-API-Key": key})
        except httpx.HTTPError as exc:
            raise DirectoryUnavailable(f"intake at {self.base_url} did not answer ({type(exc).__name__})") from None
        status = response.status_code
        if status == 200:
            fields = response.json()
            if not isinstance(fields, dict):
                raise DirectoryUnavailable(f"intake at {self.base_url} answered something other than a lead's fields")
            return fields
        if status == 404 and str(lead_id) in _detail(response):
            return None  # intake's own answer, naming the lead: deleted, erased or never known
        raise self._unavailable(response)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _key(self) -> str:
        if self._api_key is not None:
            return self._api_key
        if self._api_key_file is None:
            raise DirectoryUnavailable("no API key for intake: set SEQUENCE_INTAKE_API_KEY or _API_KEY_FILE")
        try:
            key = self._api_key_file.read_text().strip()
        except FileNotFoundError:
            raise DirectoryUnavailable(f"no API key for intake yet: {self._api_key_file} does not exist") from None
        except OSError as exc:
            raise DirectoryUnavailable(f"cannot read intake's API key from {self._api_key_file}: {exc}") from None
        if not key:
            raise DirectoryUnavailable(f"no API key for intake yet: {self._api_key_file} is empty")
        self._api_key = key
        return key

    def _unavailable(self, response: httpx.Response) -> DirectoryUnavailable:
        status, where = response.status_code, self.base_url
        if status in (401, 403) and self._api_key_file is not None:
            self._api_key = None  # read the file again next time: the key may have been replaced
        if status == 401:
            reason = f"intake at {where} refused the API key (401: unknown, wrong or revoked); check the sequence's key"
        elif status == 403:
            reason = f"intake at {where} refused the API key (403): it needs the scope leads:contact"
        elif status == 404:
            reason = f"{where} answered 404 without naming the lead: is it intake's URL (with {CONTACT_PATH})?"
        elif status == 429:
            retry_after = _seconds(response.headers.get("retry-after"))
            return DirectoryUnavailable(f"intake at {where} asked to slow down (429)", retry_after=retry_after)
        else:
            reason = f"intake at {where} answered {status}: {_detail(response)[:200]}"
        return DirectoryUnavailable(reason)


def _detail(response: httpx.Response) -> str:
    """The `detail` of a FastAPI error answer (intake's errors name ids and rules, no personal data)."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return str(body.get("detail", "")) if isinstance(body, dict) else str(body)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
