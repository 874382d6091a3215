"""intake's use cases: one method each, shaped load → call → save."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking

from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.contracts import ContactLifecycleChangedV1, InboundLeadV1, LeadAssignedV1, LeadType
from leadflow_shared.store import ServiceApplication, new_processing_event

from .domain import (
    SETTINGS_ID,
    ContactIndexEntry,
    Customer,
    DuplicateCustomerPhone,
    Lead,
    LeadSettings,
    SettingRequirement,
    index_id,
    lead_id_for,
)

SYSTEM = "system"


class LeadNotFound(LookupError):
    def __init__(self, lead_id: UUID) -> None:
        super().__init__(f"lead {lead_id} not found")
        self.lead_id = lead_id


@dataclass(frozen=True)
class Receipt:
    """What became of one inbound lead."""

    lead_id: UUID
    outcome: str  # created | updated | duplicate
    possible_duplicates: list[str] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.outcome == "created"


def upstream_fields(inbound: InboundLeadV1) -> dict[str, Any]:
    """The Lead attributes an upstream message sets (also compared on updates)."""
    return {
        "lead_type": inbound.type.value,
        "contact": inbound.contact.model_dump(mode="json", exclude_none=True),
        "company": inbound.company.model_dump(mode="json", exclude_none=True),
        "score": inbound.score,
        "campaign_id": inbound.campaign_id,
        "details": inbound.model_dump(
            mode="json",
            exclude_none=True,
            include={"lifecycle_stage", "product_interest", "notes", "contact_requested", "consent", "attributes"},
        ),
    }


class IntakeApplication(ServiceApplication):
    name = "intake"
    env = {"AGGREGATE_CACHE_MAXSIZE": "2000"}  # settings and hot index entries are read per lead

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        leads_in_stage: Callable[[str], list[UUID]] | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()
        self.leads_in_stage = leads_in_stage or self._scan_leads_in_stage

    # -- taking leads in -----------------------------------------------------------------

    def receive_lead(self, inbound: InboundLeadV1, *, via: str, tracking: Tracking | None = None) -> Receipt:
        """Record a new lead, apply a newer upstream version, or recognise a re-send."""
        processing = new_processing_event(tracking)
        receipt = self._take_in(inbound, via=via, collect=processing.collect_events, loaded={})
        self.record(processing)
        return receipt

    def receive_leads(self, rows: Iterable[InboundLeadV1], *, via: str) -> list[Receipt]:
        """Many leads in one transaction (imports); a lead twice in the batch is seen as a re-send."""
        processing = new_processing_event(None)
        loaded: dict[UUID, Any] = {}
        receipts = [self._take_in(row, via=via, collect=lambda *a: None, loaded=loaded) for row in rows]
        processing.collect_events(*loaded.values())
        self.record(processing)
        return receipts

    def _take_in(
        self, inbound: InboundLeadV1, *, via: str, collect: Callable[..., None], loaded: dict[UUID, Any]
    ) -> Receipt:
        now = self.clock.now()
        lead_id = lead_id_for(inbound.source, inbound.external_id)
        lead = self._load(Lead, lead_id, loaded)
        fields = upstream_fields(inbound)
        if lead is not None:
            outcome = "updated" if lead.apply_upstream(fields, inbound.occurred_at, at=now) else "duplicate"
            collect(lead)
            return Receipt(lead_id, outcome, list(lead.possible_duplicates))
        settings = self._settings(loaded)
        lead = Lead(
            source=inbound.source,
            external_id=inbound.external_id,
            occurred_at=inbound.occurred_at,
            received_at=now,
            received_via=via,
            stage_id=settings.default_stage,
            **fields,
        )
        loaded[lead.id] = lead
        entries = self._index_entries(lead.contact, loaded)
        matches_leads = sorted({i for e in entries for i in e.lead_ids} - {str(lead.id)})
        matches_customers = sorted({i for e in entries for i in e.customer_ids})
        lead.mark_possible_duplicate(matches_leads, matches_customers, at=now)
        for entry in entries:
            entry.add_lead(lead.id)
        collect(lead, settings, *entries)
        return Receipt(lead.id, "created", list(lead.possible_duplicates))

    def on_contact_lifecycle_changed(
        self, change: ContactLifecycleChangedV1, *, tracking: Tracking | None = None
    ) -> UUID | None:
        """Auto-create a lead (once) when a contact reaches the configured lifecycle stage."""
        settings = self._settings({})
        if change.lifecycle_stage != settings.auto_create_at_lifecycle_stage:
            if tracking is not None:
                self.recorder.insert_tracking(tracking)
            return None
        inbound = InboundLeadV1(
            source=change.source,
            external_id=f"contact:{change.contact_id}",
            type=LeadType.marketing_qualified,
            contact=change.contact,
            company=change.company,
            lifecycle_stage=change.lifecycle_stage,
            occurred_at=change.occurred_at,
        )
        lead_id = lead_id_for(inbound.source, inbound.external_id)
        if lead_id in self.repository:
            if tracking is not None:
                self.recorder.insert_tracking(tracking)
            return lead_id  # created once, never again
        return self.receive_lead(inbound, via="auto-create", tracking=tracking).lead_id

    def on_assignment_decided(self, decision: LeadAssignedV1, *, tracking: Tracking | None = None) -> None:
        processing = new_processing_event(tracking)
        lead = self._find(decision.lead_id)
        if lead is not None and lead.assign(
            decision.seller_id,
            decision.team_id,
            decision.method,
            at=decision.decided_at,
            assignment_version=decision.version,
        ):
            processing.collect_events(lead)
        self.record(processing)

    # -- lifecycle -----------------------------------------------------------------------

    def convert(self, lead_id: UUID, *, actor: str, link_to_customer: UUID | None = None) -> UUID:
        """Convert to a customer; refused when the phone is already a customer's, unless linked to it."""
        lead = self.get_lead(lead_id)
        lead.check_allows("convert")
        now = self.clock.now()
        phone = lead.contact.get("phone")
        entry = self._load(ContactIndexEntry, index_id("phone", phone), {}) if phone else None
        if link_to_customer is not None:
            customer = self._get(Customer, link_to_customer)
            customer.link_lead(lead_id, at=now)
            lead.convert(customer.id, linked_existing=True, actor=actor, at=now)
            self.save(lead, customer)
            return customer.id
        if entry is not None and entry.customer_ids:
            raise DuplicateCustomerPhone(UUID(entry.customer_ids[0]))
        name = " ".join(p for p in (lead.contact.get("first_name"), lead.contact.get("last_name")) if p) or None
        customer = Customer(
            name=name,
            email=lead.contact.get("email"),
            phone=phone,
            company=lead.company.get("name"),
            from_lead_id=lead_id,
            at=now,
        )
        touched = [e for e in self._index_entries(lead.contact, {}) if e is not None]
        for e in touched:
            e.add_customer(customer.id)
        lead.convert(customer.id, linked_existing=False, actor=actor, at=now)
        self.save(lead, customer, *touched)
        return customer.id

    def recycle(self, lead_id: UUID, *, actor: str, reason: str | None = None) -> None:
        self._change(lead_id, lambda lead, now: lead.recycle(reason, actor, now))

    def close_invalid(self, lead_id: UUID, *, actor: str, reason: str) -> None:
        self._change(lead_id, lambda lead, now: lead.close_invalid(reason, actor, now))

    def void(self, lead_id: UUID, *, actor: str, reason: str | None = None) -> None:
        self._change(lead_id, lambda lead, now: lead.void(reason, actor, now))

    def unvoid(self, lead_id: UUID, *, actor: str) -> None:
        self._change(lead_id, lambda lead, now: lead.unvoid(actor, now))

    def delete(self, lead_id: UUID, *, actor: str, reason: str | None = None) -> None:
        self._change(lead_id, lambda lead, now: lead.delete(reason, actor, now))

    def follow_up(self, lead_id: UUID, *, actor: str, note: str) -> None:
        self._change(lead_id, lambda lead, now: lead.follow_up(note, actor, now))

    def link_document(self, lead_id: UUID, *, actor: str, kind: str, number: str) -> None:
        self._change(lead_id, lambda lead, now: lead.link_document(kind, number, actor, now))

    def move_stage(self, lead_id: UUID, *, actor: str, stage_id: str) -> None:
        self._settings({}).check_stage_exists(stage_id)
        self._change(lead_id, lambda lead, now: lead.move_stage(stage_id, actor, now))

    def qualify(self, lead_id: UUID, *, actor: str, deal: dict[str, Any] | None = None) -> None:
        self._settings({}).check_deal(deal)
        self._change(lead_id, lambda lead, now: lead.qualify(deal, actor, now))

    def disqualify(self, lead_id: UUID, *, actor: str, reason_id: str | None = None, note: str | None = None) -> None:
        label = self._settings({}).reason_label(reason_id)
        self._change(lead_id, lambda lead, now: lead.disqualify(reason_id, label, note, actor, now))

    def associate(self, lead_id: UUID, *, actor: str, kind: str, target_id: str) -> None:
        stage = self._settings({}).lifecycle_stage_on_association
        self._change(lead_id, lambda lead, now: lead.associate(kind, target_id, stage, actor, now))

    def toggle_favorite(self, lead_id: UUID, *, user_id: str) -> bool:
        lead = self.get_lead(lead_id)
        on = lead.toggle_favorite(user_id, self.clock.now())
        self.save(lead)
        return on

    def merge(self, survivor_id: UUID, merged_id: UUID, *, actor: str) -> None:
        """Fold one lead into another: both keep their streams; nothing is deleted."""
        if survivor_id == merged_id:
            raise SettingRequirement("merged_id", "a lead cannot be merged into itself")
        survivor, merged = self.get_lead(survivor_id), self.get_lead(merged_id)
        survivor.check_allows("merge")
        merged.check_allows("merge")
        now = self.clock.now()
        merged.merge_into(survivor_id, actor, now)
        survivor.absorb(merged_id, actor, now)
        self.save(survivor, merged)

    def unmerge(self, merged_id: UUID, *, actor: str) -> UUID:
        merged = self.get_lead(merged_id)
        now = self.clock.now()
        survivor_id = merged.unmerge(actor, now)
        survivor = self.get_lead(survivor_id)
        survivor.release(merged_id, actor, now)
        self.save(survivor, merged)
        return survivor_id

    # -- settings ------------------------------------------------------------------------

    def settings(self) -> LeadSettings:
        return self._settings({})

    def change_settings(self, change: Callable[[LeadSettings], None]) -> LeadSettings:
        settings = self._settings({})
        change(settings)
        self.save(settings)
        return settings

    def delete_stage(self, stage_id: str, *, move_to: str | None, actor: str) -> int:
        """Delete a stage; its leads (if any) move to `move_to` first. Returns how many moved."""
        settings = self._settings({})
        lead_ids = self.leads_in_stage(stage_id)
        settings.delete_stage(stage_id, len(lead_ids), move_to)
        now = self.clock.now()
        leads = [self.get_lead(i) for i in lead_ids]
        for lead in leads:
            assert move_to is not None
            lead.move_stage_for_settings(move_to, actor, now, reason=f"stage {stage_id} deleted")
        self.save(settings, *leads)
        return len(leads)

    # -- reading -------------------------------------------------------------------------

    def get_lead(self, lead_id: UUID) -> Lead:
        lead = self._find(lead_id)
        if lead is None or lead.deleted:
            raise LeadNotFound(lead_id)
        return lead

    def lead_history(self, lead_id: UUID) -> list[Any]:
        if lead_id not in self.repository:
            raise LeadNotFound(lead_id)
        return list(self.events.get(lead_id))

    # -- helpers -------------------------------------------------------------------------

    def _change(self, lead_id: UUID, change: Callable[[Lead, datetime], None]) -> None:
        lead = self.get_lead(lead_id)
        change(lead, self.clock.now())
        self.save(lead)

    def _find(self, lead_id: UUID) -> Lead | None:
        try:
            return self.repository.get(lead_id)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return None

    def _get(self, cls: type[Any], aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise LookupError(f"{cls.__name__} {aggregate_id} not found") from None

    def _load(self, cls: type[Any], aggregate_id: UUID, loaded: dict[UUID, Any]) -> Any:
        if aggregate_id not in loaded:
            try:
                loaded[aggregate_id] = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        return loaded[aggregate_id]

    def _settings(self, loaded: dict[UUID, Any]) -> LeadSettings:
        settings = self._load(LeadSettings, SETTINGS_ID, loaded)
        if settings is None:
            settings = LeadSettings.with_defaults()
            loaded[SETTINGS_ID] = settings
        return settings  # type: ignore[no-any-return]

    def _index_entries(self, contact: dict[str, Any], loaded: dict[UUID, Any]) -> list[ContactIndexEntry]:
        entries = []
        for kind in ("email", "phone"):
            value = contact.get(kind)
            if not value:
                continue
            value = value.lower() if kind == "email" else value
            entry = self._load(ContactIndexEntry, index_id(kind, value), loaded)
            if entry is None:
                entry = ContactIndexEntry(kind=kind, value=value)
                loaded[entry.id] = entry
            entries.append(entry)
        return entries

    def _scan_leads_in_stage(self, stage_id: str) -> list[UUID]:
        """Fallback without a read model (unit tests): walk the notification log."""
        ids: dict[UUID, None] = {}
        for notification in self.recorder.select_notifications(1, 10**9):
            if notification.topic.endswith("Lead.Received"):
                ids[notification.originator_id] = None  # type: ignore[index]
        leads = [self._find(i) for i in ids]
        return [lead.id for lead in leads if lead is not None and not lead.deleted and lead.stage_id == stage_id]
