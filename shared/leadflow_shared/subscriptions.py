"""What a service consumes, declared once per topic, and how one partition's batch is applied.

A service's stream module lists its subscriptions: topic → {CloudEvents type → (contract, use
case)}. Everything else on the topic is tracked and otherwise left alone. This module turns a
polled batch of one partition into one unit of work:

1. `decode` (on the event loop, off the store thread): envelope, size limit, contract
   validation. A message that fails here is a dead letter.
2. `BatchApplier.apply` (on the store thread): the inbox says which versions of each
   aggregate were applied already; a re-sent version is skipped, a version that arrives before
   the one it follows is parked (stored with the batch) until that one has been applied, and
   everything else goes to its use case. All of it is recorded with ONE tracking row.
   A use case that refuses a message's content (a validation or domain error) aborts the
   attempt: the caller dead-letters that message and applies the batch again without it.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ValidationError

from . import envelope, telemetry
from .contracts import IntegrationEvent
from .deadletters import InvalidMessage, SubjectOf
from .store import ParkedMessage, ServiceApplication, tracking_for
from .unit_of_work import UnitOfWork

UseCase = Callable[[UnitOfWork, Any], Any]
TRACE_EXTENSIONS = ("traceparent", "tracestate")


@dataclass(frozen=True)
class Route:
    """One contract on a topic and the use case that applies it."""

    contract: type[BaseModel]
    use_case: UseCase
    aggregates: Callable[[Any], Iterable[UUID]] | None = None
    """The aggregates the use case will look up for a message: looked up for the whole batch at
    once (a batch of new leads then costs one query, not one per lead)."""


@dataclass(frozen=True)
class Subscription:
    """One consumed topic: its contracts and use cases, and how it is read."""

    topic: str
    routes: Mapping[str, Route]
    """CloudEvents type → route. Other types on the topic are tracked and skipped."""
    description: str = ""
    bare_type: str | None = None
    """The CloudEvents type a bare JSON value (no envelope) is read as; None refuses bare values."""
    ordered: bool = True
    """Integration events: apply each aggregate's versions in order, once (the inbox)."""
    max_bytes: int | None = None
    refusals: tuple[type[Exception], ...] = ()
    """Errors a use case raises when the message's content cannot be applied (→ dead letter).
    Anything else is treated as trouble that a retry may fix."""
    unknown_types: Literal["skip", "dead_letter"] = "skip"
    """A CloudEvents type no route names: tracked and skipped (another service's event on a shared
    topic), or a dead letter (an upstream topic, where it means the sender got it wrong)."""
    when_stuck: Literal["wait", "dead_letter"] = "wait"
    """After the retry limit: keep retrying (and say so in /readyz), or dead-letter the message
    that keeps failing and go on."""
    personal_data: SubjectOf | None = None
    """For a topic whose messages carry personal data: whose a message is. Its dead letters are
    then sealed with that subject's data key (leadflow_shared.deadletters.seal)."""
    exclusive: contextlib.AbstractContextManager[Any] | None = None
    """Held around each unit of work (load, use cases, commit) on the store thread. For use cases
    that change the same few aggregates whatever the partition (assignment's sellers): replicas
    on one store then take turns instead of racing, conflicting and applying again
    (leadflow_shared.lease.PostgresAdvisoryMutex). None: optimistic concurrency alone."""

    @property
    def contracts(self) -> list[type[BaseModel]]:
        return [route.contract for route in self.routes.values()]


@dataclass
class Incoming:
    """One consumed record, decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]
    type: str | None = None
    message: BaseModel | None = None
    invalid: InvalidMessage | None = None
    aggregate_id: UUID | None = None
    version: int | None = None
    previous_version: int | None = None
    parked: ParkedMessage | None = None
    """Set when this message comes back out of the parked table."""
    event_id: str | None = None
    """The CloudEvents id (log lines and spans name it)."""
    trace_carrier: dict[str, str] | None = None
    """The CloudEvents `traceparent` / `tracestate` the message came with (W3C trace context)."""
    trace: Any = None
    """The OpenTelemetry context the message is applied in (set by telemetry, when tracing is on)."""

    @property
    def origin(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def ordered(self) -> bool:
        return self.aggregate_id is not None and self.version is not None


def decode(subscription: Subscription, incoming: Incoming) -> Incoming:
    """Fill in type, message and ordering data, or `invalid` with the reason."""
    if not subscription.ordered and subscription.unknown_types == "skip":
        # Another service's event on a shared topic, in binary mode: its type header says it is
        # not one of ours, so its value is not even parsed (only tracked and skipped).
        raw_type = next((v for k, v in incoming.headers if k.lower() == "ce_type"), None)
        header_type = raw_type.decode("utf-8", "replace") if raw_type is not None else None
        if header_type is not None and header_type not in subscription.routes:
            incoming.type = header_type
            return incoming
    try:
        env = envelope.read(incoming.value, incoming.headers, max_bytes=subscription.max_bytes)
        incoming.event_id = env.id
        if "traceparent" in env.extensions:
            extensions = env.extensions
            incoming.trace_carrier = {k: extensions[k] for k in TRACE_EXTENSIONS if isinstance(extensions.get(k), str)}
        ce_type = env.type if env.mode != "bare" else subscription.bare_type
        if ce_type is None:
            raise InvalidMessage("a bare JSON value is not accepted here; send a CloudEvent")
        incoming.type = ce_type
        route = subscription.routes.get(ce_type)
        if route is None and (env.mode == "bare" or subscription.unknown_types == "dead_letter"):
            raise InvalidMessage(f"unexpected CloudEvents type {ce_type!r}; accepted: {', '.join(subscription.routes)}")
        if route is not None:
            try:
                incoming.message = route.contract.model_validate(env.data)
            except ValidationError as exc:
                raise InvalidMessage.from_validation_error(exc) from None
            except RecursionError:
                raise InvalidMessage("validation failed: data nested too deeply") from None
        if subscription.ordered:
            _ordering(incoming, env)
    except InvalidMessage as invalid:
        incoming.invalid = invalid
    return incoming


def _ordering(incoming: Incoming, env: envelope.Envelope) -> None:
    message = incoming.message
    incoming.aggregate_id = env.aggregate_id
    incoming.version = env.aggregate_version
    incoming.previous_version = env.previous_version
    if isinstance(message, IntegrationEvent):
        # The payload is the contract; the extensions only let unrouted types be ordered too.
        if incoming.aggregate_id is not None and incoming.aggregate_id != message.aggregate_id:
            raise InvalidMessage("subject and aggregate_id disagree")
        incoming.aggregate_id = message.aggregate_id
        incoming.version = message.version
        if message.previous_version is not None:
            incoming.previous_version = message.previous_version
    previous, version = incoming.previous_version, incoming.version
    if previous is not None and version is not None and previous >= version:
        raise InvalidMessage("previous version must be lower than the version")


class Refused(Exception):
    """A use case refused one message's content; nothing of the attempt was recorded."""

    def __init__(self, incoming: Incoming, error: InvalidMessage) -> None:
        super().__init__(error.reason)
        self.incoming = incoming
        self.error = error


@dataclass
class Applied:
    applied: int = 0
    duplicates: int = 0
    parked: int = 0
    unparked: int = 0
    notification_id: int | None = None
    refused: list[Incoming] = field(default_factory=list)


class BatchApplier:
    """Applies batches of one subscription to a service's store (runs on the store thread)."""

    def __init__(self, app: ServiceApplication, subscription: Subscription, stream: str) -> None:
        self.app = app
        self.subscription = subscription
        self.stream = stream
        """The consumed topic's full name (with any prefix): the inbox's stream key."""

    def apply(self, items: Sequence[Incoming], *, skip: frozenset[tuple[str, int]] = frozenset()) -> Applied:
        """Apply one partition's messages (in offset order) as one unit of work.

        `skip` names messages (origin, version-or-offset) already dead-lettered in an earlier
        attempt of this batch. Raises Refused (nothing recorded) when a use case refuses a
        message; raises RecordConflictError when another writer got there first.
        """
        last = items[-1]
        with (
            self.subscription.exclusive or contextlib.nullcontext(),
            UnitOfWork(self.app, tracking_for(last.topic, last.partition, last.offset)) as uow,
        ):
            result = self._apply(uow, items, skip)
        result.notification_id = uow.last_notification_id
        return result

    def _apply(self, uow: UnitOfWork, items: Sequence[Incoming], skip: frozenset[tuple[str, int]]) -> Applied:
        result = Applied()
        ordered = [i for i in items if i.invalid is None and i.ordered]
        ids = {i.aggregate_id for i in ordered if i.aggregate_id is not None}
        seen = self.app.recorder.inbox_versions(self.stream, ids) if ids else {}
        waiting: dict[UUID, list[Incoming]] = defaultdict(list)
        for parked in self.app.recorder.parked_messages(self.stream, ids) if ids else []:
            waiting[parked.aggregate_id].append(self._unparked(parked))
        uow.preload(self._aggregates_of(items))
        for item in items:
            if item.invalid is not None or _key(item) in skip:
                continue
            if not item.ordered:
                self._apply_one(uow, item, result)
                continue
            assert item.aggregate_id is not None and item.version is not None
            current = seen.get(item.aggregate_id, 0)
            if item.version <= current:
                result.duplicates += 1
                continue
            if item.previous_version is not None and item.previous_version > current:
                if not any(w.version == item.version for w in waiting[item.aggregate_id]):
                    self._park(uow, item)
                    waiting[item.aggregate_id].append(item)
                    result.parked += 1
                continue
            self._apply_one(uow, item, result)
            self._advance(uow, seen, item)
            self._drain(uow, seen, waiting[item.aggregate_id], result, skip)
        return result

    def _aggregates_of(self, items: Sequence[Incoming]) -> Iterable[UUID]:
        for item in items:
            route = self.subscription.routes.get(item.type or "")
            if route is not None and route.aggregates is not None and item.message is not None:
                yield from route.aggregates(item.message)

    def _apply_one(self, uow: UnitOfWork, item: Incoming, result: Applied) -> None:
        route = self.subscription.routes.get(item.type or "")
        if route is not None:
            assert item.message is not None
            refusals: tuple[type[BaseException], ...] = (InvalidMessage, ValidationError, *self.subscription.refusals)
            # Its ids in the log lines, its trace current: the events it produces carry the trace on.
            with telemetry.handling(self.app, item):
                try:
                    route.use_case(uow, item.message)
                except refusals as exc:
                    raise Refused(item, InvalidMessage.rejected_by_use_case(exc)) from exc  # type: ignore[arg-type]
                uow.flush()
        result.applied += 1

    def _advance(self, uow: UnitOfWork, seen: dict[UUID, int], item: Incoming) -> None:
        assert item.aggregate_id is not None and item.version is not None
        seen[item.aggregate_id] = item.version
        uow.inbox[(self.stream, item.aggregate_id)] = item.version

    def _drain(
        self,
        uow: UnitOfWork,
        seen: dict[UUID, int],
        waiting: list[Incoming],
        result: Applied,
        skip: frozenset[tuple[str, int]],
    ) -> None:
        """Apply parked messages that are now next in line, in version order."""
        while waiting:
            waiting.sort(key=lambda w: w.version or 0)
            head = waiting[0]
            assert head.aggregate_id is not None and head.version is not None
            current = seen.get(head.aggregate_id, 0)
            if head.version > current and (head.previous_version or 0) > current:
                return  # still a gap before it
            waiting.pop(0)
            self._unpark(uow, head)
            if head.version <= current or _key(head) in skip:
                result.duplicates += head.version <= current
                continue
            if head.type is None and head.invalid is None:
                decode(self.subscription, head)  # back from the parked table: read it again
            if head.invalid is not None:
                raise Refused(head, head.invalid)
            self._apply_one(uow, head, result)
            self._advance(uow, seen, head)
            result.unparked += 1

    def _park(self, uow: UnitOfWork, item: Incoming) -> None:
        assert item.aggregate_id is not None and item.version is not None
        item.parked = ParkedMessage(
            stream=self.stream,
            aggregate_id=item.aggregate_id,
            version=item.version,
            previous_version=item.previous_version or 0,
            partition=item.partition,
            offset=item.offset,
            key=item.key,
            value=item.value,
            headers=tuple(item.headers),
            parked_at=time.time(),
        )
        uow.parked.append(item.parked)

    def _unpark(self, uow: UnitOfWork, item: Incoming) -> None:
        if item.parked is None:
            return
        if item.parked in uow.parked:
            uow.parked.remove(item.parked)  # parked and released within this very batch
        else:
            uow.unparked.append((self.stream, item.parked.aggregate_id, item.parked.version))

    def _unparked(self, parked: ParkedMessage) -> Incoming:
        return Incoming(
            topic=parked.stream,
            partition=parked.partition,
            offset=parked.offset,
            key=parked.key,
            value=parked.value,
            headers=parked.headers,
            aggregate_id=parked.aggregate_id,
            version=parked.version,
            previous_version=parked.previous_version,
            parked=parked,
        )


def _key(item: Incoming) -> tuple[str, int]:
    """Identifies a message across attempts of one batch (parked ones by version)."""
    if item.parked is not None:
        return (f"parked:{item.parked.aggregate_id}", item.parked.version)
    return (f"{item.topic}:{item.partition}", item.offset)


def skip_key(item: Incoming) -> tuple[str, int]:
    return _key(item)
