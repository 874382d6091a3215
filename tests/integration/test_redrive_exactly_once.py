"""`leadflow dlq` on real Kafka: each dead letter is redriven exactly once — run twice, run
concurrently, killed mid-transaction and run again — counted on the topic with read_committed.

The dead letters are written the way a consumer writes them (DeadLetterPublisher), to a topic
only sequence consumes (so the command finds the service's settings by itself)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from harness import new_prefix, read_topic
from typer.testing import CliRunner

from leadflow_shared.cli import app
from leadflow_shared.deadletters import DeadLetter, DeadLetterPublisher, InvalidMessage
from leadflow_shared.kafka import ensure_topics
from leadflow_shared.personal import DataKeys
from leadflow_shared.redrive import RedriveReport, RedriveTakenOver, redrive
from leadflow_shared.topics import SEQUENCES_SIGNALS

pytestmark = pytest.mark.integration

GROUP = "leadflow-sequence"


def no_keys() -> DataKeys:
    raise AssertionError("these dead letters are not sealed: no data keys needed")


async def topics_for(bootstrap: str, partitions: int = 3) -> str:
    topic = new_prefix() + SEQUENCES_SIGNALS
    await ensure_topics(bootstrap, {topic: partitions, topic + ".dlq": partitions})
    return topic


async def dead_letters(bootstrap: str, topic: str, numbers: range) -> None:
    """Dead letters of messages `{"n": i}` (key `k<i>`, a trace header), as a consumer writes them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()

    async def send(
        value: bytes | None, to: str, key: bytes | None = None, headers: dict[str, str] | None = None
    ) -> None:
        encoded = [(name, text.encode()) for name, text in (headers or {}).items()]
        await producer.send_and_wait(to, value=value, key=key, headers=encoded)

    publisher = DeadLetterPublisher(send, consumer_group=GROUP)
    try:
        for i in numbers:
            letter = DeadLetter(
                topic=topic,
                partition=i % 3,
                offset=i,
                key=f"k{i}".encode(),
                value=json.dumps({"n": i}).encode(),
                headers=[("trace", f"t-{i}".encode())],
                error=InvalidMessage("validation failed: data.signal"),
            )
            await publisher.publish(letter)
    finally:
        await producer.stop()


async def committed(bootstrap: str, topic: str) -> Counter[int]:
    """How often each message `{"n": i}` is on `topic`, as a read_committed consumer sees it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    seen: Counter[int] = Counter()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
        assert partitions, f"{topic} does not exist"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + 20
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            assert asyncio.get_running_loop().time() < deadline, "topic not read within 20 s"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    assert record.key == f"k{json.loads(record.value or b'')['n']}".encode()
                    assert dict(record.headers) == {"trace": f"t-{json.loads(record.value or b'')['n']}".encode()}
                    seen[json.loads(record.value or b"")["n"]] += 1
    finally:
        await consumer.stop()
    return seen


def once_each(numbers: range) -> Counter[int]:
    return Counter(dict.fromkeys(numbers, 1))


def counts(report: RedriveReport) -> tuple[int, int, int, int]:
    return report.redriven, report.already_redriven, report.erased, report.truncated


async def test_each_dead_letter_is_redriven_once_however_often_redrive_runs(kafka_bootstrap: str) -> None:
    topic = await topics_for(kafka_bootstrap)
    await dead_letters(kafka_bootstrap, topic, range(0, 6))
    await asyncio.sleep(0.05)
    cut = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await dead_letters(kafka_bootstrap, topic, range(6, 12))

    dry = await redrive(topic, kafka_bootstrap, no_keys, dry_run=True)
    assert counts(dry) == (12, 0, 0, 0) and dry.total == 12

    recent = await redrive(topic, kafka_bootstrap, no_keys, since=cut, batch_size=2)
    assert counts(recent) == (6, 0, 0, 0)
    assert await committed(kafka_bootstrap, topic) == once_each(range(6, 12))

    rest = await redrive(topic, kafka_bootstrap, no_keys, batch_size=4)
    assert counts(rest) == (6, 6, 0, 0)
    again = await redrive(topic, kafka_bootstrap, no_keys)
    assert counts(again) == (0, 12, 0, 0)
    assert await committed(kafka_bootstrap, topic) == once_each(range(12))


async def test_a_second_redrive_started_beside_a_first_takes_over_and_each_letter_goes_once(
    kafka_bootstrap: str,
) -> None:
    topic = await topics_for(kafka_bootstrap)
    await dead_letters(kafka_bootstrap, topic, range(60))
    under_way = asyncio.Event()

    def progress(report: RedriveReport) -> None:
        if report.redriven >= 5:
            under_way.set()

    first = asyncio.create_task(redrive(topic, kafka_bootstrap, no_keys, batch_size=1, progress=progress))
    await asyncio.wait_for(under_way.wait(), 30)
    second = await redrive(topic, kafka_bootstrap, no_keys, batch_size=1)
    (outcome,) = await asyncio.gather(first, return_exceptions=True)

    # Fenced by the second, it stopped: with ProducerFenced (RedriveTakenOver), or, when the
    # broker (Kafka 4) answers the fenced run's EndTxn with an error aiokafka does not name, with
    # that KafkaError. Either way its open batch was aborted (checked below: once each).
    assert isinstance(outcome, RedriveTakenOver | KafkaError), outcome
    assert second.already_redriven >= 5 and second.redriven + second.already_redriven == 60
    assert await committed(kafka_bootstrap, topic) == once_each(range(60))
    last = await redrive(topic, kafka_bootstrap, no_keys)
    assert counts(last) == (0, 60, 0, 0)


CRASHING_REDRIVE = """
import asyncio, sys
from aiokafka import AIOKafkaProducer
from leadflow_shared.redrive import redrive

commit = AIOKafkaProducer.commit_transaction
calls = 0


async def stuck_on_the_second_commit(self):
    global calls
    calls += 1
    if calls == 2:  # the second batch is sent (not committed): hang here until killed
        print("STUCK", flush=True)
        await asyncio.sleep(3600)
    await commit(self)


AIOKafkaProducer.commit_transaction = stuck_on_the_second_commit
asyncio.run(redrive(sys.argv[1], sys.argv[2], lambda: None, batch_size=3))
"""


async def test_a_redrive_killed_between_send_and_commit_is_completed_by_the_next_once(
    kafka_bootstrap: str,
) -> None:
    topic = await topics_for(kafka_bootstrap, partitions=1)
    await dead_letters(kafka_bootstrap, topic, range(10))

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING_REDRIVE, topic, kafka_bootstrap, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line.strip() == b"STUCK"
        # the first batch is committed, the second sent in the transaction left open
        first = sum((await committed(kafka_bootstrap, topic)).values())
        sent = len(await read_topic(kafka_bootstrap, topic, expect=first + 1, settle=0.5))
        assert 0 < first < sent < 10
    finally:
        process.kill()  # SIGKILL: no abort, no clean-up
        await process.wait()

    report = await redrive(topic, kafka_bootstrap, no_keys, batch_size=3)
    assert counts(report) == (10 - first, first, 0, 0)
    assert await committed(kafka_bootstrap, topic) == once_each(range(10))
    # the killed run's second batch is on the topic too, aborted: read_committed never sees it
    uncommitted = sent - first
    assert len(await read_topic(kafka_bootstrap, topic, expect=10 + uncommitted, settle=0.5)) == 10 + uncommitted


async def test_the_leadflow_command_lists_shows_and_redrives(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = await topics_for(kafka_bootstrap)
    prefix = topic.removesuffix(SEQUENCES_SIGNALS)
    await dead_letters(kafka_bootstrap, topic, range(5))
    env = {
        "SEQUENCE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SEQUENCE_TOPIC_PREFIX": prefix,
        "SEQUENCE_RUN_DIR": str(tmp_path),
        "SEQUENCE_SQLITE_PATH": str(tmp_path / "sequence.sqlite"),
    }

    def leadflow(*args: str) -> str:
        result = CliRunner().invoke(app, ["dlq", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    listed = await asyncio.to_thread(leadflow, "list", "--topic", SEQUENCES_SIGNALS)
    lines = [line for line in listed.splitlines() if f"{topic}:" in line]
    assert len(lines) == 5 and all(
        GROUP in line and " plain  no  validation failed: data.signal" in line for line in lines
    )
    assert "5 dead letter(s)" in listed and "0 redriven" in listed

    dry = await asyncio.to_thread(leadflow, "redrive", "--topic", SEQUENCES_SIGNALS, "--dry-run")
    assert "would redrive 5 message(s)" in " ".join(dry.split())
    assert await committed(kafka_bootstrap, topic) == Counter()
    done = await asyncio.to_thread(leadflow, "redrive", "--topic", SEQUENCES_SIGNALS, "--progress-every", "2")
    said = " ".join(done.split())
    assert "of 5 dead letters looked at: redriven" in said  # a progress line
    assert "redrove 5 message(s)" in said and "0 already redriven" in said
    again = await asyncio.to_thread(leadflow, "redrive", "--topic", SEQUENCES_SIGNALS)
    assert "redrove 0 message(s)" in " ".join(again.split()) and "5 already redriven" in again
    assert await committed(kafka_bootstrap, topic) == once_each(range(5))

    # The installed console script, in a process of its own: JSON lines, all redriven now.
    listed_json = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).with_name("leadflow")), "dlq", "list", "-t", SEQUENCES_SIGNALS, "--json"],
        env={**os.environ, **env},
        capture_output=True,
        check=True,
    )
    rows = [json.loads(line) for line in listed_json.stdout.splitlines()]
    assert len(rows) == 5 and all(r["redriven"] and r["consumer_group"] == GROUP for r in rows)

    first = rows[0]["letter"].split(":")
    shown = await asyncio.to_thread(leadflow, "show", "-t", SEQUENCES_SIGNALS, "-p", first[0], "-o", first[1])
    assert "redriven:       yes" in shown and "leadflow_error:" in shown and "trace: t-" in shown
    assert 'value: {"n": ' in shown

    missing = await asyncio.to_thread(
        CliRunner().invoke, app, ["dlq", "show", "-t", SEQUENCES_SIGNALS, "-p", "0", "-o", "999"], env=env
    )
    assert missing.exit_code == 1 and "no dead letter at 0:999" in missing.output
    ambiguous = await asyncio.to_thread(CliRunner().invoke, app, ["dlq", "list", "-t", "leads.events.v1"], env=env)
    assert ambiguous.exit_code == 2 and "--service" in ambiguous.output
