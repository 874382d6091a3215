"""The outbox relay: the event store's notification log is the outbox.

A Publication names the topic, and for each domain event class that goes out, how it becomes
an integration event. The relay reads only notifications of those classes (filtered in the
database), maps them on the store thread, publishes each through FastStream's publisher
(key = aggregate id, so one aggregate's events stay in order on one partition) without
awaiting each acknowledgement, awaits the whole batch, and only then records its position.
A crash between publishing and recording re-sends the batch: a message may appear twice,
never zero times, and consumers recognise the copy by (aggregate id, version).

Each published event also says which version of the same aggregate was published on this
topic before it (`previous_version`), so a consumer can tell "a later event" from "a gap".

Every failure is loud: a mapping or send failure (a message over the producer's limit too)
makes `/readyz` name the notification id and the error until it goes through; after a send
failure the producer is recreated. The publishing lease (one publisher per store) is checked
before every batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import RecordConflictError, Recording, Tracking

from .contracts import IntegrationEvent
from .envelope import Outgoing, to_binary
from .health import Health
from .lease import PublishLease
from .metrics import ServiceMetrics
from .moves import stored_topics
from .store import ServiceApplication, StoreWorker
from .telemetry import Tracing

log = logging.getLogger(__name__)

Mapper = Callable[[Any], IntegrationEvent]


@dataclass(frozen=True)
class Publication:
    """One published topic: domain event class → integration event, for every class that goes out."""

    topic: str
    mappers: Mapping[type[Any], Mapper]
    contracts: Sequence[type[IntegrationEvent]]
    """What travels on the topic (for the AsyncAPI document)."""
    description: str = ""
    enrich: Callable[[IntegrationEvent], IntegrationEvent] | None = None
    """Runs on the store thread after mapping (e.g. to add identifiers the event lacks)."""

    def stored_topics(self) -> list[str]:
        """Every topic the mapped classes are stored under (old ones of moved classes too)."""
        return stored_topics(self.mappers)

    def map(self, domain_event: Any) -> IntegrationEvent:
        event = self.mappers[type(domain_event)](domain_event)
        return self.enrich(event) if self.enrich is not None else event


Send = Callable[..., Awaitable[Any]]


class RelayFailure(Exception):
    def __init__(self, notification_id: int | None, error: BaseException) -> None:
        where = f"notification {notification_id}" if notification_id is not None else "a batch"
        super().__init__(f"{where}: {type(error).__name__}: {error}"[:600])
        self.notification_id = notification_id


class OutboxRelay:
    """Publishes one application's new domain events of one Publication to one topic."""

    def __init__(
        self,
        *,
        app: ServiceApplication,
        worker: StoreWorker,
        publication: Publication,
        topic: str,
        send: Send,
        source: str,
        health: Health,
        recreate_producer: Callable[[], Awaitable[None]] | None = None,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
        lease: PublishLease | None = None,
        remembered_aggregates: int = 20_000,
        metrics: ServiceMetrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._app = app
        self._tracing = tracing or Tracing()
        self._worker = worker
        self.publication = publication
        self.topic = topic
        self._send = send
        self._source = source
        self._health = health
        self._recreate_producer = recreate_producer
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._lease = lease
        self._topics = publication.stored_topics()
        self._topic_set = frozenset(self._topics)
        self._last_published: OrderedDict[UUID, int] = OrderedDict()
        self._published_versions: dict[UUID, list[int]] = {}
        self._remembered = remembered_aggregates
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.position_name = f"relay:{topic}"
        self.published = 0
        self.failures = 0
        self.stored_position = 0
        metrics = metrics or ServiceMetrics()
        self._published_count = metrics.relay_published.labels(topic)
        self._publish_seconds = metrics.relay_publish_seconds.labels(topic)

    @property
    def name(self) -> str:
        return f"relay {self.topic}"

    # -- wiring ---------------------------------------------------------------------------

    def listener(self, loop: asyncio.AbstractEventLoop) -> Callable[[list[Recording[UUID]]], None]:
        """For `app.on_recorded` (store thread): wake the relay when something it publishes was stored."""

        def on_recorded(recordings: list[Recording[UUID]]) -> None:
            if any(r.notification.topic in self._topic_set for r in recordings):
                loop.call_soon_threadsafe(self._wake.set)

        return on_recorded

    def wake(self) -> None:
        self._wake.set()

    # -- publishing -----------------------------------------------------------------------

    async def position(self) -> int:
        return (await self._worker.call(self._app.tracked_position, self.position_name)) or 0

    async def publish_next_batch(self) -> tuple[int, int | None]:
        """Publish the next batch and wait for the broker; returns (sent, position reached).

        Does not record the position: `record_position` does that, separately, so tests can
        cut the relay off between the two steps the way a crash would.
        """
        start = await self.position()
        messages, reached = await self._worker.call(self._read_batch, start)
        spans = self._tracing.publishing(self.topic, messages)
        failing: int | None = None
        try:
            pending = []
            for notification_id, message in messages:
                failing = notification_id
                pending.append(
                    await self._send(message.value, key=message.key, headers=message.headers, no_confirm=True)
                )
            failing = None
            await asyncio.gather(*pending)
        except Exception as exc:
            spans.end(exc)
            raise RelayFailure(failing if failing is not None else _first(messages), exc) from exc
        spans.end()
        return len(messages), reached

    def _read_batch(self, start: int) -> tuple[list[tuple[int, Outgoing]], int | None]:
        recorder = self._app.recorder
        newest = recorder.max_notification_id() or 0
        if newest <= start:
            return [], None
        recent = self._app.recent.read(start, newest, self._topic_set, self._batch_size)
        if recent is not None:  # written by this process: no need to read and decode them again
            events = recent
            reached = events[-1][0] if len(events) == self._batch_size else newest
        else:
            notifications = recorder.select_notifications(start + 1, self._batch_size, stop=newest, topics=self._topics)
            events = [(n.id, n) for n in notifications]
            reached = notifications[-1].id if len(notifications) == self._batch_size else newest
        mapped = []
        for notification_id, stored in events:
            try:
                domain_event = stored if recent is not None else self._app.mapper.to_domain_event(stored)
                mapped.append((notification_id, domain_event, self.publication.map(domain_event)))
            except Exception as exc:
                raise RelayFailure(notification_id, exc) from exc
        self._look_up_previous([(event.aggregate_id, event.version) for _, _, event in mapped])
        messages = []
        for notification_id, domain_event, event in mapped:
            try:
                event = event.model_copy(update={"previous_version": self._previous(event.aggregate_id, event.version)})
                time = getattr(domain_event, "timestamp", None) or datetime.now(UTC)
                trace = self._tracing.stored_context(domain_event)  # the request's, carried by the publish span
                messages.append((notification_id, to_binary(event, source=self._source, time=time, extensions=trace)))
            except Exception as exc:
                raise RelayFailure(notification_id, exc) from exc
        # Fewer rows than asked for: nothing else of ours up to `newest`, so the position may jump there.
        return messages, reached

    def _previous(self, aggregate_id: UUID, version: int) -> int:
        """The version of this aggregate's previous event on this topic (0: none)."""
        known = self._last_published.get(aggregate_id)
        if version <= 1:
            previous = 0
        elif known is not None and known < version:
            previous = known
        else:
            published = self._published_versions.get(aggregate_id, [])
            previous = max((v for v in published if v < version), default=0)
        self._last_published[aggregate_id] = version
        self._last_published.move_to_end(aggregate_id)
        if len(self._last_published) > self._remembered:
            self._last_published.popitem(last=False)
        return previous

    def _look_up_previous(self, events: list[tuple[UUID, int]]) -> None:
        """One query for every aggregate of the batch whose previous published version is not
        remembered (a restart, or an aggregate first seen at a later version)."""
        unknown: set[UUID] = set()
        earlier: dict[UUID, int] = {}
        for aggregate_id, version in events:
            known = earlier.get(aggregate_id, self._last_published.get(aggregate_id))
            if version > 1 and (known is None or known >= version):
                unknown.add(aggregate_id)
            earlier[aggregate_id] = version
        stored = self._app.recorder.events_of(unknown, topics=self._topics) if unknown else {}
        self._published_versions = {i: [e.originator_version for e in stored.get(i, [])] for i in unknown}

    async def record_position(self, reached: int) -> None:
        try:
            await self._worker.call(self._app.recorder.insert_tracking, Tracking(self.position_name, reached))
        except RecordConflictError:
            # Another relay process got further first (it held the lease before us); its
            # position stands, and we carry on from there.
            log.info("relay position for %s already beyond %s", self.topic, reached)
        self.stored_position = reached

    async def drain(self) -> int:
        """Publish everything stored so far; returns how many messages were sent."""
        total = 0
        while True:
            sent, reached = await self.publish_next_batch()
            if reached is None:
                return total
            await self.record_position(reached)
            total += sent
            self.published += sent

    # -- BackgroundJob --------------------------------------------------------------------

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._lease is not None and not await self._lease.hold():
                    await self._sleep_or_wake(self._lease.retry_seconds)
                    continue
                self._wake.clear()
                started = time.perf_counter()
                sent, reached = await self.publish_next_batch()
                if reached is not None:
                    await self.record_position(reached)
                    self.published += sent
                    if sent:
                        self._publish_seconds.observe(time.perf_counter() - started)
                        self._published_count.inc(sent)
                if self.failures:
                    log.info("relay to %s recovered after %s failures", self.topic, self.failures)
                    self.failures = 0
                    self._health.clear(self.name)
                if reached is None:
                    await self._sleep_or_wake(self._idle_poll_seconds)
            except Exception as exc:
                self.failures += 1
                where = f"stuck at {exc}" if isinstance(exc, RelayFailure) else f"failing: {type(exc).__name__}: {exc}"
                self._health.report(self.name, f"relay to {self.topic} {where}")
                log.warning("relay to %s failed (attempt %s): %s", self.topic, self.failures, exc)
                if self._recreate_producer is not None and isinstance(exc, RelayFailure):
                    with contextlib.suppress(Exception):
                        await self._recreate_producer()
                await self._sleep_or_stop(min(10.0, 0.2 * 2 ** min(self.failures - 1, 6)))
        if self._lease is None or await self._lease.hold():
            with contextlib.suppress(Exception):
                await self.drain()  # flush what was stored before the stop
        if self._lease is not None:
            await self._lease.release()

    async def _sleep_or_wake(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _sleep_or_stop(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()


def _first(messages: list[tuple[int, Outgoing]]) -> int | None:
    return messages[0][0] if messages else None
