"""intake's use cases: one method each, shaped load → call, over a unit of work.

Every use case takes the unit of work first: a Kafka batch passes one for the whole batch,
an HTTP command one of its own (`app.execute(app.convert, lead_id, actor=...)`); the caller
commits. The application never builds its own read model: `leads_in_stage` is injected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import ValidationError

from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.contracts import (
    ContactLifecycleChangedV1,
    InboundLeadV1,
    LeadAssignedV1,
    LeadAwaitingAssignmentV1,
    LeadType,
    ReferralAcceptedV1,
    TeamMembershipChangedV1,
)
from leadflow_shared.contracts.referrals import PUSHED_DOWN_SOURCE
from leadflow_shared.store import ServiceApplication
from leadflow_shared.timetravel import state_as_of
from leadflow_shared.unit_of_work import UnitOfWork

from ..domain import (
    ASSIGNED,
    CONTACT_SLA,
    MOVED_TOPICS,
    PERSONAL_DATA,
    QUALIFIED,
    SETTINGS_ID,
    UNASSIGNED,
    ContactIndexEntry,
    Customer,
    Deal,
    DuplicateCustomerPhone,
    Lead,
    LeadSettings,
    SettingRequirement,
    TeamMembers,
    index_id,
    lead_id_for,
    team_id_for,
)
from .customers import Customers

SYSTEM = "system"
LEAD_TYPE_OF_REFERRAL = {
    "direct": LeadType.customer_inquiry,
    "marketing_qualified": LeadType.marketing_qualified,
    "sales_qualified": LeadType.sales_qualified,
}
PERSON_FIELDS = {"first_name", "last_name", "email", "phone"}
"""What a lead's contact takes of a referral's customer contact."""
CONTACT_PREFIX = "contact:"
MAX_EXTERNAL_ID = 200


DEFAULT_CURRENCY = "USD"


class DealNotFound(LookupError):
    def __init__(self, deal_id: UUID) -> None:
        super().__init__(f"deal {deal_id} not found")


class LeadNotFound(LookupError):
    def __init__(self, lead_id: UUID, message: str | None = None) -> None:
        super().__init__(message or f"lead {lead_id} not found")
        self.lead_id = lead_id


@dataclass(frozen=True)
class Erasure:
    """What an erasure did."""

    lead_id: UUID
    erased_at: datetime
    already_erased: bool


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
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "5000"}
    moved_topics = MOVED_TOPICS
    uncached = (Customer,)
    personal_data = PERSONAL_DATA
    # Most leads have a handful of events; one worked for months (follow-ups, documents, stage
    # moves) loads, and travels back in time, from its latest snapshot.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Lead: 50}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        leads_in_stage: Callable[[str], list[UUID]] | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()
        self.leads_in_stage = leads_in_stage or self._scan_leads_in_stage
        self.contact_sla: timedelta | None = None
        """How soon a lead that asked to be contacted must be followed up (None: no SLA)."""
        self.customers = Customers(self)
        """Reading customers (application/customers.py)."""

    # -- taking leads in -----------------------------------------------------------------

    def receive_lead(
        self,
        uow: UnitOfWork,
        inbound: InboundLeadV1,
        *,
        via: str = "kafka",
        owner_id: str | None = None,
        actor: str | None = None,
    ) -> Receipt:
        """Record a new lead, apply a newer upstream version, or recognise a re-send. A new lead
        with `owner_id` (a seller's own, or a manager's pick) is theirs from the start; `actor`
        is who posted it (else the upstream source)."""
        now = self.clock.now()
        lead: Lead | None = uow.get(lead_id_for(inbound.source, inbound.external_id))
        fields = upstream_fields(inbound)
        if lead is not None:
            outcome = "updated" if lead.apply_upstream(fields, inbound.occurred_at, at=now) else "duplicate"
            uow.add(lead)
            return Receipt(lead.id, outcome, list(lead.possible_duplicates))
        settings = self._settings(uow)
        lead = Lead(
            source=inbound.source,
            external_id=inbound.external_id,
            occurred_at=inbound.occurred_at,
            received_at=now,
            received_via=via,
            stage_id=settings.default_stage,
            owner_id=owner_id,
            actor=actor or f"upstream:{inbound.source}",
            **fields,
        )
        if self.contact_sla is not None and inbound.contact_requested:
            lead.expect_contact_by(now + self.contact_sla)
        uow.add(lead)
        entries = self._index_entries(uow, lead.contact, first_lead=lead.id)
        matches_leads = sorted({i for e in entries for i in e.lead_ids} - {str(lead.id)})
        matches_customers = sorted({i for e in entries for i in e.customer_ids})
        lead.mark_possible_duplicate(matches_leads, matches_customers, at=now)
        for entry in entries:
            entry.add_lead(lead.id)
        uow.add(*entries)
        return Receipt(lead.id, "created", list(lead.possible_duplicates))

    def receive_leads(self, uow: UnitOfWork, rows: Iterable[InboundLeadV1], *, via: str) -> list[Receipt]:
        """Many leads in one unit of work (imports); a lead twice in the batch is seen as a re-send."""
        rows = list(rows)
        uow.preload(i for row in rows for i in self.looked_up_by(row))
        return [self.receive_lead(uow, row, via=via) for row in rows]

    @staticmethod
    def looked_up_by(inbound: InboundLeadV1) -> list[UUID]:
        """What `receive_lead` loads: the lead and its contact-index entries."""
        ids = [lead_id_for(inbound.source, inbound.external_id)]
        if inbound.contact.email:
            ids.append(index_id("email", inbound.contact.email.lower()))
        if inbound.contact.phone:
            ids.append(index_id("phone", inbound.contact.phone))
        return ids

    def on_contact_lifecycle_changed(self, uow: UnitOfWork, change: ContactLifecycleChangedV1) -> UUID | None:
        """Auto-create a lead (once) when a contact reaches the configured lifecycle stage."""
        settings = self._settings(uow)
        if change.lifecycle_stage != settings.auto_create_at_lifecycle_stage:
            return None
        if len(CONTACT_PREFIX) + len(change.contact_id) > MAX_EXTERNAL_ID:
            # Refused (HTTP 422, a dead letter on Kafka), never retried: it cannot become a lead id.
            raise SettingRequirement(
                "contact_id", f"at most {MAX_EXTERNAL_ID - len(CONTACT_PREFIX)} characters (it becomes the external id)"
            )
        inbound = InboundLeadV1(
            source=change.source,
            external_id=f"{CONTACT_PREFIX}{change.contact_id}",
            type=LeadType.marketing_qualified,
            contact=change.contact,
            company=change.company,
            lifecycle_stage=change.lifecycle_stage,
            occurred_at=change.occurred_at,
        )
        lead_id = lead_id_for(inbound.source, inbound.external_id)
        if uow.get(lead_id) is not None:
            return lead_id  # created once, never again
        return self.receive_lead(uow, inbound, via="auto-create").lead_id

    def on_referral_accepted(self, uow: UnitOfWork, accepted: ReferralAcceptedV1) -> UUID:
        """A partner accepted a referral: make a lead of the matching type (the push-down), once.
        The lead's external id is the referral id (and its attributes name it); the referral
        service learns the lead's id from the LeadReceivedV1 that follows."""
        customer = accepted.customer
        person = customer.contacts[0] if customer.contacts else None
        try:
            inbound = InboundLeadV1.model_validate(
                {
                    "source": PUSHED_DOWN_SOURCE,
                    "external_id": str(accepted.referral_id),
                    "type": LEAD_TYPE_OF_REFERRAL[accepted.qualification.value],
                    "contact": person.model_dump(include={"first_name", "last_name", "email", "phone"})
                    if person
                    else {},
                    "company": {
                        "name": customer.name,
                        "size_band": customer.size,
                        "country": customer.address.country,
                        "city": customer.address.city,
                        "region": customer.address.state,
                    },
                    "campaign_id": accepted.campaign_id,
                    "contact_requested": accepted.contact_requested,
                    "occurred_at": accepted.occurred_at,
                    "attributes": {
                        "referral_id": str(accepted.referral_id),
                        "partner_org": accepted.target_org,
                        "referral_sender": accepted.sender,
                    },
                }
            )
        except ValidationError as exc:  # refused (a dead letter), never retried
            raise SettingRequirement("referral", f"cannot become a lead: {exc.errors()[0]['msg']}") from None
        return self.receive_lead(uow, inbound, via="referral").lead_id

    @staticmethod
    def made_of_referral(accepted: ReferralAcceptedV1) -> list[UUID]:
        return [lead_id_for(PUSHED_DOWN_SOURCE, str(accepted.referral_id))]

    def on_assignment_decided(self, uow: UnitOfWork, decision: LeadAssignedV1) -> None:
        """assignment decided the owner: the lead records it with who (the person, or the rule
        set version) and why."""
        lead: Lead | None = uow.get(decision.lead_id)
        if lead is not None and lead.assign(
            decision.seller_id,
            decision.team_id,
            decision.method,
            at=decision.decided_at,
            assignment_version=decision.version,
            actor=decision.explanation.get("actor") if decision.method in ("manual", "self") else None,
            reason=decision.reason,
            ruleset_version=decision.ruleset_version,
        ):
            uow.add(lead)

    def on_assignment_waiting(self, uow: UnitOfWork, waiting: LeadAwaitingAssignmentV1) -> None:
        """assignment decided again and found nobody: an assigned lead goes back to unassigned."""
        lead: Lead | None = uow.get(waiting.lead_id)
        if lead is not None and lead.unassign(
            waiting.reason, at=waiting.waiting_since, assignment_version=waiting.version
        ):
            uow.add(lead)

    def on_team_membership_changed(self, uow: UnitOfWork, change: TeamMembershipChangedV1) -> None:
        """assignment's teams changed: keep intake's copy (a manager sees their members' leads)."""
        team: TeamMembers | None = uow.get(team_id_for(change.team_id))
        if team is None:
            team = TeamMembers(change.team_id)
        team.change(change.added, change.removed, replaced=change.replaced)
        uow.add(team)

    # -- lifecycle -----------------------------------------------------------------------

    def convert(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, link_to_customer: UUID | None = None) -> UUID:
        """Convert to a customer; refused when the phone is already a customer's, unless linked to it."""
        lead = self._lead(uow, lead_id)
        lead.check_allows("convert")
        now = self.clock.now()
        phone = lead.contact.get("phone")
        if link_to_customer is not None:
            customer = uow.require(link_to_customer, lambda: LookupError(f"Customer {link_to_customer} not found"))
            customer.link_lead(lead_id, at=now)
            lead.convert(customer.id, linked_existing=True, actor=actor, at=now)
            uow.add(lead, customer)
            return customer.id  # type: ignore[no-any-return]
        entry: ContactIndexEntry | None = uow.get(index_id("phone", phone)) if phone else None
        if entry is not None and entry.customer_ids:
            existing: Customer | None = uow.get(UUID(entry.customer_ids[0]))
            raise DuplicateCustomerPhone(UUID(entry.customer_ids[0]), existing.name if existing else None)
        name = " ".join(p for p in (lead.contact.get("first_name"), lead.contact.get("last_name")) if p) or None
        customer = Customer(
            name=name,
            email=lead.contact.get("email"),
            phone=phone,
            company=lead.company.get("name"),
            from_lead_id=lead_id,
            at=now,
        )
        touched = self._index_entries(uow, lead.contact)
        for e in touched:
            e.add_customer(customer.id)
        lead.convert(customer.id, linked_existing=False, actor=actor, at=now)
        uow.add(lead, customer, *touched)
        return customer.id

    def recycle(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, reason: str | None = None) -> None:
        self._change(uow, lead_id, lambda lead, now: lead.recycle(reason, actor, now))

    def close_invalid(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, reason: str) -> None:
        self._change(uow, lead_id, lambda lead, now: lead.close_invalid(reason, actor, now))

    def void(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, reason: str | None = None) -> None:
        self._change(uow, lead_id, lambda lead, now: lead.void(reason, actor, now))

    def unvoid(self, uow: UnitOfWork, lead_id: UUID, *, actor: str) -> None:
        self._change(uow, lead_id, lambda lead, now: lead.unvoid(actor, now))

    def delete(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, reason: str | None = None) -> None:
        self._change(uow, lead_id, lambda lead, now: lead.delete(reason, actor, now))

    def follow_up(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, note: str, channel: str = "note") -> None:
        self._change(uow, lead_id, lambda lead, now: lead.follow_up(note, actor, now, channel))

    def link_document(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, kind: str, number: str) -> None:
        self._change(uow, lead_id, lambda lead, now: lead.link_document(kind, number, actor, now))

    def unlink_document(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, number: str) -> None:
        self._change(uow, lead_id, lambda lead, now: lead.unlink_document(number, actor, now))

    def move_stage(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, stage_id: str) -> None:
        self._settings(uow).check_stage_exists(stage_id)
        self._change(uow, lead_id, lambda lead, now: lead.move_stage(stage_id, actor, now))

    def qualify(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, deal: dict[str, Any] | None = None) -> UUID | None:
        """Qualify the lead: it leaves open work (status `qualified`). A deal given (required by
        the "require a deal to qualify" setting) becomes a resource of its own, linked both ways."""
        self._settings(uow).check_deal(deal)
        lead = self._lead(uow, lead_id)
        lead.check_qualifies(QUALIFIED)
        now = self.clock.now()
        deal_id = None
        if deal is not None:
            created = Deal(
                lead_id=lead.id,
                qualification=lead.qualifications + 1,
                name=deal["name"],
                amount=deal["amount"],
                currency=deal.get("currency") or DEFAULT_CURRENCY,
                owner_id=lead.owner_id or actor,
                created_by=actor,
                at=now,
            )
            uow.add(created)
            deal_id = created.id
        lead.qualify(deal, actor, now, deal_id=deal_id)
        uow.add(lead)
        return deal_id

    def disqualify(
        self, uow: UnitOfWork, lead_id: UUID, *, actor: str, reason_id: str | None = None, note: str | None = None
    ) -> None:
        label = self._settings(uow).reason_label(reason_id)
        self._change(uow, lead_id, lambda lead, now: lead.disqualify(reason_id, label, note, actor, now))

    def reopen(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, reason: str | None = None) -> None:
        """A qualified or disqualified lead back to the open status it left; assignment decides again."""
        self._change(uow, lead_id, lambda lead, now: lead.reopen(actor, now, reason))

    def get_deal(self, deal_id: UUID) -> Deal:
        deal = self._find(deal_id)
        if not isinstance(deal, Deal):
            raise DealNotFound(deal_id)
        return deal

    def associate(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, kind: str, target_id: str) -> None:
        stage = self._settings(uow).lifecycle_stage_on_association
        self._change(uow, lead_id, lambda lead, now: lead.associate(kind, target_id, stage, actor, now))

    def erase(self, uow: UnitOfWork, lead_id: UUID, *, actor: str, reason: str | None = None) -> Erasure:
        """Erase the lead's personal data (crypto-shredding): its data key is destroyed in this
        unit of work, so every stored copy — events, snapshots, the customer made from it, sealed
        dead letters — becomes unreadable; it leaves the contact index; the read models scrub it
        as the Erased event reaches them. Its non-personal history stays. Deleted leads too."""
        lead: Lead | None = uow.get(lead_id)
        if lead is None:
            raise LeadNotFound(lead_id)
        if lead.erased_at is not None:
            return Erasure(lead_id, lead.erased_at, already_erased=True)
        now = self.clock.now()
        entries = self._index_entries(uow, lead.contact, create=False)
        for entry in entries:
            entry.remove_lead(lead_id)
        customer: Customer | None = uow.get(lead.customer_id) if lead.customer_id else None
        if customer is not None and customer.from_lead_id == lead_id:
            customer.erase(now)
            for entry in entries:
                entry.remove_customer(customer.id)
        lead.erase(actor, now, reason)
        uow.add(lead, customer, *entries)
        uow.erase_personal_data(lead_id)
        return Erasure(lead_id, now, already_erased=False)

    def set_favorite(self, uow: UnitOfWork, lead_id: UUID, *, user_id: str, on: bool) -> bool:
        """Idempotent: True when the user's favorites changed (only then is an event recorded)."""
        lead = self._lead(uow, lead_id)
        changed = lead.set_favorite(user_id, on, self.clock.now())
        if changed:
            uow.add(lead)
        return changed

    def merge(self, uow: UnitOfWork, survivor_id: UUID, merged_id: UUID, *, actor: str) -> None:
        """Fold one lead into another: both keep their streams; nothing is deleted."""
        if survivor_id == merged_id:
            raise SettingRequirement("merged_id", "a lead cannot be merged into itself")
        survivor, merged = self._lead(uow, survivor_id), self._lead(uow, merged_id)
        survivor.check_allows("merge")
        merged.check_allows("merge")
        now = self.clock.now()
        merged.merge_into(survivor_id, actor, now)
        survivor.absorb(merged_id, actor, now)
        uow.add(survivor, merged)

    def unmerge(self, uow: UnitOfWork, merged_id: UUID, *, actor: str) -> UUID:
        merged = self._lead(uow, merged_id)
        now = self.clock.now()
        survivor_id = merged.unmerge(actor, now)
        survivor = self._lead(uow, survivor_id)
        survivor.release(merged_id, actor, now)
        uow.add(survivor, merged)
        return survivor_id

    # -- settings ------------------------------------------------------------------------

    def change_settings(self, uow: UnitOfWork, change: Callable[[LeadSettings], None]) -> LeadSettings:
        settings = self._settings(uow)
        change(settings)
        uow.add(settings)
        return settings

    def delete_stage(self, uow: UnitOfWork, stage_id: str, *, move_to: str | None, actor: str) -> int:
        """Delete a stage; its leads (if any) move to `move_to` first. Returns how many moved."""
        settings = self._settings(uow)
        lead_ids = self.leads_in_stage(stage_id)
        settings.delete_stage(stage_id, len(lead_ids), move_to)
        now = self.clock.now()
        leads = [self._lead(uow, i) for i in lead_ids]
        for lead in leads:
            assert move_to is not None
            lead.move_stage_for_settings(move_to, actor, now, reason=f"stage {stage_id} deleted")
        uow.add(settings, *leads)
        return len(leads)

    # -- reading -------------------------------------------------------------------------

    def settings(self) -> LeadSettings:
        found = self._find(SETTINGS_ID)
        return found if found is not None else LeadSettings.with_defaults()

    def lead_owner(self, lead_id: UUID) -> tuple[str | None, str | None, bool]:
        """(owner id, team id, in the pool) of a lead, for the object rules of the caller's access.
        In the pool: open (unassigned, or placed in a team) and nobody owns it."""
        lead = self._find(lead_id)
        if lead is None:
            raise LeadNotFound(lead_id)
        return lead.owner_id, lead.team_id, lead.owner_id is None and lead.status in (UNASSIGNED, ASSIGNED)

    def get_lead(self, lead_id: UUID) -> Lead:
        lead = self._find(lead_id)
        if lead is None or lead.deleted:
            raise LeadNotFound(lead_id)
        return lead

    def get_lead_to_contact(self, lead_id: UUID) -> Lead:
        """A lead whose personal data may still be used to contact the person: not deleted and
        not erased (an erased lead's contact reads as empty; nobody may write to it again)."""
        lead = self.get_lead(lead_id)
        if lead.erased_at is not None:
            raise LeadNotFound(lead_id, f"lead {lead_id}: the lead's personal data was erased")
        return lead

    def on_deadline(self, uow: UnitOfWork, aggregate: Any, deadline_id: str, purpose: str, at: datetime) -> None:
        """A deadline fired (the deadline runner): apply what it means."""
        if isinstance(aggregate, Lead) and purpose == CONTACT_SLA:
            aggregate.contact_deadline_passed(at)

    def get_lead_as_of(self, lead_id: UUID, as_of: datetime) -> Lead:
        """The lead as its stream had recorded it at `as_of` (time travel; never a read model)."""
        lead = state_as_of(self, lead_id, as_of, what="lead")
        if not isinstance(lead, Lead):
            raise LeadNotFound(lead_id)
        if lead.deleted:
            raise LeadNotFound(lead_id, f"lead {lead_id} was deleted before {as_of.isoformat()}")
        return lead

    def lead_history(self, lead_id: UUID) -> list[Any]:
        if lead_id not in self.repository:
            raise LeadNotFound(lead_id)
        return list(self.events.get(lead_id))

    # -- helpers -------------------------------------------------------------------------

    def _lead(self, uow: UnitOfWork, lead_id: UUID) -> Lead:
        lead: Lead | None = uow.get(lead_id)
        if lead is None or lead.deleted:
            raise LeadNotFound(lead_id)
        return lead

    def _change(self, uow: UnitOfWork, lead_id: UUID, change: Callable[[Lead, datetime], None]) -> None:
        lead = self._lead(uow, lead_id)
        change(lead, self.clock.now())
        uow.add(lead)

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self.latest(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _settings(self, uow: UnitOfWork) -> LeadSettings:
        settings: LeadSettings | None = uow.get(SETTINGS_ID)
        if settings is None:
            settings = LeadSettings.with_defaults()
            uow.add(settings)
        return settings

    def _index_entries(
        self, uow: UnitOfWork, contact: dict[str, Any], first_lead: UUID | None = None, *, create: bool = True
    ) -> list[ContactIndexEntry]:
        entries = []
        for kind in ("email", "phone"):
            value = contact.get(kind)
            if not value:
                continue
            value = value.lower() if kind == "email" else value
            entry: ContactIndexEntry | None = uow.get(index_id(kind, value))
            if entry is None and not create:
                continue
            if entry is None:
                entry = ContactIndexEntry.open(kind, value, lead_id=first_lead)
                uow.add(entry)
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
