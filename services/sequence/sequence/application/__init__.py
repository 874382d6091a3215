"""sequence's use cases: one method each, shaped load → call, over a unit of work (the caller
commits: `app.execute(app.activate, sequence_id, actor=...)`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from leadflow_shared.calendars import BusinessCalendar
from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.store import ServiceApplication
from leadflow_shared.unit_of_work import UnitOfWork

from ..domain import CATALOG_ID, Catalog, SequenceDefinition, preview


class SequenceNotFound(LookupError):
    def __init__(self, sequence_id: UUID) -> None:
        super().__init__(f"sequence {sequence_id} not found")


class SequenceApplication(ServiceApplication):
    name = "sequence"

    def __init__(self, env: Any = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()

    # -- definitions -------------------------------------------------------------------------

    def create(
        self,
        uow: UnitOfWork,
        *,
        name: str,
        description: str,
        steps: list[dict[str, Any]],
        settings: dict[str, bool],
        actor: str,
    ) -> UUID:
        """A new sequence, as draft version 1."""
        sequence = SequenceDefinition(name, description, steps, settings, actor, self.clock.now())
        catalog = self._catalog(uow)
        catalog.record(sequence.id, name, sequence.status)
        uow.add(sequence, catalog)
        return sequence.id  # type: ignore[no-any-return]

    def edit(self, uow: UnitOfWork, sequence_id: UUID, *, changes: dict[str, Any], actor: str) -> None:
        sequence = self._sequence(uow, sequence_id)
        sequence.edit(changes, actor, self.clock.now())
        self._recorded(uow, sequence)

    def activate(self, uow: UnitOfWork, sequence_id: UUID, *, actor: str) -> int:
        """Activate the draft (422 listing every problem; 409 past 250 active sequences)."""
        sequence = self._sequence(uow, sequence_id)
        self._catalog(uow).check_room_for(sequence_id)
        number = sequence.activate(actor, self.clock.now())
        self._recorded(uow, sequence)
        return number

    def new_version(self, uow: UnitOfWork, sequence_id: UUID, *, actor: str) -> int:
        sequence = self._sequence(uow, sequence_id)
        number = sequence.new_version(actor, self.clock.now())
        self._recorded(uow, sequence)
        return number

    def deactivate(self, uow: UnitOfWork, sequence_id: UUID, *, actor: str) -> bool:
        sequence = self._sequence(uow, sequence_id)
        changed = sequence.deactivate(actor, self.clock.now())
        self._recorded(uow, sequence)
        return changed

    # -- reads -------------------------------------------------------------------------------

    def get_sequence(self, sequence_id: UUID) -> SequenceDefinition:
        try:
            sequence = self.latest(sequence_id)
        except AggregateNotFoundError:
            raise SequenceNotFound(sequence_id) from None
        if not isinstance(sequence, SequenceDefinition):
            raise SequenceNotFound(sequence_id)
        return sequence

    def catalog(self) -> dict[str, dict[str, Any]]:
        try:
            catalog: Catalog = self.latest(CATALOG_ID)
        except AggregateNotFoundError:
            return {}
        return dict(catalog.sequences)

    def preview(
        self, sequence_id: UUID, *, start: datetime, calendar: BusinessCalendar, version: int | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """Each step's due time along the shortest path (the given version, else the draft if
        there is one, else the active one)."""
        sequence = self.get_sequence(sequence_id)
        if version is None:
            chosen = sequence.draft or sequence.active or sequence.versions[-1]
        elif 1 <= version <= len(sequence.versions):
            chosen = sequence.numbered(version)
        else:
            raise LookupError(f"sequence {sequence_id} has no version {version}")
        return chosen["number"], preview(chosen["steps"], chosen["settings"], start=start, calendar=calendar)

    # -- helpers -----------------------------------------------------------------------------

    def _sequence(self, uow: UnitOfWork, sequence_id: UUID) -> SequenceDefinition:
        sequence = uow.get(sequence_id)
        if not isinstance(sequence, SequenceDefinition):
            raise SequenceNotFound(sequence_id)
        return sequence

    def _catalog(self, uow: UnitOfWork) -> Catalog:
        catalog: Catalog | None = uow.get(CATALOG_ID)
        return catalog if catalog is not None else Catalog()

    def _recorded(self, uow: UnitOfWork, sequence: SequenceDefinition) -> None:
        catalog = self._catalog(uow)
        name = (sequence.active or sequence.draft or sequence.versions[-1])["name"]
        catalog.record(sequence.id, name, sequence.status)
        uow.add(sequence, catalog)
