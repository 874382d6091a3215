"""sequence's use cases: one method each, shaped load → call, over a unit of work (the caller
commits: `app.execute(app.activate, sequence_id, actor=...)`; a Kafka batch passes one unit of work
for the whole batch).

Definitions (drafts, activation, versions) and their catalog; enrolments: from assignment's
decisions (a linked segment), by hand, on reassignment, and their exits from intake's lead
events; the seller's actions on the current step; e-mail signals; the deadlines that make steps
fall due; the mailer's outcomes; the copies of seller calendars and the organisation's holidays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from leadflow_shared.calendars import BusinessCalendar
from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.contracts import (
    LeadAssignedV1,
    LeadChangedV1,
    LeadDeletedV1,
    LeadReceivedV1,
    LeadStatusChangedV1,
    LeadUpdatedV1,
    SellerProfileChangedV1,
)
from leadflow_shared.store import ServiceApplication
from leadflow_shared.unit_of_work import UnitOfWork

from ..domain import (
    CATALOG_ID,
    HOLIDAYS_ID,
    LINKS_ID,
    SYSTEM,
    Catalog,
    Context,
    Enrolment,
    Holidays,
    LeadFile,
    Plan,
    Problem,
    SegmentLinks,
    SellerCalendar,
    SequenceDefinition,
    enrolment_id_for,
    preview,
    seller_calendar_id,
)
from ..domain.definition import DISCONNECT, walk
from ..domain.personal import PERSONAL_DATA
from .context import Calendars, LeadFacts, Plans

EXITING_ACTIONS: Mapping[str, str] = {
    "converted": "converted",
    "closed_invalid": "closed_invalid",
    "voided": "voided",
    "recycled": "recycled",
}
"""intake's lifecycle actions (lead.status-changed.v1) that take a lead out of its sequences."""
EXITING_CHANGES: Mapping[str, str] = {"qualified": "qualified", "disqualified": "disqualified"}
"""intake's lead changes (lead.changed.v1) that do."""
DISCONNECT_PAGE = 500
DISCONNECT_RECHECK = timedelta(seconds=5)

TemplateCheck = Callable[[Mapping[str, str]], str | None]
EnrolledIn = Callable[[UUID, int], list[UUID]]
"""The read model's answer to "which enrolments of this sequence are still active" (at most n)."""


class EnrolmentNotFound(LookupError):
    def __init__(self, enrolment_id: UUID) -> None:
        super().__init__(f"enrolment {enrolment_id} not found")


class SequenceNotFound(LookupError):
    def __init__(self, sequence_id: UUID) -> None:
        super().__init__(f"sequence {sequence_id} not found")


class SequenceApplication(ServiceApplication):
    name = "sequence"
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "5000"}
    personal_data = PERSONAL_DATA

    def __init__(
        self,
        env: Any = None,
        clock: Clock | None = None,
        *,
        template_problem: TemplateCheck | None = None,
        enrolled_in: EnrolledIn | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()
        self.template_problem = template_problem or (lambda _template: None)
        """Why an automated e-mail's template cannot be rendered (checked when activating)."""
        self.enrolled_in = enrolled_in or (lambda _sequence_id, _limit: [])
        self.plans = Plans()
        self.calendars = Calendars()
        self._fields_read_at: tuple[int | None, bool] = (None, False)
        """(catalog version, whether an active sequence then read lead fields)."""

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
        draft = sequence.draft or {"steps": []}
        more = [
            Problem(str(step.get("id")), f"the template cannot be rendered: {reason}")
            for step in walk(draft["steps"])
            if step.get("type") == "auto_email" and isinstance(step.get("template"), Mapping)
            for reason in [self.template_problem(step["template"])]
            if reason is not None
        ]
        number = sequence.activate(actor, self.clock.now(), more)
        self._recorded(uow, sequence)
        return number

    def new_version(self, uow: UnitOfWork, sequence_id: UUID, *, actor: str) -> int:
        sequence = self._sequence(uow, sequence_id)
        number = sequence.new_version(actor, self.clock.now())
        self._recorded(uow, sequence)
        return number

    def deactivate(self, uow: UnitOfWork, sequence_id: UUID, *, actor: str) -> bool:
        """No longer active: its leads are disconnected (by a durable deadline, page by page)."""
        sequence = self._sequence(uow, sequence_id)
        changed = sequence.deactivate(actor, self.clock.now())
        self._recorded(uow, sequence)
        return changed

    def delete(self, uow: UnitOfWork, sequence_id: UUID, *, actor: str) -> bool:
        sequence = self._sequence(uow, sequence_id)
        changed = sequence.delete(actor, self.clock.now())
        links: SegmentLinks | None = uow.get(LINKS_ID)
        if links is not None:
            for segment_id in links.segments_of(sequence_id):
                links.unlink(segment_id, sequence_id, actor, self.clock.now())
            uow.add(links)
        self._recorded(uow, sequence)
        return changed

    def link_segment(self, uow: UnitOfWork, sequence_id: UUID, segment_id: str, *, actor: str, on: bool) -> bool:
        """Link (or unlink) one of assignment's segments: its assigned leads are enrolled."""
        sequence = self._sequence(uow, sequence_id)
        if on and sequence.deleted:
            raise SequenceNotFound(sequence_id)
        links: SegmentLinks = uow.get(LINKS_ID) or SegmentLinks()
        now = self.clock.now()
        changed = (
            links.link(segment_id, sequence_id, actor, now) if on else links.unlink(segment_id, sequence_id, actor, now)
        )
        uow.add(links)
        return changed

    # -- enrolment ---------------------------------------------------------------------------

    def enrol(
        self,
        uow: UnitOfWork,
        lead_id: UUID,
        sequence_id: UUID,
        *,
        actor: str,
        via: str = "manual",
        owner_id: str | None = None,
        segment_id: str | None = None,
    ) -> UUID:
        """Connect a lead to the sequence's active version (409: not active, or already in it)."""
        sequence = self._sequence(uow, sequence_id)
        version = sequence.check_enrols()
        lead = self._lead(uow, lead_id)
        round_ = lead.next_round(sequence_id)
        plan = self.plans.of(uow, sequence_id, int(version["number"]))
        owner = owner_id if owner_id is not None else lead.owner_id
        ctx = Context(plan, self.calendars.of(uow, owner), lead.facts_view(), self.clock.now())
        enrolment, advanced_to = Enrolment.start(
            lead_id, round_, ctx, owner_id=owner, via=via, segment_id=segment_id, actor=actor
        )
        lead.enrolled(sequence_id, enrolment.id, round_, ctx.now)
        uow.add(lead, enrolment)
        self._settle(uow, enrolment, advanced_to, lead)
        return enrolment.id  # type: ignore[no-any-return]

    def disconnect(self, uow: UnitOfWork, enrolment_id: UUID, *, actor: str, cause: str = "disconnected") -> bool:
        enrolment = self._enrolment(uow, enrolment_id)
        changed = enrolment.exit(cause, actor=actor, at=self.clock.now())
        self._settle(uow, enrolment, None)
        return changed

    def on_assigned(self, uow: UnitOfWork, assigned: LeadAssignedV1) -> None:
        """assignment decided who owns the lead: its enrolments follow the owner; a lead in a
        segment linked to sequences is enrolled in each (once)."""
        lead = self._lead(uow, assigned.lead_id)
        now = self.clock.now()
        lead.note_owner(assigned.seller_id, assigned.team_id, assigned.segment_id, now)
        uow.add(lead)
        for enrolment_id in list(lead.enrolments.values()):
            enrolment: Enrolment | None = uow.get(UUID(enrolment_id))
            if enrolment is not None and enrolment.reassign(assigned.seller_id, now):
                uow.add(enrolment)
        if assigned.seller_id is None or assigned.segment_id is None:
            return
        links: SegmentLinks | None = uow.get(LINKS_ID)
        for sequence_id in links.sequences_of(assigned.segment_id) if links is not None else []:
            sequence: SequenceDefinition | None = uow.get(sequence_id)
            if str(sequence_id) in lead.enrolments or sequence is None or sequence.active is None or sequence.deleted:
                continue
            self.enrol(
                uow,
                assigned.lead_id,
                sequence_id,
                actor=SYSTEM,
                via="segment",
                owner_id=assigned.seller_id,
                segment_id=assigned.segment_id,
            )

    @staticmethod
    def the_lead(event: Any) -> list[UUID]:
        return [event.lead_id]

    # -- what intake says about leads ---------------------------------------------------------

    def on_lead_snapshot(self, uow: UnitOfWork, snapshot: LeadReceivedV1 | LeadUpdatedV1) -> None:
        """The lead's fields (without personal data), for field conditions: kept for every lead while
        an active sequence has one, else only for leads the service already knows (most leads are
        then never written here before they are assigned)."""
        if not self._reads_lead_fields(uow) and uow.get(snapshot.lead_id) is None:
            return
        lead = self._lead(uow, snapshot.lead_id)
        facts = snapshot.model_dump(
            mode="json", include={"type", "score", "campaign_id", "lifecycle_stage", "product_interest", "attributes"}
        )
        facts["company"] = snapshot.company.model_dump(mode="json", exclude_none=True)
        facts["source"] = snapshot.source
        lead.note_facts(facts, snapshot.version, self.clock.now())
        uow.add(lead)

    def _reads_lead_fields(self, uow: UnitOfWork) -> bool:
        """Whether an active sequence has a field condition (worked out again when the catalog changes)."""
        catalog = self._catalog(uow)
        if self._fields_read_at[0] != catalog.version:
            reads = False
            for sequence_id, entry in catalog.sequences.items():
                if entry["status"] != "active":
                    continue
                sequence: SequenceDefinition | None = uow.get(UUID(sequence_id))
                active = sequence.active if sequence is not None else None
                if active is not None and any(s.get("kind") == "field_value" for s in walk(active["steps"])):
                    reads = True
                    break
            self._fields_read_at = (catalog.version, reads)
        return self._fields_read_at[1]

    def on_status_changed(self, uow: UnitOfWork, changed: LeadStatusChangedV1) -> None:
        cause = EXITING_ACTIONS.get(changed.action)
        if cause is not None:
            self._exit_all(uow, changed.lead_id, cause)

    def on_lead_changed(self, uow: UnitOfWork, changed: LeadChangedV1) -> None:
        if changed.change == "stage_moved":
            lead = self._lead(uow, changed.lead_id)
            lead.note_stage(changed.data.get("to_stage"), self.clock.now())
            uow.add(lead)
        cause = EXITING_CHANGES.get(changed.change)
        if cause is not None:
            self._exit_all(uow, changed.lead_id, cause)

    def on_lead_deleted(self, uow: UnitOfWork, deleted: LeadDeletedV1) -> None:
        self._exit_all(uow, deleted.lead_id, "deleted")
        lead = self._lead(uow, deleted.lead_id)
        lead.mark_gone("deleted", self.clock.now())
        uow.add(lead)

    def _exit_all(self, uow: UnitOfWork, lead_id: UUID, cause: str) -> None:
        lead: LeadFile | None = uow.get(lead_id)
        if lead is None:
            return
        for enrolment_id in list(lead.enrolments.values()):
            enrolment: Enrolment | None = uow.get(UUID(enrolment_id))
            if enrolment is not None:
                enrolment.exit(cause, actor=SYSTEM, at=self.clock.now())
                self._settle(uow, enrolment, None, lead)

    # -- the seller's actions ------------------------------------------------------------------

    def complete(
        self,
        uow: UnitOfWork,
        enrolment_id: UUID,
        step_id: str,
        *,
        actor: str,
        outcome: str | None = None,
        note: str | None = None,
    ) -> None:
        enrolment = self._enrolment(uow, enrolment_id)
        advanced = enrolment.complete(step_id, self._context(uow, enrolment), actor=actor, outcome=outcome, note=note)
        self._settle(uow, enrolment, advanced)

    def skip(self, uow: UnitOfWork, enrolment_id: UUID, step_id: str, *, actor: str) -> None:
        enrolment = self._enrolment(uow, enrolment_id)
        advanced = enrolment.skip(step_id, self._context(uow, enrolment), actor=actor)
        self._settle(uow, enrolment, advanced)

    def skip_wait(self, uow: UnitOfWork, enrolment_id: UUID, step_id: str, *, actor: str) -> None:
        enrolment = self._enrolment(uow, enrolment_id)
        advanced = enrolment.skip_wait(step_id, self._context(uow, enrolment), actor=actor)
        self._settle(uow, enrolment, advanced)

    def snooze(self, uow: UnitOfWork, enrolment_id: UUID, step_id: str, *, until: datetime, actor: str) -> None:
        enrolment = self._enrolment(uow, enrolment_id)
        enrolment.snooze(step_id, until, self._context(uow, enrolment), actor=actor)
        uow.add(enrolment)

    def signal(
        self,
        uow: UnitOfWork,
        enrolment_id: UUID,
        *,
        kind: str,
        step_id: str,
        occurred_at: datetime,
        source: str,
    ) -> None:
        """An e-mail signal (opened, replied, link clicked, attachment downloaded)."""
        enrolment = self._enrolment(uow, enrolment_id)
        advanced = enrolment.signal(kind, step_id, occurred_at, self._context(uow, enrolment), source=source)
        self._settle(uow, enrolment, advanced)

    # -- time and the mailer -------------------------------------------------------------------

    def on_deadline(self, uow: UnitOfWork, aggregate: Any, deadline_id: str, purpose: str, at: datetime) -> None:
        """A deadline fired (the runner): a step's wait is over, a signal's time limit passed, a
        snoozed step is due again, or an inactive sequence's leads are to be disconnected."""
        if isinstance(aggregate, Enrolment):
            advanced = aggregate.deadline_fired(deadline_id, purpose, self._context(uow, aggregate))
            self._settle(uow, aggregate, advanced)
        elif isinstance(aggregate, SequenceDefinition) and purpose == DISCONNECT:
            self._disconnect_leads(uow, aggregate, at)

    def _disconnect_leads(self, uow: UnitOfWork, sequence: SequenceDefinition, at: datetime) -> None:
        """One page of the sequence's active enrolments exits; another pass follows at once while
        pages come back changed, a little later while the list still shows exited ones (it follows
        the store a moment behind), and none once the list has no active enrolment left."""
        cause = "sequence_deleted" if sequence.deleted else "sequence_deactivated"
        page = self.enrolled_in(sequence.id, DISCONNECT_PAGE)
        uow.preload(page)
        exited = 0
        for enrolment_id in page:
            enrolment: Enrolment | None = uow.get(enrolment_id)
            if enrolment is not None and enrolment.exit(cause, actor=SYSTEM, at=at):
                self._settle(uow, enrolment, None)
                exited += 1
        if page:
            sequence.disconnect_again_at(self.clock.now() + (timedelta(0) if exited else DISCONNECT_RECHECK))
            uow.add(sequence)

    def email_sent(self, uow: UnitOfWork, enrolment_id: UUID, step_id: str, *, message_id: str) -> None:
        enrolment = self._enrolment(uow, enrolment_id)
        advanced = enrolment.email_sent(step_id, message_id, self._context(uow, enrolment))
        self._settle(uow, enrolment, advanced)

    def email_failed(
        self, uow: UnitOfWork, enrolment_id: UUID, step_id: str, *, reason: str, attempt: int, final: bool
    ) -> None:
        enrolment = self._enrolment(uow, enrolment_id)
        advanced = enrolment.email_failed(step_id, reason, attempt, final, self._context(uow, enrolment))
        self._settle(uow, enrolment, advanced)

    # -- calendars -----------------------------------------------------------------------------

    def on_seller_profile(self, uow: UnitOfWork, profile: SellerProfileChangedV1) -> None:
        """assignment's seller calendar, as it stands after a change: the copy is replaced."""
        seller: SellerCalendar = uow.get(seller_calendar_id(profile.seller_id)) or SellerCalendar(
            seller_id=profile.seller_id
        )
        data = profile.model_dump(mode="json", include={"time_zone", "working_hours", "out_of_office"})
        if seller.update(data, profile.version):
            uow.add(seller)

    @staticmethod
    def the_seller(profile: SellerProfileChangedV1) -> list[UUID]:
        return [seller_calendar_id(profile.seller_id)]

    def set_holidays(self, uow: UnitOfWork, days: list[dict[str, Any]], *, actor: str) -> list[dict[str, Any]]:
        holidays: Holidays = uow.get(HOLIDAYS_ID) or Holidays()
        holidays.replace(days, actor, self.clock.now())
        uow.add(holidays)
        return list(holidays.days)

    def holidays(self) -> list[dict[str, Any]]:
        try:
            return list(self.latest(HOLIDAYS_ID).days)
        except AggregateNotFoundError:
            return []

    def calendar_of(self, seller_id: str | None) -> BusinessCalendar:
        """A seller's calendar as the service knows it (a read)."""
        with UnitOfWork(self) as uow:
            return self.calendars.of(uow, seller_id)

    # -- reads -------------------------------------------------------------------------------

    def get_sequence(self, sequence_id: UUID) -> SequenceDefinition:
        try:
            sequence = self.latest(sequence_id)
        except AggregateNotFoundError:
            raise SequenceNotFound(sequence_id) from None
        if not isinstance(sequence, SequenceDefinition) or sequence.deleted:
            raise SequenceNotFound(sequence_id)
        return sequence

    def get_sequence_version(self, sequence_id: UUID, version: int) -> dict[str, Any]:
        """One version of a sequence, also of a deleted one (enrolments started on it)."""
        try:
            sequence: SequenceDefinition = self.latest(sequence_id)
        except AggregateNotFoundError:
            raise SequenceNotFound(sequence_id) from None
        return sequence.numbered(version)

    def segments_of(self, sequence_id: UUID) -> list[str]:
        try:
            links: SegmentLinks = self.latest(LINKS_ID)
        except AggregateNotFoundError:
            return []
        return links.segments_of(sequence_id)

    def catalog(self) -> dict[str, dict[str, Any]]:
        try:
            catalog: Catalog = self.latest(CATALOG_ID)
        except AggregateNotFoundError:
            return {}
        return {k: v for k, v in catalog.sequences.items() if v["status"] != "deleted"}

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

    def get_enrolment(self, enrolment_id: UUID) -> Enrolment:
        try:
            enrolment = self.latest(enrolment_id)
        except AggregateNotFoundError:
            raise EnrolmentNotFound(enrolment_id) from None
        if not isinstance(enrolment, Enrolment):
            raise EnrolmentNotFound(enrolment_id)
        return enrolment

    def enrolment_ids_of(self, lead_id: UUID) -> list[UUID]:
        """Every enrolment the lead ever had (current ones and ended ones), oldest first."""
        try:
            lead: LeadFile = self.latest(lead_id)
        except AggregateNotFoundError:
            return []
        if not isinstance(lead, LeadFile):
            return []
        return [
            enrolment_id_for(lead_id, UUID(sequence_id), n)
            for sequence_id, rounds in lead.rounds.items()
            for n in range(1, rounds + 1)
        ]

    def owner_of(self, lead_id: UUID) -> tuple[str | None, str | None]:
        """The lead's owner and team as assignment last said (None, None: not heard of)."""
        try:
            lead = self.latest(lead_id)
        except AggregateNotFoundError:
            return None, None
        return (lead.owner_id, lead.team_id) if isinstance(lead, LeadFile) else (None, None)

    def plan_of(self, enrolment: Enrolment) -> Plan:
        with UnitOfWork(self) as uow:
            return self.plans.of(uow, enrolment.sequence_id, enrolment.sequence_version)

    # -- helpers -----------------------------------------------------------------------------

    def _context(self, uow: UnitOfWork, enrolment: Enrolment) -> Context:
        return Context(
            self.plans.of(uow, enrolment.sequence_id, enrolment.sequence_version),
            self.calendars.of(uow, enrolment.owner_id),
            LeadFacts(uow, enrolment.lead_id),
            self.clock.now(),
        )

    def _settle(
        self, uow: UnitOfWork, enrolment: Enrolment, advanced_to: UUID | None, lead: LeadFile | None = None
    ) -> None:
        """Record the enrolment; once it has ended the lead leaves the sequence (and, after an
        advance, is enrolled in the target if it is active and the lead is not in it already)."""
        uow.add(enrolment)
        if enrolment.active:
            return
        lead = lead or uow.get(enrolment.lead_id)
        if lead is None:
            return
        lead.left(enrolment.sequence_id, self.clock.now())
        uow.add(lead)
        if advanced_to is None:
            return
        target: SequenceDefinition | None = uow.get(advanced_to)
        if target is None or target.deleted or target.active is None or str(advanced_to) in lead.enrolments:
            return
        self.enrol(uow, enrolment.lead_id, advanced_to, actor=SYSTEM, via="advance", owner_id=enrolment.owner_id)

    def _lead(self, uow: UnitOfWork, lead_id: UUID) -> LeadFile:
        lead: LeadFile | None = uow.get(lead_id)
        return lead if lead is not None else LeadFile(lead_id=lead_id, at=self.clock.now())

    def _enrolment(self, uow: UnitOfWork, enrolment_id: UUID) -> Enrolment:
        enrolment = uow.get(enrolment_id)
        if not isinstance(enrolment, Enrolment):
            raise EnrolmentNotFound(enrolment_id)
        return enrolment

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
