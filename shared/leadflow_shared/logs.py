"""Log lines: one JSON object per line (the default) or plain text, with what is being handled.

Every JSON line carries `timestamp` (UTC, ISO 8601), `level`, `service`, `logger` and `message`,
and, when known, `event_id` (the CloudEvents id of the message being applied), `aggregate_id`
(the lead or other aggregate it is about) and `trace_id` / `span_id` (the OpenTelemetry span
current where the line was written, when tracing is on). Those fields come from context
variables set where a message or a unit of work is handled (`log_context`), so a log call
never has to pass them, and a line written on the store thread while a message is applied
carries that message's ids.

Only ids go into these fields — never personal data (e-mail, phone, names): a message's
content is not logged, and the messages the code writes name records by id and position.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from opentelemetry import trace

EVENT_ID: ContextVar[str | None] = ContextVar("leadflow_log_event_id", default=None)
AGGREGATE_ID: ContextVar[UUID | str | None] = ContextVar("leadflow_log_aggregate_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["json", "text"]


@contextlib.contextmanager
def log_context(*, event_id: str | None = None, aggregate_id: UUID | str | None = None) -> Iterator[None]:
    """Log lines written inside carry this CloudEvents id and aggregate id."""
    event_token = EVENT_ID.set(event_id)
    aggregate_token = AGGREGATE_ID.set(aggregate_id)
    try:
        yield
    finally:
        AGGREGATE_ID.reset(aggregate_token)
        EVENT_ID.reset(event_token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback goes into `exception`, escaped)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event_id = EVENT_ID.get()
        if event_id is not None:
            line["event_id"] = event_id
        aggregate_id = AGGREGATE_ID.get()
        if aggregate_id is not None:
            line["aggregate_id"] = str(aggregate_id)
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            line["trace_id"] = trace.format_trace_id(span_context.trace_id)
            line["span_id"] = trace.format_span_id(span_context.span_id)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: LogFormat, service: str) -> logging.Formatter:
    return JsonFormatter(service) if log_format == "json" else logging.Formatter(TEXT_FORMAT)


# Loggers that bring their own handler and do not propagate: they get ours instead, so every
# line of the process has one format. FastStream adds its own handler to the broker's logger
# unless that logger already writes to stdout (so ours does); uvicorn is started without a
# logging config of its own (runtime.serve), its loggers propagate to the root.
_OWN_HANDLERS = {"faststream": sys.stderr, "faststream.access.kafka": sys.stdout}


QUIET = ("aiokafka", "httpx")
"""Loggers kept to warnings: aiokafka's chatter, and httpx's line per request, which carries the
URL with its query string (a lookup by e-mail would put the address in the log)."""


def configure(log_format: LogFormat = "json", service: str = "leadflow", level: int = logging.INFO) -> None:
    """Send every log line of the process to stderr in `log_format`, at `level` and above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format, service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, stream in _OWN_HANDLERS.items():
        own = logging.getLogger(name)
        for old in list(own.handlers):
            own.removeHandler(old)
        quiet = logging.StreamHandler(stream)
        quiet.setFormatter(handler.formatter)
        quiet.setLevel(level)  # FastStream logs each batch at DEBUG on a logger set to DEBUG
        own.addHandler(quiet)
        own.propagate = False
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
