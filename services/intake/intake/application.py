"""intake's use cases: one method each, shaped load → call → save."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking

from leadflow_shared.clock import Clock, SystemClock
from leadflow_shared.contracts import InboundLeadV1
from leadflow_shared.store import ServiceApplication, new_processing_event

from .domain import Lead, lead_id_for


class LeadNotFound(LookupError):
    def __init__(self, lead_id: UUID) -> None:
        super().__init__(f"lead {lead_id} not found")
        self.lead_id = lead_id


@dataclass(frozen=True)
class Receipt:
    lead_id: UUID
    created: bool


class IntakeApplication(ServiceApplication):
    name = "intake"

    def __init__(self, env: Mapping[str, str] | None = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()

    def receive_lead(self, inbound: InboundLeadV1, *, via: str, tracking: Tracking | None = None) -> Receipt:
        """Record a lead once; a re-sent lead (same source + external id) changes nothing."""
        lead_id = lead_id_for(inbound.source, inbound.external_id)
        processing = new_processing_event(tracking)
        created = not self._exists(lead_id)
        if created:
            lead = Lead(
                source=inbound.source,
                external_id=inbound.external_id,
                lead_type=inbound.type.value,
                contact=inbound.contact.model_dump(mode="json", exclude_none=True),
                company=inbound.company.model_dump(mode="json", exclude_none=True),
                score=inbound.score,
                campaign_id=inbound.campaign_id,
                details=inbound.model_dump(
                    mode="json",
                    exclude_none=True,
                    include={
                        "lifecycle_stage",
                        "product_interest",
                        "notes",
                        "contact_requested",
                        "consent",
                        "attributes",
                    },
                ),
                occurred_at=inbound.occurred_at,
                received_at=self.clock.now(),
                received_via=via,
            )
            processing.collect_events(lead)
        if processing.events or tracking is not None:
            self.record(processing)
        return Receipt(lead_id=lead_id, created=created)

    def get_lead(self, lead_id: UUID) -> Lead:
        try:
            return self.repository.get(lead_id)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise LeadNotFound(lead_id) from None

    def _exists(self, lead_id: UUID) -> bool:
        return lead_id in self.repository
