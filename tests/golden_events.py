"""Recording the golden events: one stored event of every stored topic, from a test run.

`LEADFLOW_RECORD_EVENTS=1 make test-unit` (or any pytest run) records, for every topic and
class version a service stores during the run, the first stored event it saw, and adds those
tests/fixtures/events/golden.json does not hold yet. Samples already there are never replaced
or removed: they are history that every later version of the code must still decode
(tests/unit/test_golden_events.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Mapper

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "events" / "golden.json"
SERVICES = ("intake", "assignment", "sequence", "referral")

_seen: dict[tuple[str, int], dict[str, Any]] = {}


def start_recording() -> None:
    from leadflow_shared.store import PersonalDataMapper

    for mapper_class in (Mapper, PersonalDataMapper):
        _record_stored_events_of(mapper_class)


def _record_stored_events_of(mapper_class: type[Mapper[Any]]) -> None:
    original = mapper_class.to_stored_event

    def recording(self: Mapper[Any], domain_event: Any) -> Any:
        stored = original(self, domain_event)
        key = (stored.topic, getattr(type(domain_event), "class_version", 1))
        if stored.topic.split(".")[0] in SERVICES and key not in _seen:
            _seen[key] = {
                "topic": stored.topic,
                "originator_id": str(stored.originator_id),
                "originator_version": stored.originator_version,
                "state": bytes(stored.state).decode("utf-8"),
            }
        return stored

    mapper_class.to_stored_event = recording  # type: ignore[method-assign]


def load() -> list[dict[str, Any]]:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else []  # type: ignore[no-any-return]


def write() -> int:
    """Add the topics seen in this run that the fixture lacks; returns how many were added."""
    samples = load()
    known = {key(s) for s in samples}
    added = [s for k, s in sorted(_seen.items()) if k not in known]
    if added:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(sorted(samples + added, key=key), indent=1) + "\n")
    return len(added)


def key(sample: dict[str, Any]) -> tuple[str, int]:
    """(topic, class version): version 1 events store no `class_version`."""
    return sample["topic"], json.loads(sample["state"]).get("class_version", 1)
