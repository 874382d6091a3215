"""The sequence service in-process for tests: its application on an in-memory store with a clock
that only moves when told, its enrolment list, its API (over ASGI), its deadline runner and its
mailer (pointed at an SMTP catcher when a test gives one). intake's contact lookup is a table of
leads here (`contacts`); the integration tests use the real intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
from auth_helpers import authenticator, bearer

from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import IntegrationEvent, LeadAssignedV1, SellerProfileChangedV1
from leadflow_shared.deadlines import DeadlineRunner, DeadlinesProjection
from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import SQLiteReadStore
from leadflow_shared.store import StoreWorker
from sequence.application import SequenceApplication
from sequence.domain import Enrolment, SequenceDefinition
from sequence.entrypoints.api import create_api
from sequence.entrypoints.mailer import Mailer
from sequence.entrypoints.stream import publications
from sequence.mail import SmtpSettings, check_template
from sequence.projections import EnrolmentsProjection, SequenceReadModel

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
"""A Wednesday, 9:00 UTC."""
TRADE_SHOW = [
    {"id": "e1", "type": "email"},
    {"id": "w1", "type": "wait", "days": 3},
    {"id": "c1", "type": "call"},
]


class Contacts:
    """intake's `GET /v1/leads/{id}/contact`, as a table (None: the lead is gone)."""

    def __init__(self) -> None:
        self.leads: dict[UUID, dict[str, Any] | None] = {}

    async def contact(self, lead_id: UUID) -> dict[str, Any] | None:
        return self.leads.get(lead_id)


class SequenceWorld:
    def __init__(self, smtp: tuple[str, int] | None = None) -> None:
        self.clock = FixedClock(START)
        store = SQLiteReadStore.in_memory()
        runner = ProjectionRunner(
            SequenceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}), store, EnrolmentsProjection()
        )
        self.read_model = SequenceReadModel.of(runner)
        self.app = SequenceApplication(
            env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
            clock=self.clock,
            template_problem=check_template,
            enrolled_in=self.read_model.enrolments.active_in,
        )
        runner.app = self.app
        self.worker = StoreWorker("test")
        index = ProjectionRunner(
            self.app, SQLiteReadStore.in_memory(), DeadlinesProjection([Enrolment, SequenceDefinition])
        )
        self.deadlines = DeadlineRunner(self.app, self.worker, index, self.app.on_deadline, clock=self.clock)
        self.contacts = Contacts()
        host, port = smtp or ("127.0.0.1", 1)
        self.mailer = Mailer(
            self.app,
            self.worker,
            self.read_model.enrolments,
            self.contacts,
            SmtpSettings(
                host=host,
                port=port,
                starttls=False,
                username=None,
                password=None,
                sender="seq@leadflow.test",
                timeout_seconds=5,
            ),
            clock=self.clock,
        )
        self.api = create_api(self.app, self.worker, {}, self.read_model, authenticator(self.app, self.worker))
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.api), base_url="http://sequence", headers=bearer("admin")
        )

    # -- arranging -------------------------------------------------------------------------

    def sequence(self, steps: list[dict[str, Any]], name: str = "Trade show UK", **settings: bool) -> UUID:
        """An active sequence with these steps."""
        sequence_id = self.app.execute(
            self.app.create, name=name, description="", steps=steps, settings=settings, actor="admin"
        )
        self.app.execute(self.app.activate, sequence_id, actor="admin")
        return sequence_id

    def seller(self, seller_id: str, version: int = 1, **calendar: Any) -> None:
        profile = SellerProfileChangedV1(
            aggregate_id=uuid4(),
            version=version,
            seller_id=seller_id,
            time_zone=calendar.get("time_zone", "UTC"),
            working_hours=calendar.get(
                "working_hours", {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
            ),
            out_of_office=calendar.get("out_of_office", []),
            holiday_list=None,
            active=True,
            changed_at=self.clock.now(),
        )
        self.app.execute(self.app.on_seller_profile, profile)

    def assign(
        self,
        lead_id: UUID,
        seller_id: str | None,
        segment_id: str | None = "uk-trade-show",
        version: int = 1,
        team_id: str | None = None,
    ) -> None:
        assigned = LeadAssignedV1(
            aggregate_id=lead_id,
            version=version,
            lead_id=lead_id,
            seller_id=seller_id,
            team_id=team_id,
            method="round_robin",
            decided_at=self.clock.now(),
            segment_id=segment_id,
        )
        self.app.execute(self.app.on_assigned, assigned)

    def link(self, sequence_id: UUID, segment_id: str = "uk-trade-show") -> None:
        self.app.execute(self.app.link_segment, sequence_id, segment_id, actor="admin", on=True)

    # -- time ------------------------------------------------------------------------------

    def at(self, moment: datetime) -> int:
        """Move the clock to `moment` and fire what fell due; returns how many fired."""
        self.clock.advance(moment - self.clock.now())
        return self.fire()

    def later(self, delta: timedelta) -> int:
        self.clock.advance(delta)
        return self.fire()

    def fire(self) -> int:
        fired = self.deadlines.fire_due()
        self.read_model.runner.catch_up()
        return fired

    # -- looking ---------------------------------------------------------------------------

    def enrolment(self, enrolment_id: UUID) -> Enrolment:
        return self.app.get_enrolment(enrolment_id)

    def only_enrolment(self, lead_id: UUID) -> Enrolment:
        (enrolment_id,) = self.app.enrolment_ids_of(lead_id)
        return self.enrolment(enrolment_id)

    def published(self, enrolment_id: UUID) -> list[IntegrationEvent]:
        """What the relay would publish for this enrolment, in order."""
        (publication,) = publications(self.app)
        return [
            publication.map(e)
            for e in self.app.events.get(enrolment_id)  # type: ignore[attr-defined]
            if type(e) in publication.mappers
        ]

    def types(self, enrolment_id: UUID) -> list[str]:
        return [e.cloudevents_type.removeprefix("sequence.").removesuffix(".v1") for e in self.published(enrolment_id)]

    async def close(self) -> None:
        await self.http.aclose()
        self.worker.shutdown()
