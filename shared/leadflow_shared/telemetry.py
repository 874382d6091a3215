"""Traces: one OpenTelemetry trace per lead flow, from an HTTP request (or an inbound message)
through the event store, the outbox relay and Kafka to the next service's consumer and store.

Off unless the standard OTEL_* variables turn it on (`OTEL_TRACES_EXPORTER=otlp|console`, or an
`OTEL_EXPORTER_OTLP_ENDPOINT` with no exporter named; `OTEL_SDK_DISABLED=true` wins). Off, no SDK
tracer provider exists, no span is made and no message gets a `ce_traceparent` header; what is
left on the hot path is a check of the current span per stored batch of events.

How the context travels (the CloudEvents distributed-tracing extension, W3C Trace Context):

- HTTP: FastAPI's OpenTelemetry instrumentation makes the request span (continuing a caller's
  `traceparent` header). The store worker runs the use case in a copy of the caller's context.
- Store: the relay publishes later, from the notification log, outside the request's context.
  So a unit of work keeps the trace context current when its events were collected with each
  new domain event (the `_trace` field: `{"traceparent": …, "tracestate": …}`), stored with
  it. It is optional data: events stored with tracing off have none, and old events decode as
  before. The commit itself is a `store record` span.
- Relay: one PRODUCER span per published message, a child of the context stored with its event
  (a root span when there is none: an event a deadline or a job stored), from the send until
  the broker's acknowledgement. Its context goes out as the CloudEvents extensions
  `traceparent` / `tracestate`, i.e. the Kafka headers `ce_traceparent` / `ce_tracestate`.
- Consumer: one CONSUMER span per record (not one per batch): a batch mixes many leads, and
  only a span per record can be the child of that record's publish span, so each lead's flow
  stays one trace. While a record's use case runs, its span is current on the store thread, so
  the events it produces carry its context to the next hop. The unit of work's `store record`
  span is a child of the batch's first record span and links to the others.

FastStream's KafkaTelemetryMiddleware is not used: the consumers take raw batches whose parsed
message has no headers (it would make one parentless span per poll), and on publish it adds a
plain `traceparent` header from the context current at send time — the relay's, not the
request's — beside our `ce_traceparent`.

A service builds its own tracer provider (`Tracing.from_environment`) instead of installing a
global one, so several services in one test process trace under their own names.
"""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .logs import AGGREGATE_ID, EVENT_ID

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider

    from .envelope import Outgoing
    from .subscriptions import Incoming

log = logging.getLogger(__name__)

TRACE_FIELD = "_trace"
"""The field of a stored domain event holding the W3C trace context it was stored in."""
EXPORTERS = ("otlp", "console")
EXCLUDED_URLS = "/healthz,/readyz,/metrics"
"""Probes and scrapes make no traces."""
MAX_LINKS = 128

_PROPAGATOR = TraceContextTextMapPropagator()
_CARRIED = ("traceparent", "tracestate")
_NOTHING = contextlib.nullcontext()
_UNIT_LINKS: ContextVar[tuple[Link, ...]] = ContextVar("leadflow_unit_links", default=())
_TRACING_OF: weakref.WeakKeyDictionary[Any, Tracing] = weakref.WeakKeyDictionary()


def provider_from_environment(service_name: str) -> TracerProvider | None:
    """An SDK tracer provider as the OTEL_* variables describe it, or None (tracing off).

    `service_name` is the default of `service.name` (OTEL_SERVICE_NAME and
    OTEL_RESOURCE_ATTRIBUTES override it); OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* and
    OTEL_EXPORTER_OTLP_* are read by the SDK and the exporter themselves.
    """
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names and (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = ["otlp"]
    names = [n for n in names if n != "none"]
    if not names:
        return None
    unknown = sorted(set(names) - set(EXPORTERS))
    if unknown:
        raise ValueError(f"OTEL_TRACES_EXPORTER names {', '.join(unknown)}; leadflow has otlp, console and none")
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "unknown_service")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)
    for name in dict.fromkeys(names):
        exporter: SpanExporter
        if name == "otlp":
            protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            if protocol not in (None, "", "http/protobuf"):
                raise ValueError(f"OTLP protocol {protocol!r}: leadflow exports traces over http/protobuf only")
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        else:
            exporter = ConsoleSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class Tracing:
    """One service's tracing: its tracer (None: off) and the spans its relays and consumers make."""

    def __init__(self, provider: TracerProvider | None = None, *, owned: bool = False) -> None:
        self._provider: TracerProvider | None = None
        self._owned = False
        self.tracer: trace.Tracer | None = None
        if provider is not None:
            self.use(provider, owned=owned)

    @classmethod
    def from_environment(cls, service_name: str) -> Tracing:
        """Tracing as the OTEL_* variables say (off when they say nothing)."""
        return cls(provider_from_environment(service_name), owned=True)

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    def use(self, provider: TracerProvider, *, owned: bool = False) -> None:
        """Trace with `provider` (tests: one with an in-memory exporter). Call before the service
        starts; an `owned` provider is shut down (its spans flushed) when the service stops."""
        self._provider, self._owned = provider, owned
        self.tracer = provider.get_tracer("leadflow")

    def follow(self, app: Any) -> None:
        """Units of work of `app` record their commits as spans of this tracer."""
        _TRACING_OF[app] = self

    def instrument_api(self, api: FastAPI) -> None:
        """A server span per HTTP request (not for probes and scrapes), when tracing is on."""
        if self._provider is None or getattr(api, "_is_instrumented_by_opentelemetry", False):
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            api, tracer_provider=self._provider, excluded_urls=EXCLUDED_URLS, server_request_hook=_without_query
        )
        api.middleware_stack = None  # built again, with the tracing middleware, on the next request

    def shutdown(self) -> None:
        if self._owned and self._provider is not None:
            self._provider.shutdown()

    # -- the relay ------------------------------------------------------------------------

    def stored_context(self, domain_event: Any) -> dict[str, str] | None:
        """The trace context stored with an event, as CloudEvents extensions (None: none, or off)."""
        if self.tracer is None:
            return None
        return _carrier(getattr(domain_event, TRACE_FIELD, None))

    def publishing(self, topic: str, messages: Sequence[tuple[int, Outgoing]]) -> PublishSpans:
        """A PRODUCER span per message, from now until `end` (after the broker's acknowledgement);
        each message's `ce_traceparent` (the stored context, if any) becomes its publish span's."""
        if self.tracer is None or not messages:
            return _NO_SPANS
        return PublishSpans(self.tracer, topic, messages)

    # -- consumers ------------------------------------------------------------------------

    def consuming(self, topic: str, group: str, items: Sequence[Incoming]) -> contextlib.AbstractContextManager[Any]:
        """A CONSUMER span per record (the child of its `ce_traceparent`) while the records are
        applied; each item keeps its span's context in `trace` for `handling`."""
        if self.tracer is None or not items:
            return _NOTHING
        return self._consuming(self.tracer, topic, group, items)

    @contextlib.contextmanager
    def _consuming(self, tracer: trace.Tracer, topic: str, group: str, items: Sequence[Incoming]) -> Iterator[None]:
        spans = []
        for item in items:
            if item.invalid is not None:
                continue  # dead-lettered, not applied
            parent = _PROPAGATOR.extract(item.trace_carrier) if item.trace_carrier else otel_context.Context()
            attributes: dict[str, str | int] = {
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.destination.name": topic,
                "messaging.consumer.group.name": group,
                "messaging.destination.partition.id": str(item.partition),
                "messaging.kafka.offset": item.offset,
                "messaging.batch.message_count": len(items),
            }
            if item.event_id is not None:
                attributes["messaging.message.id"] = attributes["cloudevents.event_id"] = item.event_id
            if item.type is not None:
                attributes["cloudevents.event_type"] = item.type
            if item.aggregate_id is not None:
                attributes["leadflow.aggregate_id"] = str(item.aggregate_id)
            span = tracer.start_span(f"{topic} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes)
            item.trace = trace.set_span_in_context(span, otel_context.Context())
            spans.append(span)
        if not spans:
            yield
            return
        token = otel_context.attach(trace.set_span_in_context(spans[0]))
        links = _UNIT_LINKS.set(tuple(Link(s.get_span_context()) for s in spans[1 : MAX_LINKS + 1]))
        try:
            yield
        except BaseException as exc:
            _failed(spans, exc)
            raise
        finally:
            _UNIT_LINKS.reset(links)
            otel_context.detach(token)
            for span in spans:
                span.end()


class PublishSpans:
    """The publish spans of one relay batch (none when tracing is off)."""

    def __init__(
        self, tracer: trace.Tracer | None = None, topic: str = "", messages: Sequence[tuple[int, Outgoing]] = ()
    ) -> None:
        self._spans: list[trace.Span] = []
        if tracer is None:
            return
        for notification_id, message in messages:
            headers = message.headers
            stored = {name: headers[f"ce_{name}"] for name in _CARRIED if f"ce_{name}" in headers}
            parent = _PROPAGATOR.extract(stored) if stored else otel_context.Context()
            span = tracer.start_span(
                f"{topic} publish",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.operation.name": "publish",
                    "messaging.destination.name": topic,
                    "messaging.message.id": headers.get("ce_id", ""),
                    "messaging.kafka.message.key": message.key.decode("utf-8", "replace"),
                    "cloudevents.event_id": headers.get("ce_id", ""),
                    "cloudevents.event_type": headers.get("ce_type", ""),
                    "leadflow.notification_id": notification_id,
                },
            )
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span, otel_context.Context()))
            for name in _CARRIED:
                headers.pop(f"ce_{name}", None)
            headers.update({f"ce_{name}": value for name, value in carrier.items()})
            self._spans.append(span)

    def end(self, error: BaseException | None = None) -> None:
        """The batch was acknowledged (or failed with `error`)."""
        if error is not None:
            _failed(self._spans, error)
        for span in self._spans:
            span.end()
        self._spans = []


_NO_SPANS = PublishSpans()


# -- the store thread (no service at hand: found through the application) ------------------


def handling(app: Any, item: Incoming) -> _Handling:
    """While one message's use case runs: its ids in the log lines, its span current (so the
    events it produces carry its trace on). A message back from the parked table has no span of
    its own: its events continue the trace it arrived with."""
    context = item.trace
    if context is None and item.trace_carrier:
        tracing = _TRACING_OF.get(app)
        if tracing is not None and tracing.enabled:
            context = _PROPAGATOR.extract(item.trace_carrier)
    return _Handling(item.event_id, item.aggregate_id, context)


class _Handling:
    __slots__ = ("_aggregate_id", "_context", "_event_id", "_tokens")

    def __init__(self, event_id: str | None, aggregate_id: Any, context: otel_context.Context | None) -> None:
        self._event_id, self._aggregate_id, self._context = event_id, aggregate_id, context
        self._tokens: tuple[Token[Any], Token[Any], object | None] | None = None

    def __enter__(self) -> None:
        attached = otel_context.attach(self._context) if self._context is not None else None
        self._tokens = (EVENT_ID.set(self._event_id), AGGREGATE_ID.set(self._aggregate_id), attached)

    def __exit__(self, exc_type: object, exc: BaseException | None, traceback: object) -> None:
        assert self._tokens is not None
        event_token, aggregate_token, attached = self._tokens
        if attached is not None:
            if exc is not None:
                _failed([trace.get_current_span()], exc)
            otel_context.detach(attached)  # type: ignore[arg-type]
        AGGREGATE_ID.reset(aggregate_token)
        EVENT_ID.reset(event_token)


def stamp(events: Sequence[Any], start: int = 0) -> None:
    """Keep the current trace context with the new domain events `events[start:]` (stored with
    them, read by the relay). Nothing when no span is current (tracing off)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    for index in range(start, len(events)):
        object.__setattr__(events[index], TRACE_FIELD, carrier)


def storing(app: Any, events: int) -> contextlib.AbstractContextManager[Any]:
    """A `store record` span around a unit of work's commit, within a traced operation."""
    if not trace.get_current_span().get_span_context().is_valid:
        return _NOTHING
    tracing = _TRACING_OF.get(app)
    if tracing is None or tracing.tracer is None:
        return _NOTHING
    return tracing.tracer.start_as_current_span(
        "store record", links=_UNIT_LINKS.get(), attributes={"leadflow.events": events}
    )


_QUERY_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.query")


def _without_query(span: trace.Span, scope: Mapping[str, Any]) -> None:
    """A request's query string may hold personal data (a name or e-mail to search for): the
    request span keeps the path and route only."""
    if not scope.get("query_string") or not span.is_recording():
        return
    recorded = getattr(span, "attributes", None) or {}
    for name in _QUERY_ATTRIBUTES:
        value = recorded.get(name)
        if isinstance(value, str):
            span.set_attribute(name, "" if name == "url.query" else value.split("?", 1)[0])


def _carrier(value: Any) -> dict[str, str] | None:
    """A stored trace context as it may be read back: only well-formed string entries."""
    if not isinstance(value, Mapping):
        return None
    carrier = {name: value[name] for name in _CARRIED if isinstance(value.get(name), str)}
    return carrier if "traceparent" in carrier else None


def _failed(spans: Sequence[trace.Span], exc: BaseException) -> None:
    """Mark the spans failed, naming only the error's type: an error's text or traceback (its
    causes') may quote a message's content, and traces must not carry personal data. The log
    line and /readyz say what went wrong."""
    for span in spans:
        if span.is_recording():
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
