"""A lead's place in one revenue model (one aggregate per model and lead): every stage change
with its reason and actor, the lead's time in each stage, and the SLA deadline of an SLA stage.

Nothing here decides where a lead goes (`routing` does); this records it. A change to the stage
the lead is in already records nothing. Each approval of a model's stages starts a new
generation: a lead's place in an earlier generation is history, it starts outside the model.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from leadflow_shared.deadlines import HasDeadlines

SLA = "sla"


def lead_stage_id(model_id: UUID, lead_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"leadflow:revenue:{model_id}:{lead_id}")


class LeadStage(HasDeadlines):
    @staticmethod
    def create_id(model_id: UUID, lead_id: UUID, **_: Any) -> UUID:
        return lead_stage_id(model_id, lead_id)

    @event("Opened")
    def __init__(self, model_id: UUID, lead_id: UUID) -> None:
        self.model_id = model_id
        self.lead_id = lead_id
        self.generation = 0
        self.stage: str | None = None
        self.entered_at: datetime | None = None
        self.visits: dict[str, dict[str, Any]] = {}
        """This generation's stages: first and last entered, last exited, latest and cumulative
        seconds (closed visits), how many times."""

    def current(self, generation: int) -> str | None:
        return self.stage if generation == self.generation else None

    def move(
        self,
        to: str | None,
        *,
        generation: int,
        at: datetime,
        reason: str,
        detail: str | None,
        actor: str | None,
        campaign: str | None,
        manual: bool,
        logged: bool,
        sla_hours: float | None,
    ) -> bool:
        """Record a stage change (None: the lead leaves the model); False, nothing recorded, if
        the lead is in that stage already. Leaving an SLA stage cancels its deadline; entering one
        sets it."""
        before = self.current(generation)
        if to == before:
            return False
        sla_due_at = at + timedelta(hours=sla_hours) if to is not None and sla_hours else None
        for deadline_id in self.open_deadlines():
            self.cancel_deadline(deadline_id)
        self._stage_changed(
            self.model_id,
            self.lead_id,
            generation,
            before,
            to,
            at,
            reason,
            detail,
            actor,
            campaign,
            manual,
            logged,
            sla_due_at,
        )
        if sla_due_at is not None:
            self.set_deadline(f"sla-{self.version}", sla_due_at, f"{SLA}:{generation}:{to}")
        return True

    @event("StageChanged")
    def _stage_changed(
        self,
        model_id: UUID,
        lead_id: UUID,
        generation: int,
        from_stage: str | None,
        to_stage: str | None,
        at: datetime,
        reason: str,
        detail: str | None,
        actor: str | None,
        campaign: str | None,
        manual: bool,
        logged: bool,
        sla_due_at: datetime | None,
    ) -> None:
        if generation != self.generation:
            self.generation, self.visits = generation, {}
        if from_stage is not None and from_stage in self.visits:
            visit = self.visits[from_stage]
            seconds = (at - visit["last_entered"]).total_seconds()
            visit.update(
                last_exited=at, latest_seconds=seconds, cumulative_seconds=visit["cumulative_seconds"] + seconds
            )
        if to_stage is not None:
            visit = self.visits.setdefault(
                to_stage, {"first_entered": at, "visits": 0, "cumulative_seconds": 0.0, "latest_seconds": None}
            )
            visit.update(last_entered=at, last_exited=None, visits=visit["visits"] + 1)
        self.stage, self.entered_at = to_stage, at if to_stage is not None else None

    def miss_sla(self, purpose: str, at: datetime) -> bool:
        """An SLA deadline fired: record the miss if the lead is still in that stage (the lead
        stays where it is)."""
        _, generation, stage = purpose.split(":", 2)
        if int(generation) != self.generation or stage != self.stage or self.entered_at is None:
            return False
        self._sla_missed(int(generation), stage, self.entered_at, at)
        return True

    @event("SlaMissed")
    def _sla_missed(self, generation: int, stage: str, entered_at: datetime, at: datetime) -> None:
        self.visits[stage]["sla_missed_at"] = at

    def time_in_stages(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Per stage of this generation: entered, exited, latest and cumulative time (seconds),
        the current visit counted up to `now`."""
        found = {}
        for stage, visit in self.visits.items():
            latest, cumulative = visit["latest_seconds"], visit["cumulative_seconds"]
            if stage == self.stage and visit["last_exited"] is None:
                latest = (now - visit["last_entered"]).total_seconds()
                cumulative += latest
            found[stage] = {
                "first_entered_at": visit["first_entered"],
                "last_entered_at": visit["last_entered"],
                "last_exited_at": visit["last_exited"],
                "visits": visit["visits"],
                "latest_seconds": latest,
                "cumulative_seconds": cumulative,
                "sla_missed_at": visit.get("sla_missed_at"),
            }
        return found
