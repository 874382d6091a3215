"""Dead letters, inspected and redriven: once a fix is deployed, each dead letter of `<topic>.dlq`
goes back to `<topic>` as it first arrived — its original key, value and headers, without
leadflow's own `leadflow_*` headers — exactly once.

A sealed dead letter (from a topic that carries personal data, see `deadletters.seal`) is opened
with the service's data keys first; one whose data subject was erased since cannot be opened and
is skipped — nothing of it is sent. A dead letter stored truncated is skipped too (the sender has
to send it again; its SHA-256 identifies it). Both are counted in the report.

Exactly once: the redrive ledger `<topic>.dlq.redrives` holds one record per redriven letter
(key `partition:offset` of the letter), written in the same Kafka transaction as the message
sent back to `<topic>`: both become visible together or not at all, and `<topic>`'s consumers
read with `isolation_level=read_committed`. A redrive reads the ledger and skips what it lists.
Every redrive of one topic uses the same transactional id, so a second run started beside the
first fences it (the first stops: `RedriveTakenOver`) and reads the ledger only once the first
one's last transaction has ended — committed or aborted. A run killed mid-way leaves at most one
open transaction; the next run's start aborts it (or the broker does, after
`TRANSACTION_TIMEOUT_MS`), and its messages are never seen by a read_committed consumer.

A redrive stops at the end offsets it saw when it started, so a message that fails again goes
back to the DLQ (a new dead letter) and waits for the next fix. Before the ledger, a consumer
group `leadflow-redrive-<topic>` remembered how far a redrive got; letters below its committed
offsets count as redriven.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import InvalidProducerEpoch, KafkaError, ProducerFenced
from aiokafka.structs import ConsumerRecord
from faststream.security import BaseSecurity

from .deadletters import open_sealed
from .kafka import client_options, ensure_topics
from .personal import DataKeys
from .settings import ServiceSettings
from .topics import REDRIVE_LEDGER_CONFIG, dead_letter_topic, redrive_ledger_topic

Headers = list[tuple[str, bytes]]
Keys = DataKeys | Callable[[], DataKeys]
"""The service's data keys, or how to open them (only a sealed letter needs them)."""

DEFAULT_BATCH_SIZE = 200
"""Dead letters per Kafka transaction."""
TRANSACTION_TIMEOUT_MS = 30_000
"""A killed redrive's open transaction holds back `<topic>`'s read_committed consumers until the
next redrive aborts it, at the latest this long."""
_EMPTY_POLLS = 3


@dataclass(frozen=True)
class DeadLetterSource:
    """What a service tells `leadflow dlq`: the topics it consumes (whose dead letters it makes),
    its settings (Kafka, topic prefix), and how to open its data keys (sealed letters)."""

    service: str
    consumes: tuple[str, ...]
    settings: Callable[[], ServiceSettings]
    data_keys: Callable[[ServiceSettings], contextlib.AbstractContextManager[DataKeys]]


def data_keys_of(
    application: Callable[..., Any],
) -> Callable[[ServiceSettings], contextlib.AbstractContextManager[DataKeys]]:
    """`DeadLetterSource.data_keys` for a service: its application opened on the store the
    settings name, closed after (it only reads the key table, so it may run beside the service)."""

    @contextlib.contextmanager
    def opened(settings: ServiceSettings) -> Iterator[DataKeys]:
        app = application(env=settings.eventsourcing_env())
        try:
            yield app.data_keys
        finally:
            app.close()

    return opened


class NoSuchTopic(LookupError):
    pass


class RedriveTakenOver(RuntimeError):
    """Another redrive of the same topic started and fenced this one; it carries on."""


@dataclass
class RedriveReport:
    looked_at: int = 0
    """Dead letters selected (by --since / --group), whatever became of them."""
    redriven: int = 0
    """Sent back in this run (with dry_run: would be)."""
    already_redriven: int = 0
    """Listed in the ledger: sent back by an earlier run, not again."""
    erased: int = 0
    """Sealed letters whose subject was erased: unreadable, not sent."""
    truncated: int = 0
    """Stored cut to the size limit: not sent (the sender has to send them again)."""
    total: int = 0
    """Dead letters in the selected offset range (known at the start)."""


@dataclass(frozen=True)
class Redriven:
    at: str | None
    sent_to: str | None = None
    """`topic:partition:offset` of the message sent back."""
    before_ledger: bool = False
    """Redriven by a redrive of before the ledger (its consumer group's offset)."""


@dataclass(frozen=True)
class StoredDeadLetter:
    """One record of `<topic>.dlq`, as stored."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes | None
    headers: Headers
    redriven: Redriven | None = None

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> StoredDeadLetter:
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
            key=record.key,
            value=record.value,
            headers=[(name, raw or b"") for name, raw in record.headers or ()],
        )

    @property
    def ident(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        raw = dict(self.headers).get(name)
        return None if raw is None else raw.decode("utf-8", "replace")

    @property
    def origin(self) -> str:
        return self.header("leadflow_origin") or "?"

    @property
    def consumer_group(self) -> str:
        return self.header("leadflow_consumer_group") or "?"

    @property
    def sealed(self) -> bool:
        return self.header("leadflow_sealed") is not None

    @property
    def truncated(self) -> bool:
        return self.header("leadflow_truncated") == "true"

    @property
    def error(self) -> str:
        return self.header("leadflow_error") or ""

    @property
    def reason(self) -> str:
        with contextlib.suppress(ValueError, AttributeError):
            return str(json.loads(self.error)["reason"])
        return self.error


def original_of(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]], keys: Keys
) -> tuple[bytes | None, bytes | None, Headers] | str:
    """The message as it first arrived, or why it cannot be sent again ("erased", "truncated")."""
    named = dict(headers)
    if named.get("leadflow_truncated") == b"true":
        return "truncated"
    if "leadflow_sealed" not in named:
        return key, value, [(k, v) for k, v in headers if not k.startswith("leadflow_")]
    opened = open_sealed(keys if isinstance(keys, DataKeys) else keys(), value or b"null")
    if opened is None:
        return "erased"
    return (
        _unb64(opened["key"]),
        _unb64(opened["value"]),
        [(name, _unb64(raw) or b"") for name, raw in opened["headers"] if not name.startswith("leadflow_")],
    )


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


# -- reading --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _reader(bootstrap: str, security: BaseSecurity | None) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        **client_options(security),
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition] | None:
    # `topics()` fetches the metadata without keeping it; `partitions_for_topic` reads only what
    # is kept: ask the client for the cluster's metadata and read the partitions from it.
    cluster = await consumer._client.fetch_all_metadata()
    if topic not in cluster.topics():
        return None
    return [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]


async def _read_range(
    consumer: AIOKafkaConsumer, start: dict[TopicPartition, int], end: dict[TopicPartition, int], batch_size: int
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """The records between start and end offsets, partition by partition (aborted ones left out)."""
    consumer.assign(list(start))
    for tp, offset in start.items():
        if offset >= end[tp]:
            continue
        consumer.seek(tp, offset)
        empty = 0
        while await consumer.position(tp) < end[tp] and empty < _EMPTY_POLLS:
            records = (await consumer.getmany(tp, timeout_ms=2000, max_records=batch_size)).get(tp, [])
            empty = 0 if records else empty + 1
            records = [r for r in records if r.offset < end[tp]]
            if records:
                yield records


class RedriveLedger(dict[tuple[int, int], Redriven]):
    """Redriven dead letters by (partition, offset), and how far the consumer group of redrives
    before the ledger got, per partition."""

    def __init__(self, entries: dict[tuple[int, int], Redriven], before: dict[int, int]) -> None:
        super().__init__(entries)
        self.before = before

    def of(self, partition: int, offset: int) -> Redriven | None:
        if (partition, offset) in self:
            return self[(partition, offset)]
        if offset < self.before.get(partition, 0):
            return Redriven(at=None, before_ledger=True)
        return None


async def read_ledger(topic: str, bootstrap: str, *, security: BaseSecurity | None = None) -> RedriveLedger:
    """`topic`'s redriven dead letters, by (partition, offset) in `<topic>.dlq`: the ledger's
    committed records, and those below the offsets of the consumer group redrives used before."""
    found: dict[tuple[int, int], Redriven] = {}
    async with _reader(bootstrap, security) as consumer:
        partitions = await _partitions(consumer, redrive_ledger_topic(topic))
        if partitions:
            start = await consumer.beginning_offsets(partitions)
            end = await consumer.end_offsets(partitions)
            async for records in _read_range(consumer, start, end, 1000):
                for record in records:
                    with contextlib.suppress(ValueError, AttributeError, TypeError):
                        partition, offset = (int(n) for n in (record.key or b"").decode().split(":"))
                        entry = json.loads(record.value or b"{}")
                        found[(partition, offset)] = Redriven(at=entry.get("redriven_at"), sent_to=entry.get("sent_to"))
    return RedriveLedger(found, await _before_ledger(topic, bootstrap, security))


async def _before_ledger(topic: str, bootstrap: str, security: BaseSecurity | None) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-dlq", **client_options(security))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"leadflow-redrive-{topic}")
    except KafkaError:
        return {}
    finally:
        await admin.close()
    dlq = dead_letter_topic(topic)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == dlq and meta.offset >= 0}


@dataclass
class _Selection:
    since: datetime | None = None
    group: str | None = None
    partition: int | None = None
    offset: int | None = None

    def wants(self, letter: StoredDeadLetter) -> bool:
        if self.group is not None and letter.consumer_group != self.group:
            return False
        return self.since is None or letter.timestamp >= self.since


async def read_dead_letters(
    topic: str,
    bootstrap: str,
    *,
    security: BaseSecurity | None = None,
    since: datetime | None = None,
    group: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_total: Callable[[int], Any] | None = None,
) -> AsyncIterator[list[StoredDeadLetter]]:
    """`<topic>.dlq`'s dead letters (dead-lettered at or after `since`; of consumer group `group`),
    up to the end offsets when called, in batches, without their redrive status."""
    selection = _Selection(since=since, group=group)
    async with _reader(bootstrap, security) as consumer:
        partitions = await _partitions(consumer, dead_letter_topic(topic))
        if partitions is None:
            raise NoSuchTopic(dead_letter_topic(topic))
        end = await consumer.end_offsets(partitions)
        start = await consumer.beginning_offsets(partitions)
        if since is not None:
            found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
            start = {tp: end[tp] if found.get(tp) is None else found[tp].offset for tp in partitions}
        if on_total is not None:
            on_total(sum(end[tp] - start[tp] for tp in partitions))
        async for records in _read_range(consumer, start, end, batch_size):
            letters = [letter for letter in map(StoredDeadLetter.of, records) if selection.wants(letter)]
            if letters:
                yield letters


async def list_dead_letters(
    topic: str,
    bootstrap: str,
    *,
    security: BaseSecurity | None = None,
    since: datetime | None = None,
    group: str | None = None,
) -> AsyncIterator[StoredDeadLetter]:
    """`<topic>.dlq`'s dead letters with their redrive status (see `read_dead_letters`)."""
    ledger = await read_ledger(topic, bootstrap, security=security)
    async for letters in read_dead_letters(topic, bootstrap, security=security, since=since, group=group):
        for letter in letters:
            yield _with_status(letter, ledger)


async def dead_letter_at(
    topic: str, bootstrap: str, partition: int, offset: int, *, security: BaseSecurity | None = None
) -> StoredDeadLetter | None:
    """One dead letter of `<topic>.dlq` with its redrive status, or None if there is none there."""
    dlq = dead_letter_topic(topic)
    async with _reader(bootstrap, security) as consumer:
        partitions = await _partitions(consumer, dlq)
        if partitions is None:
            raise NoSuchTopic(dlq)
        tp = TopicPartition(dlq, partition)
        if tp not in partitions:
            return None
        end = (await consumer.end_offsets([tp]))[tp]
        async for records in _read_range(consumer, {tp: offset}, {tp: min(end, offset + 1)}, 1):
            for record in records:
                if record.offset == offset:
                    ledger = await read_ledger(topic, bootstrap, security=security)
                    return _with_status(StoredDeadLetter.of(record), ledger)
    return None


def _with_status(letter: StoredDeadLetter, ledger: RedriveLedger) -> StoredDeadLetter:
    status = ledger.of(letter.partition, letter.offset)
    if status is None:
        return letter
    return StoredDeadLetter(**{**letter.__dict__, "redriven": status})


# -- redriving ------------------------------------------------------------------------------


@dataclass
class _LazyKeys:
    given: Keys
    opened: DataKeys | None = field(default=None)

    def __call__(self) -> DataKeys:
        if self.opened is None:
            self.opened = self.given if isinstance(self.given, DataKeys) else self.given()
        return self.opened


async def redrive(
    topic: str,
    bootstrap: str,
    keys: Keys,
    *,
    security: BaseSecurity | None = None,
    since: datetime | None = None,
    group: str | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[RedriveReport], Any] | None = None,
    create_ledger: bool = True,
    replication: int = 1,
) -> RedriveReport:
    """Send `topic`'s dead letters (those selected by `since` and `group`) back to it, each once:
    one Kafka transaction per batch sends the originals and records them in the ledger. `topic`
    with its prefix, if any. `progress` is called after each batch. With `dry_run` nothing is
    sent: the report says what would be. Raises RedriveTakenOver when another run took over.

    The ledger topic is created when missing (`replication` replicas at most), unless
    `create_ledger` is false (production: the platform makes topics; a missing one is an error)."""
    ledger_topic = redrive_ledger_topic(topic)
    keys_once = _LazyKeys(keys)
    report = RedriveReport()
    producer: AIOKafkaProducer | None = None
    if not dry_run:
        await ensure_topics(
            bootstrap,
            {ledger_topic: 1},
            security,
            configs={ledger_topic: REDRIVE_LEDGER_CONFIG},
            create=create_ledger,
            min_replication=replication,
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            transactional_id=f"leadflow-redrive-{topic}",
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            **client_options(security),
        )
        await producer.start()
    try:
        if producer is not None:
            # Waits for the producer id: from here on an earlier run of this topic is fenced and
            # its open transaction ended, so the ledger read next holds all it committed.
            await producer.begin_transaction()
        ledger = await read_ledger(topic, bootstrap, security=security)

        def total(count: int) -> None:
            report.total = count

        async for letters in read_dead_letters(
            topic, bootstrap, security=security, since=since, group=group, batch_size=batch_size, on_total=total
        ):
            sends: list[tuple[StoredDeadLetter, tuple[bytes | None, bytes | None, Headers]]] = []
            for letter in letters:
                report.looked_at += 1
                if ledger.of(letter.partition, letter.offset) is not None:
                    report.already_redriven += 1
                    continue
                original = original_of(letter.key, letter.value, letter.headers, keys_once)
                if isinstance(original, str):
                    setattr(report, original, getattr(report, original) + 1)  # erased / truncated
                else:
                    sends.append((letter, original))
            if producer is not None and sends:
                await _send_in_transaction(producer, topic, ledger_topic, sends)
            report.redriven += len(sends)
            if progress is not None:
                progress(report)
        if producer is not None:
            await producer.commit_transaction()  # the one begun after the last batch: empty
    except (ProducerFenced, InvalidProducerEpoch) as exc:
        raise RedriveTakenOver(f"another redrive of {topic} started and took over") from exc
    except BaseException:
        if producer is not None:
            with contextlib.suppress(Exception):  # else the next run (or the broker's timeout) aborts it
                await asyncio.wait_for(producer.abort_transaction(), 10)
        raise
    finally:
        if producer is not None:
            await producer.stop()
    return report


async def _send_in_transaction(
    producer: AIOKafkaProducer,
    topic: str,
    ledger_topic: str,
    sends: list[tuple[StoredDeadLetter, tuple[bytes | None, bytes | None, Headers]]],
) -> None:
    """The originals to `topic` and their ledger records, committed together; then the next
    transaction begins."""
    sent = await asyncio.gather(
        *[await producer.send(topic, value=value, key=key, headers=headers) for _, (key, value, headers) in sends]
    )
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    entries = [
        await producer.send(
            ledger_topic,
            key=letter.ident.encode(),
            value=json.dumps(
                {
                    "dead_letter": f"{letter.topic}:{letter.ident}",
                    "origin": letter.origin,
                    "consumer_group": letter.consumer_group,
                    "sent_to": f"{meta.topic}:{meta.partition}:{meta.offset}",
                    "redriven_at": now,
                }
            ).encode(),
        )
        for (letter, _), meta in zip(sends, sent, strict=True)
    ]
    await asyncio.gather(*entries)
    await producer.commit_transaction()
    await producer.begin_transaction()
