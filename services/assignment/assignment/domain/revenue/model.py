"""A revenue model's lifecycle and the catalog of models (pure).

Lifecycle: draft → stages approved → approved. An approved model is edited through a draft
(`save_draft`, `approve_draft`); its stages are never deleted, only merged into another stage or
into none (`merge_stage`), and may be renamed. Unapproving returns the model to draft and keeps
every lead's history; the next approval of its stages starts a new generation (the live read
models start again from there). At most one model is approved at a time (the catalog).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .definition import (
    Problem,
    RevenueError,
    StageNotFound,
    check_definition,
    problems,
    stage_of,
    stage_shapes,
    without_stage,
)

DRAFT, STAGES_APPROVED, APPROVED = "draft", "stages_approved", "approved"
LIVE: Final = (STAGES_APPROVED, APPROVED)
CATALOG_ID = uuid5(NAMESPACE_URL, "leadflow:assignment:revenue-models")


class ModelNotFound(RevenueError, LookupError):
    def __init__(self, model_id: UUID) -> None:
        super().__init__(f"no revenue model {model_id}")


class LifecycleConflict(RevenueError):
    """The command does not fit the model's state (→ 409)."""


class AnotherModelApproved(LifecycleConflict):
    def __init__(self, model_id: UUID, name: str) -> None:
        super().__init__(f"revenue model {name!r} ({model_id}) is approved; unapprove it first")
        self.model_id = model_id


class CannotApprove(RevenueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.where or 'model'}: {p.reason}" for p in problems))
        self.problems = problems


class RevenueModel(Aggregate):
    """One revenue model: its definition, lifecycle, generations, draft and merges."""

    @event("Created")
    def __init__(self, name: str, description: str, definition: dict[str, Any], actor: str | None) -> None:
        self.name = name
        self.description = description
        self.definition = definition
        self.status = DRAFT
        self.generation = 0
        self.draft: dict[str, Any] | None = None
        self.merged: dict[str, str | None] = {}
        """Merged stage id → the stage its leads went to (None: they left the model)."""
        self.approvals: list[dict[str, Any]] = []

    # -- editing -------------------------------------------------------------------------

    def redefine(self, name: str, description: str, definition: dict[str, Any], actor: str | None) -> bool:
        """Change a draft, or a stage-approved model's transitions and rules (its stages stay as
        approved). True if anything changed."""
        check_definition(definition)
        if self.status == APPROVED:
            raise LifecycleConflict(
                "the model is approved: edit it through its draft (PUT …/draft, then approve-draft)"
            )
        if self.status == STAGES_APPROVED and stage_shapes(definition) != stage_shapes(self.definition):
            raise LifecycleConflict(
                "the model's stages are approved: unapprove it to change its stages (names may change: rename)"
            )
        if (name, description, definition) == (self.name, self.description, self.definition):
            return False
        self._redefined(name, description, definition, actor)
        return True

    @event("Redefined")
    def _redefined(self, name: str, description: str, definition: dict[str, Any], actor: str | None) -> None:
        self.name, self.description, self.definition = name, description, definition

    def save_draft(self, definition: dict[str, Any], actor: str | None) -> None:
        """An approved model's next definition; no stage it has may be missing (merge it instead)."""
        check_definition(definition)
        if self.status != APPROVED:
            raise LifecycleConflict(f"the model is {self.status}: edit it directly (a draft is for an approved model)")
        kept = {s["id"] for s in definition["stages"]}
        missing = [s["id"] for s in self.definition["stages"] if s["id"] not in kept]
        if missing:
            raise LifecycleConflict(
                f"an approved model's stages are not deleted: merge {', '.join(missing)} into another stage or none"
            )
        self._draft_saved(definition, actor)

    @event("DraftSaved")
    def _draft_saved(self, definition: dict[str, Any], actor: str | None) -> None:
        self.draft = definition

    def approve_draft(self, actor: str | None, at: datetime) -> None:
        if self.draft is None:
            raise LifecycleConflict("the model has no draft to approve")
        found = problems(self.draft)
        if found:
            raise CannotApprove(found)
        self._draft_approved(self.draft, actor, at)

    @event("DraftApproved")
    def _draft_approved(self, definition: dict[str, Any], actor: str | None, at: datetime) -> None:
        self.definition, self.draft = definition, None

    def rename_stage(self, stage_id: str, name: str, actor: str | None) -> None:
        self.check_stage(stage_id)
        if self.stage(stage_id)["name"] != name:
            self._stage_renamed(stage_id, name, actor)

    @event("StageRenamed")
    def _stage_renamed(self, stage_id: str, name: str, actor: str | None) -> None:
        self.definition = copy.deepcopy(self.definition)
        for d in (self.definition, self.draft):
            if d is not None:
                for s in d["stages"]:
                    if s["id"] == stage_id:
                        s["name"] = name

    def merge_stage(self, stage_id: str, into: str | None, actor: str | None, at: datetime) -> None:
        """Remove a stage of a live model; its leads go to `into` (None: they leave the model).
        Transitions from it go; transitions, rules and gate defaults to it now lead to `into`."""
        if self.status not in LIVE:
            raise LifecycleConflict("the model is a draft: delete the stage by editing the model")
        self.check_stage(stage_id)
        if into == stage_id:
            raise LifecycleConflict("a stage is merged into another stage or into none")
        if into is not None:
            self.check_stage(into)
            if self.stage(into)["type"] == "gate":
                raise LifecycleConflict(f"stage {into!r} is a gate: it holds no leads")
        if len(self.definition["stages"]) == 1:
            raise LifecycleConflict("a model keeps at least one stage")
        self._stage_merged(stage_id, into, actor, at)

    @event("StageMerged")
    def _stage_merged(self, stage_id: str, into: str | None, actor: str | None, at: datetime) -> None:
        self.definition = without_stage(self.definition, stage_id, into)
        if self.draft is not None:
            self.draft = without_stage(self.draft, stage_id, into)
        self.merged = {k: (into if v == stage_id else v) for k, v in self.merged.items()} | {stage_id: into}

    # -- lifecycle -----------------------------------------------------------------------

    def approve_stages(self, actor: str | None, at: datetime) -> None:
        if self.status != DRAFT:
            raise LifecycleConflict(f"the model is {self.status}, not a draft")
        found = problems(self.definition)
        if found:
            raise CannotApprove(found)
        self._stages_approved(self.generation + 1, actor, at)

    @event("StagesApproved")
    def _stages_approved(self, generation: int, actor: str | None, at: datetime) -> None:
        self.status, self.generation = STAGES_APPROVED, generation

    def approve(self, leads_in_model: int, actor: str | None, at: datetime) -> None:
        if self.status != STAGES_APPROVED:
            raise LifecycleConflict(f"the model is {self.status}: approve its stages first")
        if leads_in_model == 0:
            raise LifecycleConflict("no leads in the model yet: add leads with Change Revenue Stage first")
        self._approved(actor, at)

    @event("Approved")
    def _approved(self, actor: str | None, at: datetime) -> None:
        self.status = APPROVED
        self.approvals.append({"generation": self.generation, "approved_at": at, "unapproved_at": None})

    def unapprove(self, actor: str | None, at: datetime) -> None:
        if self.status == DRAFT:
            raise LifecycleConflict("the model is a draft already")
        self._unapproved(actor, at)

    @event("Unapproved")
    def _unapproved(self, actor: str | None, at: datetime) -> None:
        if self.status == APPROVED:
            self.approvals[-1]["unapproved_at"] = at
        self.status, self.draft = DRAFT, None

    # -- reading -------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def stage(self, stage_id: str) -> dict[str, Any]:
        found = stage_of(self.definition, stage_id)
        if found is None:
            raise StageNotFound(f"revenue model {self.name!r} has no stage {stage_id!r}")
        return found

    def check_stage(self, stage_id: str) -> None:
        self.stage(stage_id)

    def resolve(self, stage_id: str | None) -> str | None:
        """Where a lead recorded in `stage_id` is now (a merged stage's leads are in its target)."""
        while stage_id is not None and stage_id in self.merged:
            stage_id = self.merged[stage_id]
        return stage_id


class RevenueCatalog(Aggregate):
    """Every revenue model's name and status, so that at most one is approved at a time and a
    lead event finds the live models without reading them all."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return CATALOG_ID

    @event("Opened")
    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {}

    def record(self, model: RevenueModel) -> None:
        entry = {"name": model.name, "status": model.status, "generation": model.generation}
        if self.models.get(str(model.id)) != entry:
            self._listed(str(model.id), entry)

    @event("Listed")
    def _listed(self, model_id: str, entry: dict[str, Any]) -> None:
        self.models[model_id] = entry

    def check_may_approve(self, model_id: UUID) -> None:
        for other, entry in self.models.items():
            if other != str(model_id) and entry["status"] == APPROVED:
                raise AnotherModelApproved(UUID(other), entry["name"])

    def live_models(self) -> list[UUID]:
        return [UUID(m) for m, e in self.models.items() if e["status"] in LIVE]
