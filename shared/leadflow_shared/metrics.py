"""Prometheus metrics of one service, served at `GET /metrics` (text format).

Each service has its own registry (several services run in one process in the tests), filled
by three sources: FastStream's `KafkaPrometheusMiddleware` (every message the broker hands a
subscriber, every publish), prometheus-fastapi-instrumentator (HTTP requests by route, method
and status) and the families below, recorded where leadflow does its own work — units of work,
dead letters, retries, the relay, the event store, deadlines — and read at scrape time for what
is a state rather than an event (consumer lag per partition, relay lag, readiness, deadlines
due). The catalogue, with what each family means and the alerts over them, is in
docs/operations.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from aiokafka import TopicPartition

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Refresh = Callable[[], Awaitable[None]]
PartitionSource = Callable[[], Iterable[tuple["TopicPartition", int, int | None]]]


class ServiceMetrics:
    """The registry of one service and leadflow's own metric families in it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r, by_subscription = self.registry, ("topic", "subscription")
        self.consumed = Counter(
            "leadflow_messages_consumed", "Records read from Kafka (again after a retry).", by_subscription, registry=r
        )
        self.applied = Counter(
            "leadflow_messages_applied",
            "Records whose unit of work committed to the event store (not counting duplicates).",
            by_subscription,
            registry=r,
        )
        self.dead_lettered = Counter(
            "leadflow_messages_dead_lettered",
            "Records sent to the topic's .dlq, with the reason.",
            by_subscription,
            registry=r,
        )
        self.retried = Counter(
            "leadflow_messages_retried",
            "Units of work tried again: a failure (sought back, with back-off) or a version conflict.",
            by_subscription,
            registry=r,
        )
        self.batch_size = Histogram(
            "leadflow_batch_size", "Records per unit of work.", by_subscription, buckets=BATCH_BUCKETS, registry=r
        )
        self.apply_seconds = Histogram(
            "leadflow_apply_seconds",
            "Applying one unit of work and committing it, store thread included.",
            by_subscription,
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.relay_published = Counter(
            "leadflow_relay_published", "Events the outbox relay published.", ("topic",), registry=r
        )
        self.relay_publish_seconds = Histogram(
            "leadflow_relay_publish_seconds",
            "One relay batch: read from the store, send, wait for every acknowledgement.",
            ("topic",),
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.relay_lag = Gauge(
            "leadflow_relay_lag",
            "Store notifications past the relay's recorded position (not yet published).",
            ("topic",),
            registry=r,
        )
        self.store_append_seconds = Histogram(
            "leadflow_store_append_seconds",
            "One event-store write (events, tracking row and inbox in one transaction).",
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.deadlines_due = Gauge("leadflow_deadlines_due", "Deadlines due now and not yet fired.", registry=r)
        self.deadlines_overdue = Gauge(
            "leadflow_deadlines_overdue",
            "Deadlines due longer than the allowed delay (DEADLINE_BEHIND_SECONDS) and not yet fired.",
            registry=r,
        )
        self.ready = Gauge("leadflow_ready", "1 while /readyz answers 200, else 0.", registry=r)
        self._lag = _ConsumerLag()
        self.registry.register(self._lag)
        self._refreshers: list[Refresh] = []

    def follow_partitions(self, group: str, source: PartitionSource) -> None:
        """Report consumer lag for `(partition, position, high watermark)` triples of `group`."""
        self._lag.sources.append((group, source))

    def refresh_with(self, refresh: Refresh) -> None:
        """Run `refresh` before each scrape (gauges that need the store or the broker)."""
        self._refreshers.append(refresh)

    async def scrape(self) -> bytes:
        for refresh in self._refreshers:
            with contextlib.suppress(Exception):  # a failing source leaves its last value; /readyz says why
                await asyncio.wait_for(refresh(), timeout=3.0)
        return generate_latest(self.registry)

    def instrument(self, api: FastAPI) -> None:
        """HTTP requests by route template, method and status, and `GET /metrics`."""
        from prometheus_fastapi_instrumentator import Instrumentator
        from prometheus_fastapi_instrumentator import metrics as http_metrics

        instrumentator = Instrumentator(
            should_group_status_codes=False,
            should_group_untemplated=True,  # unknown paths count as handler "none", not one series each
            excluded_handlers=["/metrics"],
            registry=self.registry,
        )
        instrumentator.add(
            http_metrics.requests(should_include_status=True, registry=self.registry),
            http_metrics.latency(should_include_status=True, registry=self.registry, buckets=SECONDS_BUCKETS),
        )
        instrumentator.instrument(api)
        api.include_router(self.router())

    def router(self) -> APIRouter:
        router = APIRouter(tags=["health"])

        @router.get("/metrics", response_class=Response, summary="Prometheus metrics (text format)")
        async def metrics() -> Response:
            return Response(await self.scrape(), media_type=CONTENT_TYPE_LATEST)

        return router


class _ConsumerLag(Collector):
    """`leadflow_consumer_lag{topic,partition,group}`: high watermark - tracked position, read at
    scrape time from each consumer's assigned partitions (a replica reports only its own)."""

    def __init__(self) -> None:
        self.sources: list[tuple[str, PartitionSource]] = []

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for group, source in self.sources:
            for tp, position, highwater in source():
                if highwater is not None:
                    family.add_metric([tp.topic, str(tp.partition), group], max(0, highwater - position))
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "leadflow_consumer_lag",
            "Records on the partition past the consumer's tracked position.",
            labels=("topic", "partition", "group"),
        )


class Stopwatch:
    """`with Stopwatch(histogram.observe): …` — observes the block's duration in seconds."""

    __slots__ = ("_observe", "_started")

    def __init__(self, observe: Callable[[float], Any]) -> None:
        self._observe = observe
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._observe(time.perf_counter() - self._started)
