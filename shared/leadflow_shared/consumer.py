"""Tracked Kafka consumers: exactly-once processing over at-least-once delivery.

Each message is applied to the service's event store together with a Tracking row
(name `<topic>:<partition>`, position = offset + 1) in one transaction. The tracking table
is the truth about progress; Kafka's committed offset is only a hint that is committed after
the store transaction. On partition assignment the consumer seeks to the tracked position,
so a lost or lagging committed offset neither skips nor repeats work, and a message at or
below the tracked position is never applied again.

FastStream's subscribers acknowledge before the handler's effects are durable (at-most-once
by default) and give no hook to seek to a store-held position on rebalance, so this loop is
written directly on aiokafka.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from eventsourcing.persistence import RecordConflictError, Tracking

from .cloudevents import Headers
from .deadletters import DeadLetter, DeadLetterPublisher, InvalidMessage
from .store import StoreWorker, tracking_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One Kafka message handed to a handler, with the tracking row it must record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int

    @property
    def tracking(self) -> Tracking:
        return tracking_for(self.topic, self.partition, self.offset)


Handler = Callable[[Delivery], None]
"""Runs on the store thread; records its events with `delivery.tracking` atomically.
Raises InvalidMessage for a message that must go to the dead-letter topic."""


class TrackedConsumer:
    """Consumes `handlers`' topics in one group and applies each message exactly once."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        handlers: Mapping[str, Handler],
        worker: StoreWorker,
        tracked_position: Callable[[str], int | None],
        record_tracking: Callable[[Tracking], None],
        dead_letters: DeadLetterPublisher,
        max_records: int = 500,
    ) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._handlers = dict(handlers)
        self._worker = worker
        self._tracked_position = tracked_position
        self._record_tracking = record_tracking
        self._dead_letters = dead_letters
        self._max_records = max_records
        self._positions: dict[TopicPartition, int] = {}
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self.applied = 0
        self.dead_lettered = 0
        self.skipped_as_seen = 0
        self.retries = 0
        self.problems: dict[str, str] = {}
        """Partitions this consumer refuses to consume, with why (reported by /readyz)."""

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # A crashed member's partitions move after 6 s (the broker's minimum), not 10.
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
        )
        self._consumer.subscribe(list(self._handlers), listener=_SeekToTracked(self))
        await self._consumer.start()

    async def run(self) -> None:
        """Poll and apply until `stop()`; commits the hint after each applied batch."""
        assert self._consumer is not None, "start() first"
        consumer = self._consumer
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=200, max_records=self._max_records)
            except Exception:
                log.exception("polling %s failed; retrying", ", ".join(self._handlers))
                await asyncio.sleep(1.0)
                continue
            for tp, records in batches.items():
                for record in records:
                    if self._stopping.is_set():
                        break
                    await self._apply(
                        tp,
                        Delivery(
                            topic=record.topic,
                            partition=record.partition,
                            offset=record.offset,
                            key=record.key,
                            value=record.value,
                            headers=list(record.headers or ()),
                            timestamp_ms=record.timestamp,
                        ),
                    )
            if batches:
                await self._commit_hint()

    async def rewind(self, topic: str, partition: int, offset: int) -> None:
        """Have Kafka deliver a partition again from `offset` (replays, and the tests that
        prove a redelivery changes nothing). The tracked position is re-read from the store."""
        assert self._consumer is not None
        tp = TopicPartition(topic, partition)
        position = await self._worker.call(self._tracked_position, f"{topic}:{partition}")
        if position is not None:
            self._positions[tp] = position
        self._consumer.seek(tp, offset)

    async def stop(self) -> None:
        """Stop after the message in hand, commit the hint, leave the group."""
        self._stopping.set()

    async def close(self) -> None:
        if self._consumer is not None:
            try:
                await self._commit_hint()
            finally:
                await self._consumer.stop()
                self._consumer = None

    async def _apply(self, tp: TopicPartition, delivery: Delivery) -> None:
        tracked = self._positions.get(tp)
        if tracked is not None and delivery.offset < tracked:
            self.skipped_as_seen += 1  # redelivered: already in the store
            return
        handler = self._handlers[delivery.topic]
        attempt = 0
        while True:
            try:
                await self._worker.call(handler, delivery)
                self.applied += 1
                break
            except InvalidMessage as invalid:
                await self._dead_letter(delivery, invalid)
                break
            except RecordConflictError:
                # Another writer changed the same aggregate (or tracking row) first. If that
                # was this very message, the store already has it; otherwise reload and retry.
                position = await self._worker.call(self._tracked_position, delivery.tracking.application_name)
                if position is not None and delivery.offset < position:
                    break
                log.info("conflict applying %s:%s@%s; retrying", delivery.topic, delivery.partition, delivery.offset)
            except Exception:
                # Infrastructure trouble or a bug: never skip the message; retry with back-off.
                log.exception("applying %s:%s@%s failed; retrying", delivery.topic, delivery.partition, delivery.offset)
            if self._stopping.is_set():
                return  # not applied, not tracked: the next owner of the partition redoes it
            attempt += 1
            self.retries += 1
            await asyncio.sleep(min(5.0, 0.01 * 2 ** min(attempt, 9)))
        self._positions[tp] = delivery.offset + 1

    async def _dead_letter(self, delivery: Delivery, invalid: InvalidMessage) -> None:
        await self._dead_letters.publish(
            DeadLetter(
                topic=delivery.topic,
                partition=delivery.partition,
                offset=delivery.offset,
                key=delivery.key,
                value=delivery.value,
                headers=delivery.headers,
                error=invalid,
            )
        )
        await self._worker.call(self._record_tracking, delivery.tracking)
        self.dead_lettered += 1
        log.warning("dead-lettered %s:%s@%s: %s", delivery.topic, delivery.partition, delivery.offset, invalid.reason)

    async def _commit_hint(self) -> None:
        if self._consumer is None:
            return
        assigned = self._consumer.assignment()
        offsets = {tp: OffsetAndMetadata(pos, "") for tp, pos in self._positions.items() if tp in assigned}
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except Exception as exc:  # the hint is optional; the store holds the truth
                log.info("offset commit skipped: %s", exc)

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(list(assigned)) if assigned else {}
        for tp in assigned:
            position = await self._worker.call(self._tracked_position, f"{tp.topic}:{tp.partition}")
            if position is not None and position > ends.get(tp, position):
                # The store has applied more of this partition than the log holds: the topic
                # was recreated or the store belongs to another cluster. Consuming would
                # silently skip every new message below the tracked position — refuse loudly.
                self.problems[f"{tp.topic}:{tp.partition}"] = (
                    f"tracked position {position} is beyond the end of the log ({ends[tp]}); "
                    "the topic was recreated or this store belongs to another cluster"
                )
                log.error(
                    "not consuming %s:%s: %s", tp.topic, tp.partition, self.problems[f"{tp.topic}:{tp.partition}"]
                )
                self._consumer.pause(tp)
                continue
            if position is None:
                self._positions.pop(tp, None)
                # Offset 0, not seek_to_beginning(): that one waits on the fetcher, which is
                # held during a rebalance. If 0 is gone (retention), the reset policy picks
                # the earliest offset still there.
                self._consumer.seek(tp, 0)
            else:
                self._positions[tp] = position
                self._consumer.seek(tp, position)
            log.info("assigned %s:%s from tracked position %s", tp.topic, tp.partition, position)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._commit_hint()
        for tp in revoked:
            self._positions.pop(tp, None)


class _SeekToTracked(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: TrackedConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._owner._on_assigned(assigned)
