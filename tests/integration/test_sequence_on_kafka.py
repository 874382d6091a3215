"""The sequence service on real Kafka, with intake and assignment beside it: a lead comes in, is
assigned in a segment linked to a sequence, is enrolled (its owner the seller, its calendar the
one assignment published), its first step falls due and goes out on sequences.events.v1 keyed
by the lead; an automated e-mail reaches the SMTP catcher with the lead's fields read from
intake; a reassignment moves the enrolment; a disqualification ends it; bad signals go to the
dead-letter topic with the reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from harness import as_bytes, eventually, inbound_lead, new_prefix, produce, read_topic, settings_for, started

from assignment.bootstrap import bootstrap as assignment_service
from assignment.settings import AssignmentSettings
from intake.bootstrap import bootstrap as intake_service
from intake.domain import lead_id_for
from intake.settings import IntakeSettings
from leadflow_shared.auth.apikeys import API_KEYS_ID, ApiKeys
from leadflow_shared.contracts import INTEGRATION_EVENTS, IntegrationEvent
from leadflow_shared.runtime import Service
from leadflow_tools.smtp import SmtpCatcher
from sequence.bootstrap import bootstrap as sequence_service
from sequence.directory import IntakeDirectory
from sequence.domain import seller_calendar_id
from sequence.settings import SequenceSettings

pytestmark = pytest.mark.integration
STEPS = [
    {"id": "m1", "type": "auto_email",
     "template": {"subject": "Good to meet you, {{ first_name }}",
                  "body": "Hello {{ first_name }} at {{ company.name }}"}},
    {"id": "c1", "type": "call"},
]  # fmt: skip


def decoded(records: list[Any]) -> list[IntegrationEvent]:
    return [INTEGRATION_EVENTS[dict(r.headers)["ce_type"].decode()].model_validate_json(r.value) for r in records]


def contact_key(intake: Service) -> str:
    """An intake API key with scope leads:contact, as an admin makes one for the mailer."""

    def create(uow: Any) -> str:
        keys: ApiKeys = uow.get(API_KEYS_ID) or ApiKeys()
        _, key = keys.create("sequence-mailer", ["leads:contact"], "test", datetime.now(UTC))
        uow.add(keys)
        return key

    app: Any = intake.app
    return str(app.execute(create))


def setup_assignment(assignment: Service) -> None:
    app: Any = assignment.app
    for seller in ("ann", "bob"):  # always working (no hours): the test runs at any time of the week
        app.execute(app.put_seller, seller, {"name": seller, "time_zone": "Europe/London"})
    app.execute(app.define_segment, "uk-trade-show", 5, {"all_of": [{"field": "country", "op": "in", "value": ["GB"]}]})
    rule = {"name": "everyone", "target": {"kind": "sellers"}, "method": "round_robin"}
    app.execute(app.activate_ruleset, app.execute(app.draft_ruleset, "r", [rule]))


async def test_a_lead_in_a_linked_segment_is_enrolled_end_to_end_on_kafka(
    kafka_bootstrap: str, tmp_path: Path, smtp_catcher: SmtpCatcher
) -> None:
    prefix = new_prefix()

    def settings(cls: Any, **more: Any) -> Any:
        return settings_for(cls, tmp_path=tmp_path / cls.__name__, bootstrap=kafka_bootstrap, prefix=prefix, **more)

    intake = intake_service(settings(IntakeSettings))
    assignment = assignment_service(settings(AssignmentSettings))
    host, port = smtp_catcher.address
    directory = IntakeDirectory(
        "http://intake", api_key=contact_key(intake), transport=httpx.ASGITransport(app=intake.api)
    )
    sequence = sequence_service(settings(SequenceSettings, smtp_host=host, smtp_port=port), directory=directory)
    app: Any = sequence.app
    setup_assignment(assignment)
    sid = app.execute(app.create, name="UK trade show", description="", steps=STEPS, settings={}, actor="admin")
    app.execute(app.activate, sid, actor="admin")
    app.execute(app.link_segment, sid, "uk-trade-show", actor="admin", on=True)
    lead_id = lead_id_for("web-form", "trade-1")
    topic = prefix + "sequences.events.v1"

    async def published(expect: int, condition: Callable[[list[IntegrationEvent]], bool]) -> list[IntegrationEvent]:
        async def events() -> list[IntegrationEvent]:
            return decoded(await read_topic(kafka_bootstrap, topic, expect=expect, settle=0.5, timeout=30))

        return await eventually(events, until=condition, timeout=60)

    async with started(intake), started(assignment), started(sequence):
        await produce(
            kafka_bootstrap, prefix + "leads.inbound.v1", [(b"trade-1", as_bytes(inbound_lead("trade-1")), [])]
        )
        types = ["sequence.enrolled.v1", "sequence.step-due.v1", "sequence.email-sent.v1"]
        events = await published(4, lambda es: all(any(e.cloudevents_type == t for e in es) for t in types))
        mail = smtp_catcher.wait_for(lambda m: True, timeout=30)
        records = await read_topic(kafka_bootstrap, topic, expect=len(events), settle=0.2)
        # then the call falls due, for ann, keyed by the lead
        assert all(r.key == str(lead_id).encode() for r in records)
        enrolled = next(e for e in events if e.cloudevents_type == "sequence.enrolled.v1")
        owner = enrolled.owner_id  # type: ignore[attr-defined]
        assert (enrolled.lead_id, enrolled.segment_id, owner in ("ann", "bob")) == (lead_id, "uk-trade-show", True)  # type: ignore[attr-defined]
        other = "bob" if owner == "ann" else "ann"
        due = [e for e in events if e.cloudevents_type == "sequence.step-due.v1"]
        assert [d.step_id for d in due][:1] == ["m1"]  # type: ignore[attr-defined]
        assert mail.recipients == ("ada+trade-1@example.com",) and mail.message["Subject"] == "Good to meet you, Ada"
        assert "Analytical Engines" in mail.message.get_content()
        await eventually(
            lambda: sequence.worker.call(app.repository.__contains__, seller_calendar_id(owner)), until=bool
        )
        calendar = await sequence.worker.call(app.calendar_of, owner)
        assert calendar.time_zone == "Europe/London"

        # reassigned by hand: the enrolment follows the other seller
        assignment_app: Any = assignment.app
        await assignment.worker.call(
            lambda: assignment_app.execute(
                assignment_app.assign_by_hand, lead_id, seller_id=other, team_id=None, reason="holiday", actor="mgr"
            )
        )
        await published(6, lambda es: any(e.cloudevents_type == "sequence.owner-changed.v1" for e in es))

        # disqualified in intake: the enrolment ends with that cause
        intake_app: Any = intake.app
        await intake.worker.call(lambda: intake_app.execute(intake_app.disqualify, lead_id, actor=other))
        events = await published(7, lambda es: any(e.cloudevents_type == "sequence.exited.v1" for e in es))
        exited = next(e for e in events if e.cloudevents_type == "sequence.exited.v1")
        assert (exited.cause, exited.early, exited.owner_id) == ("disqualified", True, other)  # type: ignore[attr-defined]


async def test_bad_signals_go_to_the_dead_letter_topic_with_the_reason(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = new_prefix()
    sequence = sequence_service(
        settings_for(SequenceSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix)
    )
    app: Any = sequence.app
    sid = app.execute(
        app.create,
        name="s",
        description="",
        steps=[{"id": "e1", "type": "email"}, {"id": "c1", "type": "call"}],
        settings={},
        actor="admin",
    )
    app.execute(app.activate, sid, actor="admin")
    eid: UUID = app.execute(app.enrol, UUID(int=7), sid, actor="admin")
    app.execute(app.complete, eid, "e1", actor="sam")
    signal = {"enrolment_id": str(eid), "step_id": "e1", "kind": "email_opened", "occurred_at": "2026-12-02T10:00:00Z"}
    messages = [
        (b"s-good", as_bytes(signal), []),
        (b"s-malformed", b"{nope", []),
        (b"s-kind", as_bytes({**signal, "kind": "liked"}), []),
        (b"s-step", as_bytes({**signal, "step_id": "c1"}), []),
        (b"s-unknown", as_bytes({**signal, "enrolment_id": str(UUID(int=9))}), []),
    ]
    async with started(sequence):
        await produce(kafka_bootstrap, prefix + "sequences.signals.v1", messages)
        letters = await read_topic(kafka_bootstrap, prefix + "sequences.signals.v1.dlq", expect=4, settle=1.0)
        enrolment = await eventually(
            lambda: sequence.worker.call(app.get_enrolment, eid), until=lambda e: "e1" in e.signals, timeout=30
        )
    reasons = {r.key: json.loads(dict(r.headers)["leadflow_error"])["reason"] for r in letters}
    assert set(reasons) == {b"s-malformed", b"s-kind", b"s-step", b"s-unknown"}
    assert "kind" in reasons[b"s-kind"] and "not an e-mail step" in reasons[b"s-step"]
    assert "not found" in reasons[b"s-unknown"]
    assert enrolment.signals["e1"]["email_opened"] == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
