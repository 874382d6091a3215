"""One contract for the event store, run against every adapter: SQLite, PostgreSQL and in-memory.

The services rely on exactly these properties: ordered aggregate streams, a gap-free
notification log, optimistic concurrency, tracking positions recorded atomically with the
events they produced and never moving backwards, and the inbox and parked messages written in
the same transaction as those events.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import RecordConflictError, Tracking
from harness import postgres_settings

from intake.application import IntakeApplication
from intake.domain import Lead
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.settings import ServiceSettings
from leadflow_shared.store import ParkedMessage, ServiceApplication
from leadflow_shared.unit_of_work import UnitOfWork

pytestmark = pytest.mark.integration


class Account(Aggregate):
    @event("Opened")
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = 0

    @event("Credited")
    def credit(self, amount: int) -> None:
        self.balance += amount


@pytest.fixture(params=["sqlite", "postgres", "popo"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "popo":
        yield {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        return
    if request.param == "sqlite":
        settings = ServiceSettings(service_name="contract", run_dir=tmp_path)
    else:
        db: dict[str, Any] = request.getfixturevalue("postgres_database")
        settings = ServiceSettings(
            service_name="contract",
            **postgres_settings(db),
        )
    yield settings.eventsourcing_env()


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[ServiceApplication]:
    application = ServiceApplication(env=store_env)
    yield application
    application.close()


def test_an_aggregate_stream_comes_back_in_order(app: ServiceApplication) -> None:
    account = Account(owner="ada")
    for amount in (5, 7, 11):
        account.credit(amount)
    app.save(account)
    copy = app.repository.get(account.id)
    assert (copy.version, copy.balance) == (4, 23)
    assert [e.originator_version for e in app.events.get(account.id)] == [1, 2, 3, 4]


def test_the_notification_log_is_gap_free_and_pages(app: ServiceApplication) -> None:
    for i in range(25):
        app.save(Account(owner=f"o{i}"))
    first = app.recorder.select_notifications(1, 10)
    rest = app.recorder.select_notifications(first[-1].id + 1, 100)
    ids = [n.id for n in [*first, *rest]]
    assert ids == list(range(ids[0], ids[0] + 25))
    assert app.recorder.max_notification_id() == ids[-1]


def test_optimistic_concurrency_refuses_a_stale_writer(app: ServiceApplication) -> None:
    account = Account(owner="ada")
    app.save(account)
    first, second = app.repository.get(account.id), app.repository.get(account.id)
    first.credit(1)
    app.save(first)
    second.credit(2)
    with pytest.raises(RecordConflictError):
        app.save(second)
    assert app.repository.get(account.id).balance == 1


def test_events_and_tracking_are_recorded_together_or_not_at_all(app: ServiceApplication) -> None:
    account = Account(owner="ada")
    app.save(account)
    # A processed batch: its events, its tracking row and its inbox row land in one transaction.
    lead = Account(owner="lead").id
    uow = UnitOfWork(app, Tracking("leads.inbound.v1:0", 5))
    current = uow.get(account.id)
    current.credit(10)
    uow.add(current)
    uow.inbox[("leads.events.v1", lead)] = 3
    uow.commit()
    assert app.tracked_position("leads.inbound.v1:0") == 5
    assert app.recorder.inbox_versions("leads.events.v1", [lead, account.id]) == {lead: 3}
    # A conflicting one: neither its events nor its tracking nor its inbox rows are stored.
    stale = app.repository.get(account.id, version=1)  # a writer that missed the credit
    stale.credit(99)
    failing = UnitOfWork(app, Tracking("leads.inbound.v1:0", 6))
    failing.add(stale)
    failing.inbox[("leads.events.v1", lead)] = 4
    failing.parked.append(parked(lead, 6))
    with pytest.raises(RecordConflictError):
        failing.commit()
    assert app.tracked_position("leads.inbound.v1:0") == 5
    assert app.repository.get(account.id).balance == 10
    assert app.recorder.inbox_versions("leads.events.v1", [lead]) == {lead: 3}
    assert app.recorder.parked_count() == 0


def parked(aggregate_id: Any, version: int, at: float = 1000.0) -> ParkedMessage:
    return ParkedMessage(
        stream="leads.events.v1",
        aggregate_id=aggregate_id,
        version=version,
        previous_version=version - 1,
        partition=2,
        offset=40 + version,
        key=b"k",
        value=b'{"v": 1}',
        headers=(("ce_type", b"lead.changed.v1"), ("odd", None), ("bytes", b"\xff")),
        parked_at=at,
    )


def test_the_inbox_only_moves_forward_and_parked_messages_come_back_byte_for_byte(app: ServiceApplication) -> None:
    lead, other = Account(owner="a").id, Account(owner="b").id
    first = UnitOfWork(app)
    first.inbox[("leads.events.v1", lead)] = 5
    first.parked += [parked(lead, 8, at=2000.0), parked(other, 3, at=1000.0)]
    first.commit()
    late = UnitOfWork(app)
    late.inbox[("leads.events.v1", lead)] = 4  # a stale writer cannot move it back
    late.commit()
    assert app.recorder.inbox_versions("leads.events.v1", [lead]) == {lead: 5}
    assert app.recorder.inbox_versions("other.topic", [lead]) == {}
    assert app.recorder.parked_messages("leads.events.v1", [lead]) == [parked(lead, 8, at=2000.0)]
    assert [p.aggregate_id for p in app.recorder.oldest_parked(5)] == [other, lead]
    assert app.recorder.parked_count() == 2
    released = UnitOfWork(app)
    released.unparked.append(("leads.events.v1", lead, 8))
    released.commit()
    assert app.recorder.parked_messages("leads.events.v1", [lead, other]) == [parked(other, 3, at=1000.0)]


def test_a_stored_event_can_be_found_by_stream_and_version(app: ServiceApplication) -> None:
    account = Account(owner="ada")
    app.save(account)
    account.credit(1)
    app.save(account)
    second = app.recorder.notification_id_of(account.id, 2)
    assert second == app.recorder.max_notification_id()
    assert app.recorder.notification_id_of(account.id, 1) == second - 1  # type: ignore[operator]
    assert app.recorder.notification_id_of(account.id, 3) is None


def test_a_tracking_position_never_moves_backwards(app: ServiceApplication) -> None:
    app.recorder.insert_tracking(Tracking("relay:leads.events.v1", 40))
    with pytest.raises(RecordConflictError):
        app.recorder.insert_tracking(Tracking("relay:leads.events.v1", 39))
    with pytest.raises(RecordConflictError):
        app.recorder.insert_tracking(Tracking("relay:leads.events.v1", 40))
    app.recorder.insert_tracking(Tracking("relay:leads.events.v1", 41))
    assert app.tracked_position("relay:leads.events.v1") == 41
    assert app.tracked_position("never-seen") is None


def test_a_lead_round_trips_with_its_types_intact(store_env: dict[str, str]) -> None:
    intake = IntakeApplication(env=store_env)
    inbound = InboundLeadV1.model_validate(
        {
            "source": "web-form",
            "external_id": "rt-1",
            "contact": {"email": "ada@example.com"},
            "company": {"country": "GB"},
            "score": 7,
            "occurred_at": "2026-11-01T10:00:00+02:00",
            "attributes": {"utm_source": "newsletter"},
        }
    )
    receipt = intake.execute(intake.receive_lead, inbound, via="http")
    in_memory = store_env["PERSISTENCE_MODULE"] == "eventsourcing.popo"
    reader = intake if in_memory else IntakeApplication(env=store_env)  # a fresh process's view
    lead: Lead = reader.get_lead(receipt.lead_id)
    assert lead.occurred_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert lead.contact == {"email": "ada@example.com"}
    assert lead.details["attributes"] == {"utm_source": "newsletter"}
    assert lead.score == 7
