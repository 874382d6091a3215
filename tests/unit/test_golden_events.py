"""Golden events: one stored event of every stored topic of every service, as it was once written
(tests/fixtures/events/golden.json, including topics of classes that have moved since), must
still decode with today's code — so a rename or move that orphans history fails here. And every
event class the services store today must have a sample there (record with
`LEADFLOW_RECORD_EVENTS=1 make test-unit`; see tests/golden_events.py)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from golden_events import SERVICES, load

from assignment.application import AssignmentApplication
from intake.application import IntakeApplication
from leadflow_shared.store import ServiceApplication
from referral.application import ReferralApplication
from sequence.application import SequenceApplication

pytestmark = pytest.mark.unit
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
APPLICATIONS: dict[str, type[ServiceApplication]] = {
    "intake": IntakeApplication,
    "assignment": AssignmentApplication,
    "sequence": SequenceApplication,
    "referral": ReferralApplication,
}


def test_every_golden_event_still_decodes() -> None:
    samples = load()
    assert len(samples) >= 70
    apps = {name: cls(env=POPO) for name, cls in APPLICATIONS.items()}
    for sample in samples:
        app = apps[sample["topic"].split(".")[0]]
        stored = StoredEvent(
            originator_id=UUID(sample["originator_id"]),
            originator_version=sample["originator_version"],
            topic=sample["topic"],
            state=sample["state"].encode("utf-8"),
        )
        try:
            domain_event = app.mapper.to_domain_event(stored)
        except Exception as exc:  # name the topic: that is what the developer needs
            raise AssertionError(f"{sample['topic']} no longer decodes: {type(exc).__name__}: {exc}") from exc
        assert domain_event.originator_id == stored.originator_id, sample["topic"]
        assert domain_event.originator_version == stored.originator_version, sample["topic"]
        assert domain_event.timestamp.tzinfo is not None, sample["topic"]


def test_every_event_class_stored_today_has_a_golden_sample() -> None:
    recorded = {sample["topic"] for sample in load()}
    missing = sorted(set(stored_topics()) - recorded)
    assert not missing, f"no golden sample for {missing}: run LEADFLOW_RECORD_EVENTS=1 make test-unit"


def stored_topics() -> Iterator[str]:
    """Topics of the event classes the services' aggregates declare (not the library's bases)."""
    for aggregate in _subclasses(Aggregate):
        if aggregate.__module__.split(".")[0] not in SERVICES:
            continue
        for name, value in vars(aggregate).items():
            if name in ("Event", "Created"):
                continue  # the base classes every aggregate gets; never stored as such
            if inspect.isclass(value) and issubclass(value, DomainEvent):
                yield get_topic(value)


def _subclasses(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
