"""The sequences of the organisation, and the rule that at most 250 are active at once."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .definition import MAX_ACTIVE_SEQUENCES, SequenceError

CATALOG_ID = uuid5(NAMESPACE_URL, "leadflow:sequence-catalog")


class TooManyActive(SequenceError):
    """Activating one more would pass the limit (HTTP 409)."""


class Catalog(Aggregate):
    """Every sequence by id: its name and status (kept in the unit of work that changes them)."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return CATALOG_ID

    @event("Created")
    def __init__(self) -> None:
        self.sequences: dict[str, dict[str, Any]] = {}

    def active_count(self) -> int:
        return sum(1 for s in self.sequences.values() if s["status"] == "active")

    def check_room_for(self, sequence_id: UUID) -> None:
        entry = self.sequences.get(str(sequence_id))
        if (entry is None or entry["status"] != "active") and self.active_count() >= MAX_ACTIVE_SEQUENCES:
            raise TooManyActive(f"at most {MAX_ACTIVE_SEQUENCES} sequences are active at once; deactivate one first")

    def record(self, sequence_id: UUID, name: str, status: str) -> None:
        if self.sequences.get(str(sequence_id)) != {"name": name, "status": status}:
            self._recorded(sequence_id=sequence_id, name=name, status=status)

    @event("Recorded")
    def _recorded(self, sequence_id: UUID, name: str, status: str) -> None:
        self.sequences[str(sequence_id)] = {"name": name, "status": status}
