"""The referral service on real Kafka and PostgreSQL: the inbound topic with bad messages among good
ones (→ the dead-letter topic with the reason), the push-down to intake end to end (an accepted
referral becomes a lead in intake, linked both ways by id), and expiry firing in a running service
after a restart (the deadline passed while it was down)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from harness import (
    as_bytes,
    eventually,
    new_prefix,
    opened,
    postgres_settings,
    produce,
    read_topic,
    settings_for,
    started,
)
from referral_world import DEAL, inbound

from intake.bootstrap import bootstrap as intake_service
from intake.domain import lead_id_for
from intake.settings import IntakeSettings
from leadflow_shared.clock import FixedClock
from leadflow_shared.contracts import INTEGRATION_EVENTS, InboundReferralV1, IntegrationEvent
from leadflow_shared.runtime import Service
from referral.bootstrap import bootstrap as referral_service
from referral.domain import referral_id_for
from referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


def decoded(records: list[Any]) -> list[IntegrationEvent]:
    return [INTEGRATION_EVENTS[dict(r.headers)["ce_type"].decode()].model_validate_json(r.value) for r in records]


def referral_on(bootstrap: str, tmp_path: Path, prefix: str, **overrides: Any) -> Service:
    clock = overrides.pop("clock", None)
    return referral_service(
        settings_for(ReferralSettings, tmp_path=tmp_path, bootstrap=bootstrap, prefix=prefix, **overrides), clock=clock
    )


async def status_of(service: Service, referral_id: UUID) -> str | None:
    app: Any = service.app
    if not await service.worker.call(app.repository.__contains__, referral_id):
        return None
    referral = await service.worker.call(app.get_referral, referral_id)
    return f"{referral.status}/{referral.substatus}"


async def test_the_inbound_topic_takes_good_referrals_and_dead_letters_bad_ones_with_the_reason(
    kafka_bootstrap: str, tmp_path: Path, postgres_database: dict[str, Any]
) -> None:
    prefix = new_prefix()
    service = referral_on(kafka_bootstrap, tmp_path, prefix, **postgres_settings(postgres_database))
    structured = {
        "specversion": "1.0",
        "id": "e-2",
        "source": "partner-center",
        "type": "referral.inbound.v1",
        "datacontenttype": "application/json",
        "data": inbound("k-structured"),
    }
    no_customer = {k: v for k, v in inbound("k-no-customer").items() if k != "customer"}
    wrong_type = {**structured, "id": "e-3", "type": "referral.deleted.v1", "data": inbound("k-wrong-type")}
    messages = [
        (b"k-bare", as_bytes(inbound("k-bare")), []),
        (b"k-malformed", b"{not json", []),
        (b"k-no-customer", as_bytes(no_customer), []),
        (b"k-structured", as_bytes(structured), [("content-type", b"application/cloudevents+json")]),
        (b"k-wrong-type", as_bytes(wrong_type), [("content-type", b"application/cloudevents+json")]),
        (b"k-bare", as_bytes(inbound("k-bare")), []),  # sent again: nothing new
    ]
    async with started(service):
        await produce(kafka_bootstrap, prefix + "referrals.inbound.v1", messages)
        letters = await read_topic(kafka_bootstrap, prefix + "referrals.inbound.v1.dlq", expect=3, settle=1.0)
        published = await read_topic(kafka_bootstrap, prefix + "referrals.events.v1", expect=2, settle=1.0)
        for ref in ("k-bare", "k-structured"):
            rid = referral_id_for("msft", ref)
            assert await eventually(lambda rid=rid: status_of(service, rid), until=bool) == "new/received"
        reasons = {}
        for letter in letters:
            original = opened(service.app, letter)  # sealed: it may hold the customer's contacts
            reasons[original.key] = json.loads(original.headers["leadflow_error"])
    assert set(reasons) == {b"k-malformed", b"k-no-customer", b"k-wrong-type"}
    assert "not a readable message" in reasons[b"k-malformed"]["reason"]
    assert "customer" in json.dumps(reasons[b"k-no-customer"])
    assert "referral.deleted.v1" in reasons[b"k-wrong-type"]["reason"]
    events = decoded(published)
    assert sorted(type(e).__name__ for e in events) == ["ReferralReceivedV1", "ReferralReceivedV1"]
    assert all(r.key == str(e.aggregate_id).encode() for r, e in zip(published, events, strict=True))
    assert not any(b"ada@contoso" in (v or b"") for r in published for _, v in r.headers)


async def test_an_accepted_referral_becomes_a_lead_in_intake_linked_both_ways(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    referral = referral_on(kafka_bootstrap, tmp_path, prefix)
    intake = intake_service(settings_for(IntakeSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix))
    app: Any = referral.app
    async with started(referral), started(intake):
        sent = InboundReferralV1.model_validate(inbound("k-push", qualification="sales_qualified"))
        receipt = await referral.worker.call(app.execute, app.receive, sent, via="http")
        rid = receipt.referral_id
        await referral.worker.call(app.execute, app.accept, rid, actor="pat", deal=DEAL)
        lead_id = lead_id_for("referral", str(rid))
        intake_app: Any = intake.app

        async def lead() -> Any:
            if not await intake.worker.call(intake_app.repository.__contains__, lead_id):
                return None
            return await intake.worker.call(intake_app.get_lead, lead_id)

        made = await eventually(lead, until=lambda found: found is not None, timeout=30)
        assert made.lead_type == "sales_qualified" and made.external_id == str(rid)
        assert made.details["attributes"]["referral_id"] == str(rid)
        assert made.details["attributes"]["partner_org"] == "fabrikam"
        assert made.contact["email"] == "ada@contoso.example" and made.company["country"] == "DE"

        async def linked() -> Any:
            return (await referral.worker.call(app.get_referral, rid)).lead_id

        assert await eventually(linked, until=lambda found: found == lead_id, timeout=30) == lead_id


async def test_expiry_fires_in_a_running_service_after_a_restart(
    kafka_bootstrap: str, tmp_path: Path, postgres_database: dict[str, Any]
) -> None:
    prefix = new_prefix()
    clock = FixedClock(datetime.now(UTC))
    store = postgres_settings(postgres_database)
    first = referral_on(kafka_bootstrap, tmp_path, prefix, clock=clock, **store)
    app: Any = first.app
    async with started(first):
        for ref in ("k-silent", "k-answered"):
            await first.worker.call(app.execute, app.receive, InboundReferralV1.model_validate(inbound(ref)))
        answered = referral_id_for("msft", "k-answered")
        await first.worker.call(app.execute, app.accept, answered, actor="pat", deal=DEAL)
    clock.advance(timedelta(days=15))  # the service was down when the answer deadline passed
    second = referral_on(kafka_bootstrap, tmp_path, prefix, clock=clock, **store)
    silent = referral_id_for("msft", "k-silent")
    async with started(second):
        assert await eventually(lambda: status_of(second, silent), until=lambda s: s == "closed/expired") == (
            "closed/expired"
        )
        assert await status_of(second, answered) == "active/accepted"
        published = decoded(await read_topic(kafka_bootstrap, prefix + "referrals.events.v1", expect=4, settle=1.5))
    expired = [e for e in published if type(e).__name__ == "ReferralExpiredV1"]
    assert [e.aggregate_id for e in expired] == [silent]  # the sender is notified, once
