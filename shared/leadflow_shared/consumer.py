"""Tracked consumers on FastStream: exactly-once processing over at-least-once delivery.

Each Subscription becomes one FastStream batch subscriber (manual ack: auto-commit off). A
poll's records are grouped by partition; each partition's share is decoded on the event loop,
its dead letters published, and the rest applied on the store thread as one unit of work that
records the events with ONE tracking row (`<topic>:<partition>` = last offset + 1).

The tracking table is the truth; Kafka's committed offset is a hint committed now and then.
On assignment the rebalance listener holds each partition until it has sought it to its
tracked position, so a lost or lagging committed offset neither skips nor repeats work; a
position that cannot be read keeps the partition held, named by `/readyz`, and is read again.

FastStream with AckPolicy.MANUAL installs no error handling (an escaping exception silently
skips the batch), so nothing escapes here: a failure seeks the partition back to its tracked
position, pauses it for a back-off that doubles per attempt, and after `stuck_after_attempts`
attempts or `stuck_after_seconds` seconds on the same offset `/readyz` names the topic,
partition, offset and error until the message is applied (or, for subscriptions that ask for
it, dead-lettered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from eventsourcing.persistence import InterfaceError, OperationalError, RecordConflictError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage as KafkaMessageParam
from faststream.kafka.message import KafkaMessage

from .deadletters import DeadLetter, DeadLetterPublisher, InvalidMessage, seal
from .health import Health
from .metrics import ServiceMetrics, Stopwatch
from .store import ServiceApplication, StoreWorker
from .subscriptions import Applied, BatchApplier, Incoming, Refused, Subscription, decode, skip_key
from .telemetry import Tracing

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer

log = logging.getLogger(__name__)

_INFRASTRUCTURE: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, sqlite3.OperationalError)
_INFRASTRUCTURE += (psycopg.OperationalError, KafkaError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class ConsumerSettings:
    group_id: str
    max_records: int = 1000
    batch_timeout_ms: int = 100
    stuck_after_attempts: int = 5
    stuck_after_seconds: float = 30.0
    max_backoff_seconds: float = 10.0
    conflicts_before_split: int = 3
    hint_interval_seconds: float = 1.0


@dataclass
class PartitionState:
    position: int
    """The next offset to apply (= the tracked position)."""
    failures: int = 0
    failing_since: float | None = None
    failing_offset: int | None = None
    error: str = ""
    one_by_one: bool = False
    """After repeated conflicts or when stuck: apply message by message."""
    gap_checked_from: int | None = None
    """The position sought back to when a fetch began past it (once: a gap that is still there
    on the next fetch has nothing in it)."""


async def _raw_batch(records: tuple[ConsumerRecord[bytes, bytes], ...], _: Any) -> KafkaMessage:
    """FastStream's own batch parser decodes every header as UTF-8 (a header with other bytes
    would kill the batch before the handler sees it): hand over the records untouched."""
    return KafkaMessage(
        body=b"",
        headers={},
        raw_message=records,
        path={},
        message_id=f"{records[0].offset}-{records[-1].offset}" if records else "",
        correlation_id="",
        consumer=None,  # type: ignore[arg-type]
    )


async def _no_body(_: Any, __: Any) -> None:
    return None


class TrackedConsumer:
    """One subscription's consumer: FastStream subscriber, partition positions, failures."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        subscription: Subscription,
        topic: str,
        app: ServiceApplication,
        worker: StoreWorker,
        dead_letters: DeadLetterPublisher,
        health: Health,
        settings: ConsumerSettings,
        service_name: str,
        metrics: ServiceMetrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.subscription = subscription
        self.tracing = tracing or Tracing()
        self.topic = topic
        self.app = app
        self.worker = worker
        self.dead_letters = dead_letters
        self.health = health
        self.settings = settings
        self.applier = BatchApplier(app, subscription, topic)
        metrics = metrics or ServiceMetrics()
        labels = (topic, settings.group_id)
        self._consumed = metrics.consumed.labels(*labels)
        self._applied = metrics.applied.labels(*labels)
        self._dead_lettered = metrics.dead_lettered.labels(*labels)
        self._retried = metrics.retried.labels(*labels)
        self._batch_size = metrics.batch_size.labels(*labels)
        self._apply_seconds = metrics.apply_seconds.labels(*labels)
        metrics.follow_partitions(settings.group_id, self.positions)
        self.states: dict[TopicPartition, PartitionState] = {}
        self.applied = self.dead_lettered = self.duplicates = self.parked = self.retries = 0
        self.skipped_as_seen = self.batches = 0
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_hint = 0.0
        self._retries: set[asyncio.Future[None]] = set()
        self._held: dict[TopicPartition, int] = {}  # partitions whose position could not be read: attempts
        self.subscriber = broker.subscriber(
            topic,
            batch=True,
            group_id=settings.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # A crashed member's partitions move after 6 s (the broker's minimum), not 10.
            session_timeout_ms=6000,
            # Members learn of a rebalance at their next heartbeat, and each subscription of a
            # service joins the group on its own: at 2 s a start took intake ~7 s, at 0.5 s 2.3 s.
            heartbeat_interval_ms=500,
            max_records=settings.max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            fetch_max_wait_ms=100,
            listener=_SeekToTracked(self),
            parser=_raw_batch,
            decoder=_no_body,
            title=f"{topic}:{service_name}",
            description=subscription.description or None,
        )

        async def handle(message: KafkaMessageParam) -> None:
            await self.handle(message.raw_message)

        self.subscriber(handle)

    # -- the loop's view ----------------------------------------------------------------

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        return self.subscriber.consumer

    def positions(self) -> list[tuple[TopicPartition, int, int | None]]:
        """(partition, tracked position, high watermark) of each partition this consumer holds."""
        consumer = self.consumer
        if consumer is None:
            return []
        return [(tp, state.position, consumer.highwater(tp)) for tp, state in list(self.states.items())]

    def is_running(self) -> bool:
        tasks = getattr(self.subscriber, "tasks", [])
        return bool(self.subscriber.running) and not any(t.done() for t in tasks)

    async def handle(self, records: tuple[ConsumerRecord[bytes, bytes], ...]) -> None:
        """One poll: group by partition, apply each partition's share. Never raises."""
        if self._stopping or not records:
            return  # not applied, not tracked: the next owner of the partition redoes them
        self._consumed.inc(len(records))
        self._in_flight += 1
        self._idle.clear()
        by_partition: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)
        for record in records:
            by_partition[TopicPartition(record.topic, record.partition)].append(record)
        # The states these records were fetched under: a partition (re)assigned while they are in
        # hand was sought to its tracked position, which delivers them again.
        held = {tp: self.states.get(tp) for tp in by_partition}
        try:
            for tp, partition_records in by_partition.items():
                await self._partition(tp, held[tp], partition_records)
            self.batches += 1
            await self._maybe_commit_hint()
        except Exception as exc:  # a bug: never let FastStream skip the batch silently
            log.exception("consumer of %s failed on a batch; rewinding", self.topic)
            for tp in by_partition:
                state = self.states.get(tp)
                if state is not None:
                    self._failed(tp, state, state.position, exc)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def _partition(
        self, tp: TopicPartition, state: PartitionState | None, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        if state is None or self.states.get(tp) is not state:
            return  # not assigned when fetched, or revoked since: delivered again from the tracked position
        fresh = [r for r in records if r.offset >= state.position]
        self.skipped_as_seen += len(records) - len(fresh)
        if not fresh:
            return
        if fresh[0].offset > state.position:
            if state.gap_checked_from != state.position:
                # Records before these were handed out but not applied: go back for them.
                state.gap_checked_from = state.position
                self._seek(tp, state.position)
                return
            # Fetched again from the tracked position and the log still starts later: those
            # offsets hold nothing to read (transaction markers, aborted records, or records
            # removed by retention). Carry on from here; the next commit tracks past them.
            log.info(
                "%s:%s has no records in offsets %s-%s", tp.topic, tp.partition, state.position, fresh[0].offset - 1
            )
            state.position = fresh[0].offset
        state.gap_checked_from = None
        items = [decode(self.subscription, _incoming(r)) for r in fresh]
        try:
            await self._dead_letter([i for i in items if i.invalid is not None])
            if state.one_by_one:
                await self._apply_one_by_one(tp, state, items)
            else:
                await self._apply_batch(tp, state, items)
        except Exception as exc:
            self._failed(tp, state, state.position, exc)
            return
        if state.failures:
            log.info(
                "%s:%s applied from offset %s after %s attempts",
                tp.topic,
                tp.partition,
                fresh[0].offset,
                state.failures,
            )
            state.failures, state.failing_since, state.failing_offset, state.error = 0, None, None, ""
            state.one_by_one = False
        if self.states.get(tp) is state:
            self.health.clear(self._problem_name(tp))

    async def _apply_batch(self, tp: TopicPartition, state: PartitionState, items: list[Incoming]) -> None:
        conflicts = 0
        while True:
            try:
                await self._apply(items, state)
                return
            except RecordConflictError:
                if await self._done_elsewhere(tp, state, items[-1].offset):
                    return
                conflicts += 1
                self.retries += 1
                self._retried.inc()
                log.info("version conflict applying %s:%s; retrying (attempt %s)", tp.topic, tp.partition, conflicts)
                if conflicts >= self.settings.conflicts_before_split:
                    log.info("%s:%s keeps conflicting; applying message by message", tp.topic, tp.partition)
                    await self._apply_one_by_one(tp, state, items)
                    return
                await asyncio.sleep(random.uniform(0.0, 0.01 * conflicts))  # apart from the rival writer

    async def _apply_one_by_one(self, tp: TopicPartition, state: PartitionState, items: list[Incoming]) -> None:
        for item in items:
            if item.offset < state.position:
                continue
            try:
                await self._apply_contended(tp, state, item)
            except RecordConflictError:
                raise  # still conflicting after the immediate retries: back off (see `_failed`)
            except Exception as exc:
                if not state.one_by_one or self.subscription.when_stuck != "dead_letter" or is_infrastructure(exc):
                    raise  # the store or the broker is in trouble: nothing to blame the message for
                # Stuck on this very message and the subscription says: park it in the DLQ.
                reason = InvalidMessage(f"gave up after {state.failures} attempts: {type(exc).__name__}: {exc}")
                await self._dead_letter([_with_error(item, reason)])
                await self.worker.call(self.app.recorder.insert_tracking, _tracking(item))
                state.position = item.offset + 1

    async def _apply_contended(self, tp: TopicPartition, state: PartitionState, item: Incoming) -> None:
        """One message, tried again at once on fresh state when another writer changed the same
        aggregate first (as `ServiceApplication.execute_at` does for commands), a few times."""
        for attempt in range(1, self.settings.conflicts_before_split + 1):
            try:
                await self._apply([item], state)
                return
            except RecordConflictError:
                if await self._done_elsewhere(tp, state, item.offset):
                    return
                if attempt == self.settings.conflicts_before_split:
                    raise
                self.retries += 1
                self._retried.inc()
                await asyncio.sleep(random.uniform(0.0, 0.01 * attempt))

    async def _apply(self, items: list[Incoming], state: PartitionState) -> None:
        """Apply, dead-lettering each message a use case refuses and applying the rest again."""
        skip: set[tuple[str, int]] = set()
        while True:
            try:
                with (
                    Stopwatch(self._apply_seconds.observe),
                    self.tracing.consuming(self.topic, self.settings.group_id, items),  # a span per record
                ):
                    result: Applied = await self.worker.call(self.applier.apply, items, skip=frozenset(skip))
            except Refused as refused:
                await self._dead_letter([_with_error(refused.incoming, refused.error)])
                skip.add(skip_key(refused.incoming))
                continue
            self.applied += result.applied
            self._applied.inc(result.applied)
            self._batch_size.observe(len(items))
            self.duplicates += result.duplicates
            self.parked += result.parked
            state.position = items[-1].offset + 1
            return

    async def _done_elsewhere(self, tp: TopicPartition, state: PartitionState, last_offset: int) -> bool:
        """A conflict on the tracking row: another consumer (the partition's previous or next
        owner) applied these messages first. Its position stands."""
        tracked = await self.worker.call(self.app.tracked_position, f"{tp.topic}:{tp.partition}")
        if tracked is not None and tracked > last_offset:
            state.position = tracked
            self._seek(tp, tracked)
            return True
        return False

    async def _sealer(self, letter: DeadLetter) -> DeadLetter:
        """A topic carrying personal data: its dead letters go out sealed (see deadletters.seal)."""
        assert self.subscription.personal_data is not None
        return await self.worker.call(seal, letter, self.app.data_keys, self.subscription.personal_data)

    async def _dead_letter(self, items: list[Incoming]) -> None:
        for item in items:
            assert item.invalid is not None
            letter = DeadLetter(
                topic=item.topic,
                partition=item.partition,
                offset=item.offset,
                key=item.key,
                value=item.value,
                headers=item.headers,
                error=item.invalid,
            )
            await self.dead_letters.publish(letter, self._sealer if self.subscription.personal_data else None)
            self.dead_lettered += 1
            self._dead_lettered.inc()
            log.warning("dead-lettered %s: %s", item.origin, item.invalid.reason)

    # -- failures -----------------------------------------------------------------------

    def _failed(self, tp: TopicPartition, state: PartitionState, offset: int, exc: BaseException) -> None:
        now = time.monotonic()
        state.failures += 1
        state.failing_since = state.failing_since or now
        state.failing_offset = offset
        state.error = f"{type(exc).__name__}: {exc}"[:500]
        self.retries += 1
        self._retried.inc()
        delay = min(self.settings.max_backoff_seconds, 0.1 * 2 ** min(state.failures - 1, 10))
        stuck = (
            state.failures >= self.settings.stuck_after_attempts
            or now - state.failing_since >= self.settings.stuck_after_seconds
        )
        if stuck:
            state.one_by_one = True
            self.health.report(
                self._problem_name(tp),
                f"{tp.topic} partition {tp.partition} stuck at offset {offset} after {state.failures} attempts: "
                f"{state.error}",
            )
        log.warning(
            "applying %s:%s@%s failed (attempt %s, next in %.1fs): %s",
            tp.topic,
            tp.partition,
            offset,
            state.failures,
            delay,
            state.error,
            exc_info=state.failures == 1,
        )
        self._seek(tp, state.position)
        consumer = self.consumer
        if consumer is None:
            return
        with contextlib.suppress(Exception):
            consumer.pause(tp)
            asyncio.get_running_loop().call_later(delay, self._resume, tp)

    def _resume(self, tp: TopicPartition) -> None:
        consumer = self.consumer
        if consumer is not None and tp in consumer.assignment():
            with contextlib.suppress(Exception):
                consumer.resume(tp)

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        consumer = self.consumer
        if consumer is not None and tp in consumer.assignment():
            consumer.seek(tp, offset)

    def _problem_name(self, tp: TopicPartition) -> str:
        return f"consumer {tp.topic}:{tp.partition}"

    # -- positions ------------------------------------------------------------------------

    async def rewind(self, partition: int, offset: int) -> None:
        """Have Kafka deliver a partition again from `offset` (tests prove redelivery changes
        nothing; operators replay). The position is re-read from the store."""
        tp = TopicPartition(self.topic, partition)
        position = await self.worker.call(self.app.tracked_position, f"{tp.topic}:{tp.partition}")
        if tp in self.states:
            self.states[tp].position = position or 0
        self._seek(tp, offset)

    async def _maybe_commit_hint(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_hint < self.settings.hint_interval_seconds:
            return
        self._last_hint = now
        consumer = self.consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        offsets = {tp: OffsetAndMetadata(s.position, "") for tp, s in self.states.items() if tp in assigned}
        if offsets:
            try:
                await consumer.commit(offsets)
            except Exception as exc:  # the hint is optional; the store holds the truth
                log.info("offset commit skipped: %s", exc)

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self.consumer
        assert consumer is not None
        if not assigned:
            return
        # Hold the partitions before the first await: aiokafka fetches a partition as soon as it
        # is assigned (from the committed offset or the reset policy), and records fetched before
        # the seek below would be handed to the handler only to be skipped as already applied.
        consumer.pause(*assigned)
        for tp in assigned:
            await self._take(tp)

    async def _take(self, tp: TopicPartition) -> None:
        """Seek an assigned partition to its tracked position and let it flow. While the store or
        the broker cannot say where that is, the partition stays held, `/readyz` says so, and
        this is tried again after the longest back-off."""
        consumer = self.consumer
        if consumer is None or tp not in consumer.assignment() or tp in self.states:
            return
        try:
            end = (await consumer.end_offsets([tp]))[tp]
            position = await self.worker.call(self.app.tracked_position, f"{tp.topic}:{tp.partition}")
        except Exception as exc:
            attempts = self._held[tp] = self._held.get(tp, 0) + 1
            reason = f"{type(exc).__name__}: {exc}"[:500]
            self.health.report(
                self._problem_name(tp),
                f"{tp.topic} partition {tp.partition} is held: its tracked position could not be read "
                f"after {attempts} attempts ({reason})",
            )
            delay = min(self.settings.max_backoff_seconds, 0.5 * 2 ** min(attempts - 1, 10))
            log.warning("cannot take %s:%s yet (attempt %s): %s", tp.topic, tp.partition, attempts, reason)
            asyncio.get_running_loop().call_later(delay, self._take_later, tp)
            return
        self._held.pop(tp, None)
        if position is not None and position > end:
            # The store has applied more of this partition than the log holds: the topic was
            # recreated or the store belongs to another cluster. Consuming would silently skip
            # every new message below the tracked position — refuse loudly (the partition stays held).
            self.health.report(
                self._problem_name(tp),
                f"tracked position {position} is beyond the end of the log ({end}); "
                "the topic was recreated or this store belongs to another cluster",
            )
            return
        # Offset 0, not seek_to_beginning(): that one waits on the fetcher, which is held
        # during a rebalance. If 0 is gone (retention), the reset policy picks the earliest.
        consumer.seek(tp, position or 0)
        self.states[tp] = PartitionState(position=position or 0)
        self.health.clear(self._problem_name(tp))
        consumer.resume(tp)
        log.info("assigned %s:%s from tracked position %s", tp.topic, tp.partition, position)

    def _take_later(self, tp: TopicPartition) -> None:
        task = asyncio.ensure_future(self._take(tp))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._maybe_commit_hint(force=True)
        for tp in revoked:
            self.states.pop(tp, None)
            self._held.pop(tp, None)
            self.health.clear(self._problem_name(tp))

    # -- stopping -------------------------------------------------------------------------

    async def drain(self, timeout: float) -> None:
        """Take no new batch; let the one in hand finish; commit the hint."""
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        await self._maybe_commit_hint(force=True)


class _SeekToTracked(ConsumerRebalanceListener):  # type: ignore[misc]
    """FastStream gives the listener no consumer: it reaches it through the subscriber."""

    def __init__(self, owner: TrackedConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._owner._on_assigned(assigned)


def is_infrastructure(exc: BaseException) -> bool:
    """Trouble of the store or the broker (waits, never a dead letter), as opposed to a failure
    that comes with one message (a bug, bad data a check missed)."""
    return isinstance(exc, _INFRASTRUCTURE) or any(isinstance(c, _INFRASTRUCTURE) for c in _causes(exc))


def _causes(exc: BaseException) -> list[BaseException]:
    found, seen = [], {id(exc)}
    while (exc := exc.__cause__ or exc.__context__) is not None and id(exc) not in seen:  # type: ignore[assignment]
        seen.add(id(exc))
        found.append(exc)
    return found


def _incoming(record: ConsumerRecord[bytes, bytes]) -> Incoming:
    return Incoming(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )


def _with_error(item: Incoming, error: InvalidMessage) -> Incoming:
    item.invalid = error
    return item


def _tracking(item: Incoming) -> Any:
    from .store import tracking_for

    return tracking_for(item.topic, item.partition, item.offset)
