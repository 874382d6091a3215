"""Redrive: once a fix is deployed, send each dead letter of `<topic>.dlq` back to `<topic>` as it
first arrived — its original key, value and headers, without leadflow's own `leadflow_*` headers.

A sealed dead letter (from a topic that carries personal data, see `deadletters.seal`) is opened
with the service's data keys first; one whose data subject was erased since cannot be opened and
is skipped — nothing of it is sent. A dead letter stored truncated is skipped too (the sender has
to send it again; its SHA-256 identifies it). Both are counted in the report.

The consumer group `leadflow-redrive-<topic>` remembers what was redriven, so running it again
repeats nothing; it stops at the end offsets it saw when it started, so a message that fails
again goes back to the DLQ and waits for the next fix. Safe to repeat: consumers are idempotent.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.security import BaseSecurity

from .deadletters import open_sealed
from .kafka import client_options
from .personal import DataKeys
from .topics import dead_letter_topic

Headers = list[tuple[str, bytes]]


@dataclass
class RedriveReport:
    redriven: int = 0
    erased: int = 0
    """Sealed letters whose subject was erased: unreadable, not sent."""
    truncated: int = 0
    """Stored cut to the size limit: not sent (the sender has to send them again)."""


def original_of(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]], keys: DataKeys
) -> tuple[bytes | None, bytes | None, Headers] | str:
    """The message as it first arrived, or why it cannot be sent again ("erased", "truncated")."""
    named = dict(headers)
    if named.get("leadflow_truncated") == b"true":
        return "truncated"
    if "leadflow_sealed" not in named:
        return key, value, [(k, v) for k, v in headers if not k.startswith("leadflow_")]
    opened = open_sealed(keys, value or b"null")
    if opened is None:
        return "erased"
    return (
        _unb64(opened["key"]),
        _unb64(opened["value"]),
        [(name, _unb64(raw) or b"") for name, raw in opened["headers"] if not name.startswith("leadflow_")],
    )


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


async def redrive(
    topic: str,
    bootstrap: str,
    keys: DataKeys,
    *,
    security: BaseSecurity | None = None,
    progress: Callable[[RedriveReport], Any] | None = None,
) -> RedriveReport:
    """Send `topic`'s dead letters back to it (`topic` with its prefix, if any)."""
    dlq = dead_letter_topic(topic)
    options = client_options(security)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"leadflow-redrive-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **options,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", **options)
    report = RedriveReport()
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(dlq, p) for p in sorted(await producer.partitions_for(dlq))]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < end[tp]:
                records = (await consumer.getmany(tp, timeout_ms=5000)).get(tp, [])
                if not records:
                    break
                for record in records:
                    if record.offset >= end[tp]:
                        break
                    original = original_of(record.key, record.value, list(record.headers), keys)
                    if isinstance(original, str):
                        setattr(report, original, getattr(report, original) + 1)  # erased / truncated
                    else:
                        key, value, headers = original
                        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
                        report.redriven += 1
                    await consumer.commit({tp: record.offset + 1})
                    if progress is not None:
                        progress(report)
    finally:
        await producer.stop()
        await consumer.stop()
    return report
