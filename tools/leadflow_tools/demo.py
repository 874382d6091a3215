"""The demo upstream: realistic inbound leads sent to `leads.inbound.v1`, and their fate.

It plays the marketing systems leadflow serves: web forms, marketing automation, partner
portals. Leads arrive the three ways upstreams really send them — bare JSON, structured
CloudEvents and binary CloudEvents — through a plain Kafka producer, as an outsider would.
Every run uses a fresh external-id batch prefix, so stores that persist across runs never
confuse this run's leads with earlier ones.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import phonenumbers
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from leadflow_shared.contracts import InboundLeadV1, LeadAssignedV1, LeadReceivedV1
from leadflow_shared.envelope import SPECVERSION, STRUCTURED_CONTENT_TYPE
from leadflow_shared.topics import ASSIGNMENTS_EVENTS, LEADS_EVENTS, LEADS_INBOUND

Message = tuple[bytes, bytes, list[tuple[str, bytes]]]
Progress = Callable[[str], None]

_FIRST_NAMES = [
    "Ada", "Amara", "Björn", "Chen", "Chloé", "Diego", "Elif", "Fatima", "Grace", "Hiroshi", "Ines",
    "Jonas", "Kwame", "Lena", "Lucía", "Mateo", "Mei", "Nikolai", "Olga", "Priya", "Rafael", "Sanna",
    "Tomás", "Yara", "Zoë",
]  # fmt: skip
_LAST_NAMES = [
    "Andersson", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hoffmann", "Ivanova",
    "Jansen", "Kowalski", "Lindqvist", "Müller", "Nakamura", "Okafor", "Patel", "Rossi", "Schmidt",
    "Tanaka", "Walsh", "Yilmaz", "Zhang",
]  # fmt: skip
_JOB_TITLES = [
    "Head of Operations", "IT Manager", "CFO", "Procurement Lead", "VP Sales", "Facilities Manager",
    "Marketing Director", "CTO", "Office Manager", "Plant Manager",
]  # fmt: skip
# (name, country, city, industry, size band)
_COMPANIES = [
    ("Nordlicht Energie GmbH", "DE", "Hamburg", "Energy", "201-500"),
    ("Brightwater Logistics Ltd", "GB", "Manchester", "Logistics", "51-200"),
    ("Atelier Lumière SARL", "FR", "Lyon", "Retail", "11-50"),
    ("Costa Verde Hoteles", "ES", "Valencia", "Hospitality", "201-500"),
    ("Polar Byggteknik AB", "SE", "Göteborg", "Construction", "51-200"),
    ("Vistula Foods S.A.", "PL", "Kraków", "Food & Beverage", "501-1000"),
    ("Maple Ridge Clinics", "CA", "Calgary", "Healthcare", "201-500"),
    ("Sakura Precision KK", "JP", "Nagoya", "Manufacturing", "1001-5000"),
    ("Lagos Fintech Partners", "NG", "Lagos", "Financial Services", "11-50"),
    ("Oceanic Freight Pty", "AU", "Brisbane", "Logistics", "51-200"),
    ("Rio Claro Agro", "BR", "Campinas", "Agriculture", "201-500"),
    ("Helvetia Medtech AG", "CH", "Basel", "Healthcare", "51-200"),
    ("Tulip Data B.V.", "NL", "Utrecht", "Software", "11-50"),
    ("Anatolia Textiles", "TR", "Izmir", "Manufacturing", "501-1000"),
    ("Bangalore CloudWorks", "IN", "Bengaluru", "Software", "201-500"),
    ("Great Lakes Dental Group", "US", "Chicago", "Healthcare", "51-200"),
    ("Cascade Outdoor Gear", "US", "Portland", "Retail", "201-500"),
    ("Fjord Aqua AS", "NO", "Bergen", "Aquaculture", "51-200"),
]
# Mobile number patterns valid in each country (libphonenumber's examples without the last
# four digits), so the numbers pass intake's E.164 normalisation.
_PHONE_PREFIXES = {
    "AU": "+6141234", "BR": "+551196123", "CA": "+1506234", "CH": "+4178123", "DE": "+491512345",
    "ES": "+3461234", "FR": "+3361234", "GB": "+44740012", "IN": "+91812345", "JP": "+81901234",
    "NG": "+234802123", "NL": "+3161234", "NO": "+474061", "PL": "+4851234", "SE": "+4670123",
    "TR": "+90501234", "US": "+1201555",
}  # fmt: skip
_SOURCES = {
    # source → campaigns it runs
    "web-form": ["pricing-page", "contact-us", "demo-request"],
    "marketo": ["spring-webinar", "q3-nurture", "ebook-energy-savings"],
    "hubspot": ["newsletter-signup", "free-trial"],
    "partner-portal": ["partner-referral", "reseller-q3"],
    "trade-show": ["hannover-messe", "web-summit"],
    "chat": ["website-chat"],
}
_PRODUCTS = ["Fleet Analytics", "Smart Metering", "Field Service Suite", "Procurement Cloud", "Support Plus"]
_LIFECYCLE = ["subscriber", "lead", "marketing_qualified", "sales_qualified"]
_NOTES = [
    "Asked for a call next week.",
    "Comparing us with two other vendors.",
    "Budget approved for next quarter.",
    "Wants a demo for the whole team.",
    None,
]
_TYPES = ["customer_inquiry", "marketing_qualified", "sales_qualified"]


def new_batch_id() -> str:
    """A per-run prefix for external ids: `demo-20260101-101500-3fa2`."""
    return f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


REPEAT_SHARE = 0.1
"""Share of leads from a person who sent one shortly before (same e-mail and phone): the
duplicates intake marks. Everyone else is a new person, as most of a real upstream's leads are."""


def build_leads(batch: str, count: int = 100, *, seed: int | None = None) -> list[dict[str, Any]]:
    """`count` varied InboundLeadV1 objects whose external ids start with `batch`."""
    rng = random.Random(seed if seed is not None else batch)
    now = datetime.now(UTC)
    people = new_people()
    return [_lead(rng, f"{batch}-{i:04d}", now - timedelta(minutes=rng.randint(0, 600)), people) for i in range(count)]


def new_people() -> deque[dict[str, Any]]:
    """The recent senders a stream of leads draws its repeats from."""
    return deque(maxlen=1000)


def _person(rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    company = rng.choice(_COMPANIES)
    mailbox = f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99_999)}"
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{mailbox}@{_ascii(company[0].split()[0])}.example.com",
        "phone": _phone(rng, company[1]),
        "company": company,
    }


def _phone(rng: random.Random, country: str) -> str:
    """A valid number of the country's usual shape, one of about a million per country."""
    prefix = _PHONE_PREFIXES[country]
    for _ in range(20):
        number = prefix[:-2] + f"{rng.randint(0, 999_999):06d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number
    return prefix + f"{rng.randint(0, 9999):04d}"


def _lead(
    rng: random.Random, external_id: str, occurred_at: datetime, people: deque[dict[str, Any]] | None = None
) -> dict[str, Any]:
    if people and rng.random() < REPEAT_SHARE:
        person = rng.choice(people)
    else:
        person = _person(rng)
        if people is not None:
            people.append(person)
    company, country, city, industry, size = person["company"]
    source = rng.choice(list(_SOURCES))
    lead: dict[str, Any] = {
        "source": source,
        "external_id": external_id,
        "type": rng.choice(_TYPES),
        "contact": {
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "email": person["email"],
            "phone": person["phone"],
            "job_title": rng.choice(_JOB_TITLES),
        },
        "company": {"name": company, "country": country, "city": city, "industry": industry, "size_band": size},
        "score": rng.randint(0, 100),
        "lifecycle_stage": rng.choice(_LIFECYCLE),
        "campaign_id": rng.choice(_SOURCES[source]),
        "product_interest": rng.choice(_PRODUCTS),
        "contact_requested": rng.random() < 0.4,
        "consent": rng.random() < 0.8,
        "occurred_at": occurred_at.isoformat(),
        "attributes": {"utm_medium": rng.choice(["cpc", "email", "organic", "referral"])},
    }
    note = rng.choice(_NOTES)
    if note is not None:
        lead["notes"] = note
    return lead


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def encode(lead: dict[str, Any], mode: str) -> Message:
    """(key, value, headers) for one lead: mode "bare", "structured" or "binary"."""
    key = f"{lead['source']}:{lead['external_id']}".encode()
    attributes = {
        "specversion": SPECVERSION,
        "id": str(uuid.uuid4()),
        "source": f"/upstream/{lead['source']}",
        "type": InboundLeadV1.cloudevents_type,
        "time": datetime.now(UTC).isoformat(),
    }
    if mode == "bare":
        return key, json.dumps(lead).encode(), []
    if mode == "structured":
        envelope = {**attributes, "datacontenttype": "application/json", "data": lead}
        return key, json.dumps(envelope).encode(), [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
    if mode == "binary":
        headers = [(f"ce_{name}", value.encode()) for name, value in attributes.items()]
        return key, json.dumps(lead).encode(), [*headers, ("content-type", b"application/json")]
    raise ValueError(f"unknown mode {mode!r}")


def messages(leads: list[dict[str, Any]]) -> list[Message]:
    """The leads encoded in turn as bare JSON, structured and binary CloudEvents."""
    modes = ("bare", "structured", "binary")
    return [encode(lead, modes[i % len(modes)]) for i, lead in enumerate(leads)]


@dataclass
class DemoResult:
    """What happened to one demo batch; times are `time.monotonic()` values."""

    sent: int
    sent_at: float
    first_assigned_at: float | None = None
    last_assigned_at: float | None = None
    received: set[UUID] = field(default_factory=set)
    """Lead ids intake announced (LeadReceivedV1 on leads.events.v1)."""
    assignments: dict[UUID, LeadAssignedV1] = field(default_factory=dict)

    def all_assigned_seconds(self) -> float:
        return (self.last_assigned_at or self.sent_at) - self.sent_at


async def send(bootstrap: str, topic: str, batch: list[Message], progress: Progress | None = None) -> None:
    """Send with a plain producer, as an upstream system would; waits for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        step = max(1, len(batch) // 4)
        pending = []
        for i, (key, value, headers) in enumerate(batch, start=1):
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            if progress is not None and (i % step == 0 or i == len(batch)):
                progress(f"demo: sent {i}/{len(batch)} leads to {topic}")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def is_lead_assigned(headers: Sequence[tuple[str, bytes]] | None) -> bool:
    """True for a LeadAssignedV1 message (the topic carries other assignment events too)."""
    return _ce_type(headers) == LeadAssignedV1.cloudevents_type.encode()


def _ce_type(headers: Sequence[tuple[str, bytes]] | None) -> bytes | None:
    return dict(headers or ()).get("ce_type")


class BatchWatcher:
    """Reads leads.events.v1 and assignments.events.v1 from the beginning and keeps what
    concerns one batch: its LeadReceivedV1 lead ids and its LeadAssignedV1 events."""

    def __init__(self, bootstrap: str, topic_prefix: str, wanted: set[tuple[str, str]]) -> None:
        self.topics = (topic_prefix + LEADS_EVENTS, topic_prefix + ASSIGNMENTS_EVENTS)
        self.wanted = wanted
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )

    async def start(self, timeout: float = 30.0) -> None:
        await self._consumer.start()
        deadline = time.monotonic() + timeout
        partitions: list[TopicPartition] = []
        for topic in self.topics:
            while not (numbers := self._consumer.partitions_for_topic(topic)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {topic} does not exist")
                await self._consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            partitions += [TopicPartition(topic, n) for n in sorted(numbers)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def collect(
        self, result: DemoResult, *, timeout: float, progress: Progress | None = None, step: int = 25
    ) -> DemoResult:
        """Add arriving events to `result` until all wanted leads are assigned or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while len(result.assignments) < len(self.wanted) and time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200)
            before = len(result.assignments)
            for records in batches.values():
                for record in records:
                    self._take(result, _ce_type(record.headers), record.value)
            after = len(result.assignments)
            if progress is not None and (after // step > before // step or after == len(self.wanted) > before):
                progress(f"demo: {after}/{len(self.wanted)} leads assigned ({len(result.received)} received)")
        return result

    def _take(self, result: DemoResult, ce_type: bytes | None, value: bytes | None) -> None:
        try:
            if value is None:
                return
            if ce_type == LeadReceivedV1.cloudevents_type.encode():
                received = LeadReceivedV1.model_validate_json(value)
                if (received.source, received.external_id) in self.wanted:
                    result.received.add(received.lead_id)
            elif ce_type == LeadAssignedV1.cloudevents_type.encode():
                assigned = LeadAssignedV1.model_validate_json(value)
                if (assigned.source or "", assigned.external_id or "") in self.wanted:
                    self._assigned(result, assigned)
        except ValidationError:
            pass  # an older run's message in a shape this version no longer reads: not this batch

    @staticmethod
    def _assigned(result: DemoResult, event: LeadAssignedV1) -> None:
        now = time.monotonic()
        if result.first_assigned_at is None:
            result.first_assigned_at = now
        if event.lead_id not in result.assignments:
            result.last_assigned_at = now
        result.assignments[event.lead_id] = event


async def run(
    bootstrap: str,
    *,
    topic_prefix: str = "",
    count: int = 100,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> DemoResult:
    """Send `count` demo leads and wait (up to `timeout` s) until each is assigned."""
    batch = new_batch_id()
    leads = build_leads(batch, count)
    watcher = BatchWatcher(bootstrap, topic_prefix, {(lead["source"], lead["external_id"]) for lead in leads})
    await watcher.start()
    try:
        if progress is not None:
            progress(f"demo: sending {count} leads (batch {batch}; bare JSON, structured and binary CloudEvents)")
        result = DemoResult(sent=count, sent_at=time.monotonic())
        await send(bootstrap, topic_prefix + LEADS_INBOUND, messages(leads), progress)
        return await watcher.collect(result, timeout=timeout, progress=progress)
    finally:
        await watcher.stop()
