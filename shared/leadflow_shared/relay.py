"""The outbox relay: the event store's notification log is the outbox.

The relay reads new notifications after its own tracked position, publishes each one that
maps to an integration event (key = aggregate id, so one aggregate's events stay in order
on one partition), waits for the broker's acknowledgement of the whole batch, and only
then records the new position. A crash between publishing and recording re-sends the
batch on restart: a message may appear twice, never zero times. Consumers are idempotent
on (aggregate id, version) for exactly that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from eventsourcing.persistence import Notification, RecordConflictError, Tracking

from .cloudevents import Headers, to_binary
from .contracts import IntegrationEvent
from .lease import PublishLease
from .store import ServiceApplication, StoreWorker

log = logging.getLogger(__name__)

EventMapper = Callable[[Any], IntegrationEvent | None]
"""Domain event → integration event, or None for events that stay inside the service."""


class OutboxRelay:
    """Publishes one application's new domain events to one topic."""

    def __init__(
        self,
        *,
        app: ServiceApplication,
        worker: StoreWorker,
        producer: AIOKafkaProducer,
        topic: str,
        to_integration_event: EventMapper,
        source: str,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.2,
        lease: PublishLease | None = None,
    ) -> None:
        self._app = app
        self._worker = worker
        self._producer = producer
        self.topic = topic
        self._to_integration_event = to_integration_event
        self._source = source
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._lease = lease
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.position_name = f"relay:{topic}"
        self.published = 0

    def wake(self) -> None:
        """Tell the relay new events were stored (saves waiting for the next poll)."""
        self._wake.set()

    async def position(self) -> int:
        return (await self._worker.call(self._app.tracked_position, self.position_name)) or 0

    async def publish_next_batch(self) -> tuple[int, int | None]:
        """Publish the next batch and wait for the broker; returns (sent, last notification id).

        Does not record the position: `record_position` does that, separately, so tests can
        cut the relay off between the two steps the way a crash would.
        """
        start = await self.position()
        # Read and map on the store thread: a mapper may look up the aggregate it describes.
        messages, last_id = await self._worker.call(self._read_batch, start)
        pending = [
            await self._producer.send(self.topic, value=value, key=key, headers=headers)
            for key, value, headers in messages
        ]
        await asyncio.gather(*pending)
        return len(pending), last_id

    def _read_batch(self, start: int) -> tuple[list[tuple[bytes, bytes, Headers]], int | None]:
        notifications: list[Notification] = list(self._app.recorder.select_notifications(start + 1, self._batch_size))
        messages = []
        for notification in notifications:
            domain_event = self._app.mapper.to_domain_event(notification)
            integration_event = self._to_integration_event(domain_event)
            if integration_event is not None:
                time = getattr(domain_event, "timestamp", None) or datetime.now(UTC)
                messages.append(to_binary(integration_event, source=self._source, time=time))
        return messages, (notifications[-1].id if notifications else None)

    async def record_position(self, last_id: int) -> None:
        try:
            await self._worker.call(self._app.recorder.insert_tracking, Tracking(self.position_name, last_id))
        except RecordConflictError:
            # Another relay process got further first (it held the lease before us); its
            # position stands, and we carry on from there.
            log.info("relay position for %s already beyond %s", self.topic, last_id)

    async def drain(self) -> int:
        """Publish everything stored so far; returns how many messages were sent."""
        total = 0
        while True:
            sent, last_id = await self.publish_next_batch()
            if last_id is None:
                return total
            await self.record_position(last_id)
            total += sent
            self.published += sent

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._lease is not None and not await self._lease.hold():
                    await self._sleep_or_wake(self._lease.retry_seconds)
                    continue
                await self.drain()
            except Exception:
                log.exception("relay to %s failed; retrying", self.topic)
                await asyncio.sleep(1.0)
                continue
            await self._sleep_or_wake(self._idle_poll_seconds)
        if self._lease is None or await self._lease.hold():
            await self.drain()  # flush what was stored before the stop
        if self._lease is not None:
            await self._lease.release()

    async def _sleep_or_wake(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
