"""Following a topic from its first offset in the background (tests, bench, scale-out runs)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord


class TopicFollower:
    """Reads every partition of `topic` from the beginning, without a consumer group, handing
    each fetched batch to `take` (override it) until `stop`."""

    def __init__(self, bootstrap: str, topic: str, *, timeout_ms: int = 100, max_records: int = 5000) -> None:
        self.topic = topic
        self._timeout_ms, self._max_records = timeout_ms, max_records
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        while not (partitions := self._consumer.partitions_for_topic(self.topic)):
            await self._consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        self._consumer.assign([TopicPartition(self.topic, p) for p in sorted(partitions)])
        await self._consumer.seek_to_beginning()
        self._task = asyncio.create_task(self._run())

    def take(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        raise NotImplementedError

    def check(self) -> None:
        """Raise what stopped the background reader, if it failed."""
        if self._task is not None and self._task.done():
            self._task.result()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=self._timeout_ms, max_records=self._max_records)
            for records in batches.values():
                self.take(records)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._consumer.stop()
