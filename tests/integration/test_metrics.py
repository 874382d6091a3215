"""`/metrics` on a running service under load (issue 14): every family SREs rely on exists and
moves — Kafka records consumed, applied, dead-lettered and retried per topic and subscription,
batch size and apply latency, consumer lag per partition, relay lag and publish latency, store
append latency, deadlines, HTTP requests by route/method/status, readiness, and FastStream's own
counters. Real Kafka; the service runs in-process, scraped through its own HTTP app."""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth_helpers import bearer
from harness import as_bytes, eventually, inbound_lead, new_prefix, produce, settings_for, started
from prometheus_client.parser import text_string_to_metric_families

from assignment.bootstrap import bootstrap as assignment_service
from assignment.settings import AssignmentSettings
from intake.bootstrap import bootstrap as intake_service
from intake.settings import IntakeSettings
from leadflow_shared.consumer import TrackedConsumer
from leadflow_shared.runtime import Service
from leadflow_shared.topics import LEADS_EVENTS, LEADS_INBOUND
from referral.bootstrap import bootstrap as referral_service
from referral.settings import ReferralSettings
from sequence.bootstrap import bootstrap as sequence_service
from sequence.settings import SequenceSettings

pytestmark = pytest.mark.integration
LEADS = 300

Samples = dict[str, list[tuple[dict[str, str], float]]]


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = defaultdict(list)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name].append((sample.labels, sample.value))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the series of `name` whose labels include `labels` (0 when there are none)."""
    return sum(v for found, v in samples.get(name, []) if labels.items() <= found.items())


def fail_once(consumer: TrackedConsumer) -> list[int]:
    """The consumer's next unit of work fails once (a store hiccup), then works: it is retried."""
    failures: list[int] = []
    apply = consumer.applier.apply

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise RuntimeError("injected failure")
        return apply(*args, **kwargs)

    consumer.applier.apply = flaky  # type: ignore[method-assign]
    return failures


async def test_a_service_under_load_reports_every_metric_family_and_they_move(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = new_prefix()
    service = intake_service(
        settings_for(IntakeSettings, tmp_path=tmp_path, bootstrap=kafka_bootstrap, prefix=prefix, contact_sla_seconds=1)
    )
    inbound, events = prefix + LEADS_INBOUND, prefix + LEADS_EVENTS
    group = service.settings.group_id
    consumer = next(c for c in service.consumers if c.topic == inbound)
    failures = fail_once(consumer)
    async with started(service):
        transport = httpx.ASGITransport(app=service.api)
        headers = bearer(run_dir=service.settings.run_dir)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=headers) as http:
            before = await scrape(http)
            # Load: leads upstream, one poison message, and HTTP requests of three kinds.
            batch = str(uuid.uuid4())[:8]
            messages = [(f"k{i}".encode(), as_bytes(inbound_lead(f"{batch}-{i}")), []) for i in range(LEADS)]
            messages.append((b"poison", b"{not json", []))
            await produce(kafka_bootstrap, inbound, messages)
            for _ in range(5):
                assert (await http.get("/v1/leads")).status_code == 200
            assert (await http.get(f"/v1/leads/{uuid.uuid4()}")).status_code == 404
            assert (await http.get("/nowhere")).status_code == 404

            async def settled() -> Samples:
                return await scrape(http)

            def caught_up(samples: Samples) -> bool:
                return (
                    value(samples, "leadflow_messages_applied_total", topic=inbound) >= LEADS
                    and value(samples, "leadflow_relay_lag", topic=events) == 0
                    and value(samples, "leadflow_relay_published_total", topic=events) >= LEADS
                    and value(samples, "leadflow_consumer_lag", topic=inbound) == 0
                )

            after = await eventually(settled, until=caught_up, timeout=60, interval=0.5)

    moved = {
        "leadflow_messages_consumed_total": {"topic": inbound, "subscription": group},
        "leadflow_messages_applied_total": {"topic": inbound, "subscription": group},
        "leadflow_messages_dead_lettered_total": {"topic": inbound, "subscription": group},
        "leadflow_messages_retried_total": {"topic": inbound, "subscription": group},
        "leadflow_batch_size_count": {"topic": inbound, "subscription": group},
        "leadflow_batch_size_sum": {"topic": inbound, "subscription": group},
        "leadflow_apply_seconds_count": {"topic": inbound, "subscription": group},
        "leadflow_relay_published_total": {"topic": events},
        "leadflow_relay_publish_seconds_count": {"topic": events},
        "leadflow_store_append_seconds_count": {},
        "http_requests_total": {"handler": "/v1/leads", "method": "GET", "status": "200"},
        "http_request_duration_seconds_count": {"handler": "/v1/leads", "method": "GET", "status": "200"},
        "faststream_received_messages_total": {},
        "faststream_published_messages_total": {},
    }
    for name, labels in moved.items():
        assert value(after, name, **labels) > value(before, name, **labels), (name, labels)
    assert value(after, "leadflow_messages_applied_total", topic=inbound) >= LEADS
    assert value(after, "leadflow_messages_dead_lettered_total", topic=inbound) == 1
    assert failures == [1] and value(after, "leadflow_messages_retried_total", topic=inbound) >= 1
    assert value(after, "leadflow_batch_size_sum", topic=inbound) >= LEADS
    # HTTP by route template and status, not by path (a lead id is not a label value).
    assert value(after, "http_requests_total", handler="/v1/leads/{lead_id}", status="404") == 1
    assert value(after, "http_requests_total", handler="none", status="404") == 1
    # States: lag per partition of the consumed topic, relay lag, readiness, deadlines.
    partitions = {labels["partition"] for labels, _ in after["leadflow_consumer_lag"] if labels["topic"] == inbound}
    assert partitions == {"0", "1", "2"}
    assert all(labels["group"] == group for labels, _ in after["leadflow_consumer_lag"])
    assert value(after, "leadflow_ready") == 1
    assert "leadflow_deadlines_due" in after and "leadflow_deadlines_overdue" in after
    assert all(name.startswith(("leadflow_", "http_", "faststream_", "python_", "process_")) for name in after)


async def test_every_service_serves_metrics_and_the_readiness_gauge_follows_readyz(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    services: dict[str, Service] = {}
    for name, bootstrap, settings in (
        ("intake", intake_service, IntakeSettings),
        ("assignment", assignment_service, AssignmentSettings),
        ("sequence", sequence_service, SequenceSettings),
        ("referral", referral_service, ReferralSettings),
    ):
        folder = tmp_path / name
        folder.mkdir()
        services[name] = bootstrap(  # type: ignore[operator]
            settings_for(settings, tmp_path=folder, bootstrap=kafka_bootstrap, prefix=new_prefix())
        )
    # Every service: /metrics answers, with its own families (not started: not ready).
    for name, service in services.items():
        transport = httpx.ASGITransport(app=service.api)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as http:
            samples = await scrape(http)
        assert value(samples, "leadflow_ready") == 0, name
        consumed = {labels["topic"] for labels, _ in samples["leadflow_messages_consumed_total"]}
        assert consumed == {consumer.topic for consumer in service.consumers}, name
        assert "leadflow_store_append_seconds_count" in samples and "leadflow_relay_lag" in samples, name
    # A running one: ready, each consumed partition's lag known once its first fetch answered,
    # and the gauge follows what /readyz says.
    service = services["referral"]
    async with started(service):
        transport = httpx.ASGITransport(app=service.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://referral") as http:
            await eventually(
                lambda: scrape(http),
                until=lambda s: value(s, "leadflow_ready") == 1 and "leadflow_consumer_lag" in s,
                timeout=30,
                interval=0.5,
            )
            service.health.report("test", "something is stuck")
            assert (await http.get("/readyz")).status_code == 503
            assert value(await scrape(http), "leadflow_ready") == 0
            service.health.clear("test")
            assert value(await scrape(http), "leadflow_ready") == 1
