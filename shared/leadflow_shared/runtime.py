"""Runs one service: HTTP API, tracked consumers and outbox relays in one process.

SIGTERM/SIGINT: stop consuming (the message in hand finishes), flush the relays, commit
the offset hint, close the clients, exit — well within the 10 s a pod is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from .consumer import Handler, TrackedConsumer
from .deadletters import DeadLetterPublisher
from .http import Check
from .kafka import ensure_topics, make_producer
from .lease import PostgresAdvisoryLease
from .relay import EventMapper, OutboxRelay
from .settings import ServiceSettings
from .store import ServiceApplication, StoreWorker
from .topics import dead_letter_topic

log = logging.getLogger(__name__)


@dataclass
class ServiceParts:
    """Everything a service's bootstrap assembles; `serve` runs it."""

    settings: ServiceSettings
    app: ServiceApplication
    worker: StoreWorker
    api: FastAPI
    subscriptions: Mapping[str, Handler]
    """Consumed topic → handler: the service's whole inbound map, in one place."""
    publications: Mapping[str, EventMapper]
    """Published topic → domain-to-integration event mapper."""
    extra_topics: Mapping[str, int] = field(default_factory=dict)
    background: Sequence[BackgroundJob] = ()
    """Jobs that run beside the consumers (projections, schedulers, periodic re-runs)."""

    def topics_to_ensure(self) -> dict[str, int]:
        partitions = self.settings.lead_topic_partitions
        names = [*self.subscriptions, *self.publications, *map(dead_letter_topic, self.subscriptions)]
        topics = {self.settings.topic(t): partitions for t in names}
        topics.update({self.settings.topic(t): n for t, n in self.extra_topics.items()})
        return topics


class BackgroundJob(Protocol):
    """A long-running job of a service: `run` until `stop` is called, then return promptly."""

    name: str

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class _QuietServer(uvicorn.Server):
    """uvicorn would re-raise SIGTERM after its own shutdown and kill us before we clean up."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class RunningService:
    """The started clients and tasks of one service (also used by tests in-process)."""

    def __init__(self, parts: ServiceParts) -> None:
        self.parts = parts
        self.producer: AIOKafkaProducer | None = None
        self.relays: list[OutboxRelay] = []
        self.consumer: TrackedConsumer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        parts, settings = self.parts, self.parts.settings
        await ensure_topics(settings.bootstrap, parts.topics_to_ensure())
        self.producer = make_producer(settings.bootstrap, client_id=f"leadflow-{settings.service_name}")
        await self.producer.start()
        loop = asyncio.get_running_loop()
        for topic, mapper in parts.publications.items():
            relay = OutboxRelay(
                app=parts.app,
                worker=parts.worker,
                producer=self.producer,
                topic=settings.topic(topic),
                to_integration_event=mapper,
                source=f"leadflow/{settings.service_name}",
                batch_size=settings.relay_batch_size,
                idle_poll_seconds=settings.relay_idle_poll_seconds,
                lease=_publish_lease(settings, topic),
            )
            parts.app.on_recorded.append(_waker(loop, relay))
            self.relays.append(relay)
            self._tasks.append(asyncio.create_task(relay.run(), name=f"relay:{topic}"))
        for job in parts.background:
            self._tasks.append(asyncio.create_task(job.run(), name=job.name))
        if parts.subscriptions:
            self.consumer = TrackedConsumer(
                bootstrap=settings.bootstrap,
                group_id=settings.group_id,
                handlers={settings.topic(t): h for t, h in parts.subscriptions.items()},
                worker=parts.worker,
                tracked_position=parts.app.tracked_position,
                record_tracking=parts.app.recorder.insert_tracking,
                dead_letters=DeadLetterPublisher(self.producer, consumer_group=settings.group_id),
            )
            await self.consumer.start()
            self._tasks.append(asyncio.create_task(self.consumer.run(), name="consumer"))

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        for job in self.parts.background:
            job.stop()
        for relay in self.relays:
            relay.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await asyncio.wait_for(task, timeout=6.0)
                except TimeoutError:
                    log.warning("task %s did not stop in time", task.get_name())
        if self.consumer is not None:
            await self.consumer.close()
        if self.producer is not None:
            await self.producer.stop()
        self.parts.worker.shutdown()

    async def check_broker(self) -> None:
        if self.producer is None:
            raise RuntimeError("producer not started")
        await self.producer.client.fetch_all_metadata()

    async def check_workers(self) -> None:
        """Consumers, relays and background jobs must all still be running."""
        dead = [task.get_name() for task in self._tasks if task.done()]
        if dead:
            raise RuntimeError(f"stopped: {', '.join(dead)}")
        if self.consumer is not None and self.consumer.problems:
            raise RuntimeError("; ".join(f"{name}: {why}" for name, why in self.consumer.problems.items()))

    async def check_store(self) -> None:
        await self.parts.worker.call(self.parts.app.recorder.max_notification_id)


def _waker(loop: asyncio.AbstractEventLoop, relay: OutboxRelay) -> Callable[[], None]:
    """Called on the store thread after a save: nudge the relay on the event loop."""

    def wake() -> None:
        loop.call_soon_threadsafe(relay.wake)

    return wake


def _publish_lease(settings: ServiceSettings, topic: str) -> PostgresAdvisoryLease | None:
    if not settings.uses_postgres:
        return None  # a SQLite store belongs to one process
    name = f"leadflow:{settings.postgres_dbname or settings.service_name}:relay:{settings.topic(topic)}"
    return PostgresAdvisoryLease(settings.postgres_conninfo(), name)


def assemble(
    settings: ServiceSettings,
    app: ServiceApplication,
    create_api: Callable[[StoreWorker, dict[str, Check]], FastAPI],
    subscriptions: Mapping[str, Handler],
    publications: Mapping[str, EventMapper],
    background: Sequence[BackgroundJob] = (),
) -> RunningService:
    """Put a service's parts together; every service's bootstrap calls this."""
    worker = StoreWorker(settings.service_name)
    running: RunningService | None = None

    async def broker() -> None:
        assert running is not None
        await running.check_broker()

    async def store() -> None:
        assert running is not None
        await running.check_store()

    async def workers() -> None:
        assert running is not None
        await running.check_workers()

    parts = ServiceParts(
        settings=settings,
        app=app,
        worker=worker,
        api=create_api(worker, {"broker": broker, "store": store, "workers": workers}),
        subscriptions=subscriptions,
        publications=publications,
        background=background,
    )
    running = RunningService(parts)
    return running


async def serve(running: RunningService) -> None:
    """Run until SIGTERM/SIGINT, then shut down in order."""
    parts = running.parts
    settings = parts.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await running.start()
    config = uvicorn.Config(
        parts.api, host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="off"
    )
    server = _QuietServer(config)
    server_task = asyncio.create_task(server.serve(), name="http")
    log.info("%s serving on http://%s:%s", settings.service_name, settings.http_host, settings.http_port)
    stop_task = asyncio.create_task(stop.wait())
    await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await running.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await server_task
    stop_task.cancel()


def main(bootstrap: Callable[[], RunningService]) -> None:
    """`python -m <service>`: log, assemble, serve until SIGTERM/SIGINT."""
    configure_logging()
    asyncio.run(serve(bootstrap()))


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
