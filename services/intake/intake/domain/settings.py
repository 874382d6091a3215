"""Lead settings (HubSpot-style), themselves an event-sourced aggregate.

Stages are ordered and may be renamed or reordered; a stage that still holds leads is
deleted only together with the stage its leads move to (the application moves them).
Disqualification reasons are an editable, orderable list; settings decide whether a
deal is required to qualify and a reason to disqualify.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .errors import SettingConflict, SettingRequirement

SETTINGS_ID = uuid5(NAMESPACE_URL, "leadflow:intake:lead-settings")

DEFAULT_STAGES = [("new", "New"), ("attempting", "Attempting"), ("connected", "Connected")]
DEFAULT_REASONS = [
    ("no_budget", "No budget"),
    ("no_need", "No need"),
    ("bad_contact", "Bad contact data"),
    ("competitor", "Went with a competitor"),
]


class LeadSettings(Aggregate):
    @staticmethod
    def create_id(**_: Any) -> UUID:
        return SETTINGS_ID

    @event("Initialised")
    def __init__(self, stages: list[dict[str, str]], reasons: list[dict[str, str]]) -> None:
        self.stages = stages
        self.reasons = reasons
        self.require_deal_to_qualify = False
        self.require_reason_to_disqualify = False
        self.auto_create_at_lifecycle_stage: str | None = None
        self.lifecycle_stage_on_association: str | None = None

    @classmethod
    def with_defaults(cls) -> LeadSettings:
        return cls(
            stages=[{"id": i, "name": n} for i, n in DEFAULT_STAGES],
            reasons=[{"id": i, "label": n} for i, n in DEFAULT_REASONS],
        )

    # -- stages --------------------------------------------------------------------------

    @property
    def default_stage(self) -> str | None:
        return self.stages[0]["id"] if self.stages else None

    def stage_ids(self) -> list[str]:
        return [s["id"] for s in self.stages]

    def check_stage_exists(self, stage_id: str) -> None:
        if stage_id not in self.stage_ids():
            raise SettingRequirement("stage_id", f"unknown stage {stage_id!r}; known: {', '.join(self.stage_ids())}")

    def add_stage(self, stage_id: str, name: str, position: int | None = None) -> None:
        if stage_id in self.stage_ids():
            raise SettingConflict(f"stage {stage_id!r} already exists")
        if position is not None and not 0 <= position <= len(self.stages):
            raise SettingRequirement("position", f"between 0 and {len(self.stages)} (the number of stages)")
        self._stage_added(stage_id=stage_id, name=name, position=len(self.stages) if position is None else position)

    @event("StageAdded")
    def _stage_added(self, stage_id: str, name: str, position: int) -> None:
        self.stages.insert(position, {"id": stage_id, "name": name})

    def rename_stage(self, stage_id: str, name: str) -> None:
        self.check_stage_exists(stage_id)
        self._stage_renamed(stage_id=stage_id, name=name)

    @event("StageRenamed")
    def _stage_renamed(self, stage_id: str, name: str) -> None:
        for stage in self.stages:
            if stage["id"] == stage_id:
                stage["name"] = name

    def reorder_stages(self, order: list[str]) -> None:
        if sorted(order) != sorted(self.stage_ids()):
            raise SettingRequirement("order", f"must list exactly the stages {', '.join(self.stage_ids())}")
        self._stages_reordered(order=order)

    @event("StagesReordered")
    def _stages_reordered(self, order: list[str]) -> None:
        by_id = {s["id"]: s for s in self.stages}
        self.stages = [by_id[i] for i in order]

    def delete_stage(self, stage_id: str, leads_in_stage: int, move_to: str | None) -> None:
        self.check_stage_exists(stage_id)
        if len(self.stages) == 1:
            raise SettingConflict("the last stage cannot be deleted")
        if move_to is not None:
            self.check_stage_exists(move_to)
            if move_to == stage_id:
                raise SettingRequirement("move_to", "must be another stage")
        if leads_in_stage and move_to is None:
            raise SettingConflict(f"stage {stage_id!r} holds {leads_in_stage} leads; name the stage they move to")
        self._stage_deleted(stage_id=stage_id, moved_to=move_to, leads_moved=leads_in_stage)

    @event("StageDeleted")
    def _stage_deleted(self, stage_id: str, moved_to: str | None, leads_moved: int) -> None:
        self.stages = [s for s in self.stages if s["id"] != stage_id]

    # -- qualification -------------------------------------------------------------------

    @event("QualificationRulesSet")
    def set_qualification_rules(self, require_deal_to_qualify: bool, require_reason_to_disqualify: bool) -> None:
        self.require_deal_to_qualify = require_deal_to_qualify
        self.require_reason_to_disqualify = require_reason_to_disqualify

    def check_deal(self, deal: dict[str, Any] | None) -> None:
        if self.require_deal_to_qualify and (not deal or not deal.get("name") or deal.get("amount") is None):
            raise SettingRequirement("deal", "a deal with a name and an amount is required to qualify")

    def reason_label(self, reason_id: str | None) -> str | None:
        """The label of a disqualification reason; refuses unknown or (when required) missing ones."""
        if reason_id is None:
            if self.require_reason_to_disqualify:
                raise SettingRequirement("reason_id", "a disqualification reason is required")
            return None
        for reason in self.reasons:
            if reason["id"] == reason_id:
                return reason["label"]
        known = ", ".join(r["id"] for r in self.reasons)
        raise SettingRequirement("reason_id", f"unknown reason {reason_id!r}; known: {known}")

    def add_reason(self, reason_id: str, label: str) -> None:
        if reason_id in [r["id"] for r in self.reasons]:
            raise SettingConflict(f"reason {reason_id!r} already exists")
        self._reason_added(reason_id=reason_id, label=label)

    @event("ReasonAdded")
    def _reason_added(self, reason_id: str, label: str) -> None:
        self.reasons.append({"id": reason_id, "label": label})

    def rename_reason(self, reason_id: str, label: str) -> None:
        self.reason_label(reason_id)
        self._reason_renamed(reason_id=reason_id, label=label)

    @event("ReasonRenamed")
    def _reason_renamed(self, reason_id: str, label: str) -> None:
        for reason in self.reasons:
            if reason["id"] == reason_id:
                reason["label"] = label

    def remove_reason(self, reason_id: str) -> None:
        self.reason_label(reason_id)
        self._reason_removed(reason_id=reason_id)

    @event("ReasonRemoved")
    def _reason_removed(self, reason_id: str) -> None:
        self.reasons = [r for r in self.reasons if r["id"] != reason_id]

    def reorder_reasons(self, order: list[str]) -> None:
        if sorted(order) != sorted(r["id"] for r in self.reasons):
            raise SettingRequirement("order", "must list exactly the existing reasons")
        self._reasons_reordered(order=order)

    @event("ReasonsReordered")
    def _reasons_reordered(self, order: list[str]) -> None:
        by_id = {r["id"]: r for r in self.reasons}
        self.reasons = [by_id[i] for i in order]

    # -- lifecycle stages ----------------------------------------------------------------

    @event("LifecycleAutomationSet")
    def set_lifecycle_automation(
        self, auto_create_at_lifecycle_stage: str | None, lifecycle_stage_on_association: str | None
    ) -> None:
        self.auto_create_at_lifecycle_stage = auto_create_at_lifecycle_stage
        self.lifecycle_stage_on_association = lifecycle_stage_on_association
