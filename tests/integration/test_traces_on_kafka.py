"""One trace per lead flow on real Kafka: an HTTP request to intake, intake's store, its relay's
publish (`ce_traceparent` set, the child of the request), assignment's consumer (the same
trace) and what assignment publishes in turn — and JSON log lines with no personal data."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from auth_helpers import bearer
from harness import eventually, headers_of, inbound_lead, new_prefix, read_topic, settings_for, started
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from assignment.bootstrap import bootstrap as assignment_service
from assignment.settings import AssignmentSettings
from intake.bootstrap import bootstrap as intake_service
from intake.domain import lead_id_for
from intake.settings import IntakeSettings
from leadflow_shared.logs import QUIET, JsonFormatter
from leadflow_shared.telemetry import TRACE_FIELD

pytestmark = pytest.mark.integration

MARK = uuid.uuid4().hex[:8]
PERSONAL = {
    "first_name": f"Zelda{MARK}",
    "last_name": f"Quux{MARK}",
    "email": f"zelda.{MARK}@example.org",
    "phone": "+44 20 7946 0" + str(int(MARK[:4], 16) % 1000).zfill(3),
}


def needles() -> list[str]:
    return [PERSONAL["first_name"], PERSONAL["last_name"], PERSONAL["email"], PERSONAL["phone"].replace(" ", "")[3:]]


def provider(exporter: InMemorySpanExporter, service: str) -> TracerProvider:
    traced = TracerProvider(resource=Resource({"service.name": service}))
    traced.add_span_processor(SimpleSpanProcessor(exporter))
    return traced


def traceparent(record_headers: dict[str, bytes]) -> tuple[int, int]:
    """(trace id, parent span id) of a W3C traceparent header."""
    _, trace_id, span_id, _ = record_headers["ce_traceparent"].decode().split("-")
    return int(trace_id, 16), int(span_id, 16)


@pytest.fixture
def json_log_lines() -> Iterator[io.StringIO]:
    """Everything the process logs at INFO and above, as the services write it (JSON)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("leadflow-test"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    quiet = {name: logging.getLogger(name).level for name in QUIET}
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)  # as logs.configure leaves them
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)


async def test_one_trace_from_an_http_request_through_intake_and_kafka_into_assignment(
    kafka_bootstrap: str, tmp_path: Path, json_log_lines: io.StringIO
) -> None:
    prefix = new_prefix()
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps([{"seller_id": "s1", "name": "Seller 1"}]))
    intake = intake_service(
        settings_for(IntakeSettings, tmp_path=tmp_path / "intake", bootstrap=kafka_bootstrap, prefix=prefix)
    )
    assignment = assignment_service(
        settings_for(
            AssignmentSettings,
            tmp_path=tmp_path / "assignment",
            bootstrap=kafka_bootstrap,
            prefix=prefix,
            roster_file=roster,
        )
    )
    spans = InMemorySpanExporter()
    intake.tracing.use(provider(spans, "leadflow-intake"))
    assignment.tracing.use(provider(spans, "leadflow-assignment"))
    lead = inbound_lead("traced-1", contact=PERSONAL)
    lead_id = lead_id_for("web-form", "traced-1")

    async with started(intake), started(assignment):
        # Given a lead POSTed over HTTP (and a search by name, which must not land in a span),
        assert intake.api is not None
        transport = httpx.ASGITransport(app=intake.api)
        headers = bearer("admin", run_dir=intake.settings.run_dir)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=headers) as http:
            assert (await http.post("/v1/leads", json=lead)).status_code in (200, 201)
            assert (await http.get("/v1/leads", params={"q": PERSONAL["last_name"]})).status_code == 200
        # when intake's relay has published it and assignment has assigned it and published that,
        received = await eventually(
            lambda: read_topic(kafka_bootstrap, prefix + "leads.events.v1", expect=1),
            until=lambda records: any(headers_of(r)["ce_type"] == b"lead.received.v1" for r in records),
        )
        assigned = await read_topic(kafka_bootstrap, prefix + "assignments.events.v1", expect=1)
        stored = await assignment.worker.call(assignment.app.recorder.select_notifications, 1, 100)
        decision = [e for e in map(assignment.app.mapper.to_domain_event, stored) if e.originator_id == lead_id]

    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    by_id = {s.context.span_id: s for s in finished if s.context is not None}

    def service_of(span: ReadableSpan) -> str:
        return str(span.resource.attributes["service.name"])

    def parent_of(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, f"{span.name} has no parent"
        return by_id[span.parent.span_id]

    # then the request made the trace:
    (request,) = [s for s in finished if s.kind == SpanKind.SERVER and s.name == "POST /v1/leads"]
    assert request.context is not None
    trace_id = request.context.trace_id
    # intake stored the lead within it,
    stores = [s for s in finished if s.name == "store record" and s.context and s.context.trace_id == trace_id]
    assert any(parent_of(s) is request for s in stores if service_of(s) == "leadflow-intake")
    # its relay published the event as the request's child and said so in ce_traceparent,
    (record,) = [r for r in received if headers_of(r)["ce_type"] == b"lead.received.v1"]
    header_trace, header_span = traceparent(headers_of(record))
    publish = by_id[header_span]
    assert header_trace == trace_id
    assert publish.kind == SpanKind.PRODUCER and service_of(publish) == "leadflow-intake"
    assert parent_of(publish) is request
    assert publish.attributes is not None and publish.attributes["cloudevents.event_type"] == "lead.received.v1"
    # assignment applied it in a span of the same trace, the child of that publish,
    (consumed,) = [s for s in finished if s.kind == SpanKind.CONSUMER and s.parent and s.parent.span_id == header_span]
    assert service_of(consumed) == "leadflow-assignment" and consumed.context is not None
    assert consumed.context.trace_id == trace_id
    # kept the trace with the events it stored,
    assert decision and all(
        getattr(e, TRACE_FIELD)["traceparent"].split("-")[1] == f"{trace_id:032x}" for e in decision
    )
    # and published its decision in the same trace, the child of its consumer span (the next hop).
    (out,) = assigned  # the one lead's assignment
    next_trace, next_span = traceparent(headers_of(out))
    assert next_trace == trace_id
    assert parent_of(by_id[next_span]) is consumed
    # No span says who the lead is: not in attributes, not the search in the URL.
    text = json.dumps([dict(s.attributes or {}) for s in finished], default=str)
    assert [n for n in needles() if n in text] == []
    assert {service_of(s) for s in finished if s.context and s.context.trace_id == trace_id} == {
        "leadflow-intake",
        "leadflow-assignment",
    }

    # The log lines are JSON, one object per line, with the fields, and name nobody.
    lines = [json.loads(line) for line in json_log_lines.getvalue().splitlines()]
    assert lines, "the services logged nothing"
    assert all({"timestamp", "level", "service", "logger", "message"} <= line.keys() for line in lines)
    assert [n for n in needles() if n in json_log_lines.getvalue()] == []
