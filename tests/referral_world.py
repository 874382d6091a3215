"""The referral service in-process for tests: its application on an in-memory store with a clock
that only moves when told, its referral list, its API (over ASGI) and its deadline runner."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from auth_helpers import authenticator, bearer

from leadflow_shared.clock import FixedClock
from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import StoreWorker
from referral.application import ReferralApplication
from referral.domain import Referral
from referral.entrypoints.api import create_api
from referral.projections import ReferralListProjection, ReferralReadModel

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def inbound(external_reference_id: str = "r-1", **overrides: Any) -> dict[str, Any]:
    """An InboundReferralV1 body as a sender sends it."""
    body: dict[str, Any] = {
        "sender": "msft",
        "external_reference_id": external_reference_id,
        "name": "Contoso rollout",
        "target_org": "fabrikam",
        "qualification": "direct",
        "customer": {
            "name": "Contoso",
            "address": {"city": "Berlin", "country": "DE"},
            "size": "51to250employees",
            "contacts": [{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@contoso.example"}],
        },
        "consent": {"share_information": True, "be_contacted": True},
        "details": {"notes": "wants a demo", "requirements": {"products": ["Dynamics 365"]}},
        "occurred_at": "2026-11-02T08:00:00Z",
    }
    body.update(overrides)
    return body


DEAL = {
    "deal_name": "Contoso rollout",
    "deal_value": {"amount": "12000", "currency": "EUR"},
    "closing_date": "2027-03-31",
    "notes": "call on Monday",
}


def referral_list_of(app: ReferralApplication) -> ReferralReadModel:
    """referral's list for `app`, in a private in-memory read store."""
    return ReferralReadModel.of(ProjectionRunner(app, SQLiteReadStore.in_memory(), ReferralListProjection()))


def partner(role: str = "partner_user", sub: str = "pat", org: str = "fabrikam") -> dict[str, str]:
    return bearer(role, sub=sub, org=org)


class ReferralWorld:
    """referral's application, list, API and deadline runner over one in-memory store."""

    def __init__(self) -> None:
        self.clock = FixedClock(START)
        self.app = ReferralApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=self.clock)
        self.worker = StoreWorker("test")
        self.read_model = referral_list_of(self.app)
        index = ProjectionRunner(self.app, SQLiteReadStore.in_memory(), DeadlinesProjection([Referral]))
        self.deadlines = DeadlineRunner(self.app, self.worker, index, self.app.on_deadline, clock=self.clock)
        api = create_api(self.app, self.worker, {}, self.read_model, authenticator(self.app, self.worker))
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://referral", headers=bearer("admin")
        )

    async def receive(self, external_reference_id: str = "r-1", **overrides: Any) -> dict[str, Any]:
        response = await self.http.post("/v1/referrals", json=inbound(external_reference_id, **overrides))
        assert response.status_code in (200, 201), response.text
        referral: dict[str, Any] = response.json()["referral"]
        return referral

    async def close(self) -> None:
        await self.http.aclose()
        self.worker.shutdown()
