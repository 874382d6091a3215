"""What walking an enrolment needs, loaded through the unit of work and kept once built: the plan
of each activated version (it never changes) and each seller's business calendar (rebuilt when
the seller's copy or the organisation's holidays change)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any
from uuid import UUID

from leadflow_shared.calendars import BusinessCalendar
from leadflow_shared.unit_of_work import UnitOfWork

from ..domain import (
    HOLIDAYS_ID,
    Holidays,
    LeadFile,
    Plan,
    SellerCalendar,
    SequenceDefinition,
    calendar_from,
    seller_calendar_id,
)
from ..domain.definition import DRAFT


class LeadFacts(Mapping[str, Any]):
    """A lead's fields for conditions, loaded only when a condition reads them (most steps never
    do: a page of due steps then needs no lead at all)."""

    def __init__(self, uow: UnitOfWork, lead_id: UUID) -> None:
        self._uow, self._lead_id = uow, lead_id
        self._facts: Mapping[str, Any] | None = None

    def _loaded(self) -> Mapping[str, Any]:
        if self._facts is None:
            lead: LeadFile | None = self._uow.get(self._lead_id)
            self._facts = lead.facts_view() if lead is not None else {}
        return self._facts

    def __getitem__(self, key: str) -> Any:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


class Plans:
    """Activated versions as Plans, built once each."""

    def __init__(self, size: int = 1000) -> None:
        self._plans: OrderedDict[tuple[UUID, int], Plan] = OrderedDict()
        self._size = size

    def of(self, uow: UnitOfWork, sequence_id: UUID, version: int) -> Plan:
        key = (sequence_id, version)
        plan = self._plans.get(key)
        if plan is None:
            sequence: SequenceDefinition = uow.require(sequence_id, lambda: LookupError(f"sequence {sequence_id}"))
            chosen = sequence.numbered(version)
            plan = Plan.of(sequence_id, chosen)
            if chosen["status"] != DRAFT:  # activated: it never changes again
                self._plans[key] = plan
                if len(self._plans) > self._size:
                    self._plans.popitem(last=False)
        return plan


class Calendars:
    """Each seller's calendar with the organisation's holidays, built once per version of both."""

    def __init__(self, size: int = 5000) -> None:
        self._built: OrderedDict[tuple[str, int, int], BusinessCalendar] = OrderedDict()
        self._size = size

    def holidays(self, uow: UnitOfWork) -> tuple[list[dict[str, Any]], int]:
        holidays: Holidays | None = uow.get(HOLIDAYS_ID)
        return (holidays.days, holidays.version) if holidays is not None else ([], 0)

    def of(self, uow: UnitOfWork, seller_id: str | None) -> BusinessCalendar:
        days, holidays_version = self.holidays(uow)
        seller: SellerCalendar | None = uow.get(seller_calendar_id(seller_id)) if seller_id else None
        key = (seller_id or "", seller.version if seller is not None else 0, holidays_version)
        calendar = self._built.get(key)
        if calendar is None:
            calendar = self._built[key] = calendar_from(seller.profile if seller is not None else {}, days)
            if len(self._built) > self._size:
                self._built.popitem(last=False)
        return calendar
