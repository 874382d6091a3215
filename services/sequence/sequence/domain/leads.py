"""What the sequence service knows of a lead: its fields (as leads.events.v1 tells them, without
personal data), its stage, its owner and its current enrolments — one small aggregate per lead
(id = the lead's id), changed in the same unit of work as the enrolments it indexes, so "never
twice in the same sequence" holds under concurrency."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .definition import SequenceError


class AlreadyEnrolled(SequenceError):
    """The lead is already in this sequence (HTTP 409)."""

    def __init__(self, lead_id: UUID, sequence_id: UUID, enrolment_id: str) -> None:
        super().__init__(f"lead {lead_id} is already in sequence {sequence_id} (enrolment {enrolment_id})")
        self.enrolment_id = enrolment_id


class LeadFile(Aggregate):
    """One lead as the sequence service sees it."""

    @staticmethod
    def create_id(lead_id: UUID, **_: Any) -> UUID:
        return lead_id

    @event("Opened")
    def __init__(self, lead_id: UUID, at: datetime) -> None:
        self.lead_id = lead_id
        self.facts: dict[str, Any] = {}
        self.stage: str | None = None
        self.owner_id: str | None = None
        self.team_id: str | None = None
        self.segment_id: str | None = None
        self.enrolments: dict[str, str] = {}
        """sequence id → the current enrolment's id."""
        self.rounds: dict[str, int] = {}
        """sequence id → how many times the lead was enrolled in it."""
        self.gone: str | None = None
        """Why the lead left for good (deleted), if it did."""

    def facts_view(self) -> dict[str, Any]:
        """The fields conditions read: the lead's fields and its stage."""
        return {**self.facts, "stage": self.stage}

    def note_facts(self, facts: dict[str, Any], source_version: int, at: datetime) -> None:
        """intake's fields at `source_version` of its lead (an older version arriving late changes nothing)."""
        if source_version > self.__dict__.get("facts_version", 0) and facts != self.facts:
            self._facts_noted(facts=facts, at=at, source_version=source_version)

    @event("FactsNoted")
    def _facts_noted(self, facts: dict[str, Any], at: datetime, source_version: int = 0) -> None:
        self.facts = facts
        self.facts_version = source_version

    def note_stage(self, stage: str | None, at: datetime) -> None:
        if stage != self.stage:
            self._stage_noted(stage=stage, at=at)

    @event("StageNoted")
    def _stage_noted(self, stage: str | None, at: datetime) -> None:
        self.stage = stage

    def note_owner(self, owner_id: str | None, team_id: str | None, segment_id: str | None, at: datetime) -> None:
        if (owner_id, team_id, segment_id) != (self.owner_id, self.team_id, self.segment_id):
            self._owner_noted(owner_id=owner_id, team_id=team_id, segment_id=segment_id, at=at)

    @event("OwnerNoted")
    def _owner_noted(self, owner_id: str | None, team_id: str | None, segment_id: str | None, at: datetime) -> None:
        self.owner_id, self.team_id, self.segment_id = owner_id, team_id, segment_id

    def next_round(self, sequence_id: UUID) -> int:
        """The round number of a new enrolment in the sequence (409 if the lead is in it now)."""
        current = self.enrolments.get(str(sequence_id))
        if current is not None:
            raise AlreadyEnrolled(self.lead_id, sequence_id, current)
        return self.rounds.get(str(sequence_id), 0) + 1

    @event("Enrolled")
    def enrolled(self, sequence_id: UUID, enrolment_id: UUID, round_: int, at: datetime) -> None:
        self.enrolments[str(sequence_id)] = str(enrolment_id)
        self.rounds[str(sequence_id)] = round_

    def left(self, sequence_id: UUID, at: datetime) -> None:
        if str(sequence_id) in self.enrolments:
            self._left(sequence_id=sequence_id, at=at)

    @event("Left")
    def _left(self, sequence_id: UUID, at: datetime) -> None:
        self.enrolments.pop(str(sequence_id), None)

    @event("Gone")
    def mark_gone(self, cause: str, at: datetime) -> None:
        self.gone = cause
