"""Event-store plumbing shared by every service's application."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import ProcessRecorder, Recording, Tracking

P = ParamSpec("P")
T = TypeVar("T")


class ServiceApplication(Application[UUID]):
    """An eventsourcing application whose recorder also records tracking positions.

    Tracking rows let a consumer record "processed up to offset N of topic/partition" in the
    same transaction as the events that processing produced, and let the outbox relay record
    how far it has published.
    """

    recorder: ProcessRecorder

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_recorded: list[Callable[[], None]] = []

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if recordings:
            for listener in self.on_recorded:
                listener()

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    def record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Atomically store the collected events together with the tracking position."""
        recordings = self._record(processing_event)
        self._notify(recordings)
        return recordings

    def tracked_position(self, name: str) -> int | None:
        return self.recorder.max_tracking_id(name)


class StoreWorker:
    """One thread that owns all calls into the event store.

    The eventsourcing API is synchronous; running every call on a single thread keeps the
    asyncio loop responsive and serialises writers within a process (SQLite allows one
    writer anyway), while optimistic concurrency still protects across processes.
    """

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-store")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


def tracking_for(topic: str, partition: int, offset: int) -> Tracking:
    """Tracking row for a Kafka message: position = the next offset to read."""
    return Tracking(application_name=f"{topic}:{partition}", notification_id=offset + 1)


def new_processing_event(tracking: Tracking | None) -> ProcessingEvent[UUID]:
    return ProcessingEvent[UUID](tracking=tracking)


__all__ = ["ServiceApplication", "StoreWorker", "new_processing_event", "tracking_for"]
