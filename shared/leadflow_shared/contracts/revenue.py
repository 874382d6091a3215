"""The assignment service's revenue events on `revenue.events.v1` (key and subject = the lead's
id, so one lead's stage changes stay in order on one partition; `aggregate_id` + `version` = the
lead's place in one model, the consumers' idempotency key). No personal data: ids and stage ids."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from .base import IntegrationEvent


class RevenueEventV1(IntegrationEvent):
    lead_id: UUID
    model_id: UUID
    generation: int
    """Each approval of the model's stages starts a generation; earlier ones are history."""

    @property
    def subject(self) -> str:
        return str(self.lead_id)


class RevenueStageChangedV1(RevenueEventV1):
    """A lead's revenue stage changed ("Change Revenue Stage"). `to_stage` None: the lead left the
    model (its stage was merged into none). `logged` is False while the model's stages are approved
    but the model is not (Marketo logs no activity then)."""

    cloudevents_type: ClassVar[str] = "revenue.stage-changed.v1"

    from_stage: str | None = None
    to_stage: str | None = None
    reason: str
    """assignment_rule, transition, gate, manual, bulk, merge or deleted (the lead was deleted)."""
    detail: str | None = None
    """Which choice, transition or gate; a bulk or merge run's id."""
    actor: str | None = None
    campaign_id: str | None = None
    manual: bool
    logged: bool
    sla_due_at: datetime | None = None
    changed_at: datetime


class RevenueSlaMissedV1(RevenueEventV1):
    """A lead was still in an SLA stage when its time limit passed (it stays in the stage)."""

    cloudevents_type: ClassVar[str] = "revenue.sla-missed.v1"

    stage: str
    entered_at: datetime
    missed_at: datetime


REVENUE_EVENTS: tuple[type[RevenueEventV1], ...] = (RevenueStageChangedV1, RevenueSlaMissedV1)
