"""Traces and logs without Kafka: tracing is off unless the OTEL_* variables say otherwise; an
event keeps the trace it was stored in (optional data: old events replay as before); the relay
publishes each event in a span that is the child of that trace and says so in
`ce_traceparent` (and sends no such header with tracing off); a consumer applies each record in
a span continuing the record's trace; log lines are JSON objects with the ids of what is being
handled."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from intake_world import assigned
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from intake.application import IntakeApplication
from intake.entrypoints.stream import publications
from leadflow_shared.contracts import InboundLeadV1, LeadAssignedV1
from leadflow_shared.envelope import to_binary
from leadflow_shared.health import Health
from leadflow_shared.logs import JsonFormatter, log_context
from leadflow_shared.relay import OutboxRelay
from leadflow_shared.store import StoreWorker
from leadflow_shared.subscriptions import BatchApplier, Incoming, Route, Subscription, decode
from leadflow_shared.telemetry import TRACE_FIELD, Tracing, provider_from_environment
from leadflow_shared.views import event_view

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
PERSONAL = {"first_name": "Zelda", "last_name": "Quuxington", "email": "zelda.q@example.org", "phone": "+442079460123"}


@pytest.fixture(autouse=True)
def no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(spans: InMemorySpanExporter) -> Tracing:
    provider = TracerProvider(resource=Resource({"service.name": "leadflow-test"}))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return Tracing(provider)


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[IntakeApplication]:
    app = IntakeApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "s.db"), "CREATE_TABLE": "y"}
    )
    yield app
    app.close()


def lead(external_id: str, **contact: str) -> InboundLeadV1:
    return InboundLeadV1.model_validate(
        {
            "source": "web-form",
            "external_id": external_id,
            "type": "customer_inquiry",
            "contact": {**PERSONAL, **contact},
            "company": {"name": "Analytical Engines"},
            "occurred_at": "2026-11-01T10:00:00Z",
        }
    )


def stored_states(app: IntakeApplication, of: UUID | None = None) -> list[bytes]:
    notifications = app.recorder.select_notifications(1, 1000)
    return [bytes(n.state) for n in notifications if of is None or n.originator_id == of]


def ids(carrier: dict[str, str]) -> list[str]:
    """[trace id, span id] of a W3C trace context (the flags byte varies: sampled, random)."""
    return carrier["traceparent"].split("-")[1:3]


def named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


# -- configuration ----------------------------------------------------------------------


def test_tracing_is_off_unless_the_otel_variables_turn_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing set (what `make run` does), or "none", or the SDK disabled: no provider at all.
    assert provider_from_environment("leadflow-intake") is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert provider_from_environment("leadflow-intake") is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert provider_from_environment("leadflow-intake") is None
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    # An exporter named: on, under the service's default name or OTEL_SERVICE_NAME.
    console = provider_from_environment("leadflow-intake")
    assert console is not None and console.resource.attributes["service.name"] == "leadflow-intake"
    console.shutdown()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "intake-eu")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    named_one = provider_from_environment("leadflow-intake")
    assert named_one is not None and named_one.resource.attributes["service.name"] == "intake-eu"
    assert "0.25" in named_one.sampler.get_description()
    named_one.shutdown()
    # An OTLP endpoint alone means OTLP; an exporter leadflow does not have fails at start.
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.invalid:4318")
    otlp = provider_from_environment("leadflow-intake")
    assert otlp is not None
    otlp.shutdown()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValueError, match="zipkin"):
        provider_from_environment("leadflow-intake")


def test_a_service_with_nothing_set_loads_no_tracing_sdk(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from intake.bootstrap import bootstrap\n"
        "from intake.settings import IntakeSettings\n"
        f"service = bootstrap(IntakeSettings(run_dir={str(tmp_path)!r}))\n"
        "assert not service.tracing.enabled\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk'))\n"
        "assert not loaded, loaded\n"
        "service.app.close()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INTAKE_"))}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]


# -- the store keeps the trace --------------------------------------------------------------


def test_events_keep_the_trace_they_were_stored_in_and_replay_as_before(
    intake: IntakeApplication, tracing: Tracing, spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    tracing.follow(intake)
    assert tracing.tracer is not None
    # Given one lead received within a traced request and one outside any trace,
    with tracing.tracer.start_as_current_span("POST /v1/leads") as request:
        traced = intake.execute(intake.receive_lead, lead("t-1"), via="http").lead_id
    other = lead("t-2", email="someone.else@example.org", phone="+442079460999", last_name="Other")
    untraced = intake.execute(intake.receive_lead, other, via="http").lead_id
    # then the first one's events carry the request's context, the second's nothing at all,
    context = request.get_span_context()
    assert [ids(json.loads(s)[TRACE_FIELD]) for s in stored_states(intake, traced)] == [
        [f"{context.trace_id:032x}", f"{context.span_id:016x}"]
    ]
    assert [s for s in stored_states(intake, untraced) if b"_trace" in s] == []
    # the commit was a span of the request,
    (store,) = named(spans, "store record")
    assert store.parent is not None and store.parent.span_id == context.span_id
    # and both leads load again from the store (a fresh application: no cache) and show no trace.
    again = IntakeApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "s.db")}
    )
    try:
        for lead_id in (traced, untraced):
            assert again.repository.get(lead_id).version == 1
            assert all("_trace" not in event_view(e)["data"] for e in again.lead_history(lead_id))
    finally:
        again.close()


def test_a_stored_event_with_a_trace_decodes_like_one_without(intake: IntakeApplication) -> None:
    plain = intake.execute(intake.receive_lead, lead("g-1"), via="http").lead_id
    (notification,) = [n for n in intake.recorder.select_notifications(1, 100) if n.originator_id == plain]
    state = json.loads(notification.state)
    with_trace = StoredEvent(
        originator_id=notification.originator_id,
        originator_version=notification.originator_version,
        topic=notification.topic,
        state=json.dumps({**state, TRACE_FIELD: {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}}).encode(),
    )
    event: Any = intake.mapper.to_domain_event(with_trace)
    assert event.mutate(None).id == plain


# -- relay and consumer ------------------------------------------------------------------


class Sent:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    async def __call__(self, value: bytes, *, key: bytes, headers: dict[str, str], no_confirm: bool) -> Any:
        import asyncio

        self.headers.append(dict(headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def relay_of(
    app: IntakeApplication, worker: StoreWorker, sent: Sent, tracing: Tracing | None, topic: str
) -> OutboxRelay:
    return OutboxRelay(
        app=app,
        worker=worker,
        publication=publications(app)[0],
        topic=topic,  # a relay position of its own: each relay publishes everything
        send=sent,
        source="leadflow/intake",
        health=Health(),
        tracing=tracing,
    )


async def test_the_relay_publishes_in_a_child_of_the_stored_trace_and_sends_none_when_off(
    intake: IntakeApplication, tracing: Tracing, spans: InMemorySpanExporter
) -> None:
    assert tracing.tracer is not None
    with tracing.tracer.start_as_current_span("POST /v1/leads") as request:
        intake.execute(intake.receive_lead, lead("r-1"), via="http")
    worker = StoreWorker("test")
    try:
        # With tracing off the relay sends no trace context (although the event has one stored):
        off = Sent()
        await relay_of(intake, worker, off, None, "off.leads.events.v1").drain()
        assert off.headers and all("ce_traceparent" not in h for h in off.headers)
        # with tracing on, each message goes out in a PRODUCER span, the child of the request,
        on = Sent()
        await relay_of(intake, worker, on, tracing, "leads.events.v1").drain()
    finally:
        worker.shutdown()
    (publish,) = named(spans, "leads.events.v1 publish")
    assert publish.kind == SpanKind.PRODUCER
    assert publish.parent is not None and publish.parent.span_id == request.get_span_context().span_id
    # and its context is the message's ce_traceparent.
    assert publish.context is not None
    assert ids({"traceparent": on.headers[0]["ce_traceparent"]}) == [
        f"{publish.context.trace_id:032x}",
        f"{publish.context.span_id:016x}",
    ]


def test_a_consumer_applies_each_record_in_a_span_of_its_trace_and_logs_its_ids(
    intake: IntakeApplication, tracing: Tracing, spans: InMemorySpanExporter
) -> None:
    tracing.follow(intake)
    lead_id = intake.execute(intake.receive_lead, lead("c-1"), via="http").lead_id
    upstream = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter("leadflow-intake"))
    logger = logging.getLogger("test.consumer")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def decided(uow: Any, decision: LeadAssignedV1) -> None:
        logger.info("applying a decision")
        intake.on_assignment_decided(uow, decision)

    subscription = Subscription(
        topic="assignments.events.v1", routes={"lead.assigned.v1": Route(LeadAssignedV1, decided)}
    )
    decision = assigned(lead_id, "s1", version=1)
    key, value, headers = to_binary(
        decision, source="leadflow/assignment", time=decision.decided_at, extensions={"traceparent": upstream}
    ).record()
    item = decode(subscription, Incoming("assignments.events.v1", 0, 7, key, value, headers))
    assert item.trace_carrier == {"traceparent": upstream}
    # When the record is applied as a consumer applies it,
    try:
        with tracing.consuming("assignments.events.v1", "leadflow-intake", [item]):
            BatchApplier(intake, subscription, "assignments.events.v1").apply([item])
    finally:
        logger.removeHandler(handler)
    # then it was processed in a CONSUMER span continuing the upstream trace,
    (processed,) = named(spans, "assignments.events.v1 process")
    assert processed.kind == SpanKind.CONSUMER and processed.context is not None
    assert processed.context.trace_id == int("a" * 32, 16) and processed.parent is not None
    assert processed.parent.span_id == int("b" * 16, 16)
    # the event it stored carries that span on (the next hop),
    stored = json.loads(stored_states(intake, lead_id)[-1])
    assert ids(stored[TRACE_FIELD]) == ["a" * 32, f"{processed.context.span_id:016x}"]
    # and the line it logged names the message, the lead and the trace, and nobody.
    (line,) = [json.loads(text) for text in lines.getvalue().splitlines()]
    assert line["message"] == "applying a decision"
    assert line["event_id"] == item.event_id and line["aggregate_id"] == str(lead_id)
    assert line["trace_id"] == "a" * 32 and line["span_id"] == f"{processed.context.span_id:016x}"
    assert not [v for v in PERSONAL.values() if v in lines.getvalue()]


# -- log lines ----------------------------------------------------------------------------


def test_a_json_log_line_is_one_object_with_the_fields() -> None:
    record = logging.LogRecord("leadflow_shared.consumer", logging.WARNING, __file__, 1, "failed %s", ("x",), None)
    formatter = JsonFormatter("leadflow-assignment")
    plain = json.loads(formatter.format(record))
    assert plain.keys() == {"timestamp", "level", "service", "logger", "message"}
    assert plain["level"] == "WARNING" and plain["service"] == "leadflow-assignment"
    assert plain["logger"] == "leadflow_shared.consumer" and plain["message"] == "failed x"
    lead_id = UUID("6f1c2f4e-1a7b-5c4d-9e8f-0a1b2c3d4e5f")
    with log_context(event_id="e-1", aggregate_id=lead_id):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "oops", (), sys.exc_info())
        text = formatter.format(failed)
    assert "\n" not in text  # the traceback too stays on the one line
    line = json.loads(text)
    assert line["event_id"] == "e-1" and line["aggregate_id"] == str(lead_id)
    assert "RuntimeError: boom" in line["exception"]
    assert "event_id" not in json.loads(formatter.format(record))  # the context ended with the block
