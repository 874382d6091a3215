"""A revenue model, after Marketo's Revenue Cycle Modeler: stages on a success path or a detour,
transitions between them, assignment rules for new leads, and the model's lifecycle.

A definition is JSON-shaped data:

- `stages`: `{id, name, description, type, path, active, phase, sla_hours, default_to}` —
  `type` is `inventory` (no time limit), `sla` (`sla_hours`: a time limit; a miss is recorded,
  the lead is not moved) or `gate` (holds no leads: routes a lead on by its transitions'
  filters, else to `default_to`); `path` is `success` or `detour`. The success path is the
  success stages in list order.
- `transitions`: `{id, from, to, triggers, filter}` — `from` a stage id or `*` (any stage);
  `triggers` lead events (TRIGGERS); `filter` a criteria tree over the lead's facts (the
  segments' language). A transition needs a trigger or a filter (or both).
- `assignment_rules`: `{choices: [{condition, stage}], default}` — for a lead not in the model
  yet, first matching choice wins, else `default` (None: it stays out).
- `phases`: `[{id, name}]`, grouping stages (`stage.phase`).

Lifecycle: draft → stages approved → approved. `problems()` lists what stops approval. An
approved model is edited through a draft (`save_draft`, `approve_draft`); its stages are never
deleted, only merged into another stage or into none (`merge_stage`), and may be renamed.
Unapproving returns the model to draft and keeps every lead's history; the next approval of its
stages starts a new generation (the live read models start again from there).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ..criteria import InvalidCriteria, check_criteria

DRAFT, STAGES_APPROVED, APPROVED = "draft", "stages_approved", "approved"
LIVE: Final = (STAGES_APPROVED, APPROVED)
STAGE_TYPES: Final = ("inventory", "sla", "gate")
PATHS: Final = ("success", "detour")
TRIGGERS: Final = (
    "received",
    "updated",
    "score_changed",
    "qualified",
    "disqualified",
    "stage_moved",
    "assigned",
    "converted",
    "recycled",
    "closed_invalid",
    "voided",
)
"""Lead events a transition can fire on (`updated`: any data change; `stage_moved`: the lead's
stage in intake)."""
ANY: Final = "*"
MAX_STAGES = 50
MAX_TRANSITIONS = 200
MAX_CHOICES = 100
CATALOG_ID = uuid5(NAMESPACE_URL, "leadflow:assignment:revenue-models")


class RevenueError(Exception):
    """A revenue-model command broke a rule."""


class InvalidDefinition(RevenueError, ValueError):
    """The definition is malformed (a field's shape, not a modelling problem)."""


class ModelNotFound(RevenueError, LookupError):
    def __init__(self, model_id: UUID) -> None:
        super().__init__(f"no revenue model {model_id}")


class StageNotFound(RevenueError, LookupError):
    pass


class LifecycleConflict(RevenueError):
    """The command does not fit the model's state (→ 409)."""


class AnotherModelApproved(LifecycleConflict):
    def __init__(self, model_id: UUID, name: str) -> None:
        super().__init__(f"revenue model {name!r} ({model_id}) is approved; unapprove it first")
        self.model_id = model_id


@dataclass(frozen=True)
class Problem:
    """One reason a model cannot be approved (`where`: the stage or transition, or None)."""

    where: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "reason": self.reason}


class CannotApprove(RevenueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.where or 'model'}: {p.reason}" for p in problems))
        self.problems = problems


def default_definition() -> dict[str, Any]:
    """A new model's success path (New → Prospect → Lead → Opportunity → Customer) with two
    detours, the transitions that move leads along it, and Marketo's documented assignment rule
    (lead score at least 40 → Lead). The admin edits it."""

    def stage(sid: str, name: str, kind: str = "inventory", path: str = "success", **more: Any) -> dict[str, Any]:
        return {"id": sid, "name": name, "description": "", "type": kind, "path": path, "active": True} | more

    def score_at_least(n: int) -> dict[str, Any]:
        return {"field": "score", "op": "gte", "value": n}

    return {
        "phases": [{"id": "marketing", "name": "Marketing"}, {"id": "sales", "name": "Sales"}],
        "stages": [
            stage("new", "New", phase="marketing"),
            stage("prospect", "Prospect", phase="marketing"),
            stage("lead", "Lead", "sla", sla_hours=72, phase="sales"),
            stage("opportunity", "Opportunity", phase="sales"),
            stage("customer", "Customer", phase="sales"),
            stage("disqualified", "Disqualified", path="detour"),
            stage("recycled", "Recycled", path="detour"),
        ],
        "transitions": [
            # first match wins: the bigger step first
            {
                "id": "sales-ready",
                "from": ANY,
                "to": "lead",
                "triggers": ["score_changed"],
                "filter": score_at_least(40),
            },
            {
                "id": "engaged",
                "from": "new",
                "to": "prospect",
                "triggers": ["score_changed"],
                "filter": score_at_least(20),
            },
            {"id": "qualified", "from": ANY, "to": "opportunity", "triggers": ["qualified"], "filter": None},
            {"id": "won", "from": ANY, "to": "customer", "triggers": ["converted"], "filter": None},
            {
                "id": "disqualified",
                "from": ANY,
                "to": "disqualified",
                "triggers": ["disqualified", "closed_invalid"],
                "filter": None,
            },
            {"id": "recycled", "from": ANY, "to": "recycled", "triggers": ["recycled"], "filter": None},
            {
                "id": "back-in-play",
                "from": "recycled",
                "to": "prospect",
                "triggers": ["score_changed"],
                "filter": score_at_least(20),
            },
        ],
        "assignment_rules": {"choices": [{"condition": score_at_least(40), "stage": "lead"}], "default": "new"},
    }


def check_definition(definition: Mapping[str, Any]) -> None:
    """Raise InvalidDefinition for a malformed definition (shapes, duplicate ids, criteria);
    modelling problems (a missing stage, an unreachable one) are `problems()`, listed, not raised."""
    stages = definition.get("stages")
    if not isinstance(stages, list) or not stages:
        raise InvalidDefinition("stages: a model has at least one stage")
    if len(stages) > MAX_STAGES:
        raise InvalidDefinition(f"stages: at most {MAX_STAGES}")
    ids = [s.get("id") for s in stages]
    if len(set(ids)) != len(ids):
        raise InvalidDefinition("stages: stage ids are unique")
    if ANY in ids:
        raise InvalidDefinition(f"stages: {ANY!r} is not a stage id")
    for s in stages:
        if s.get("type") not in STAGE_TYPES:
            raise InvalidDefinition(f"stages.{s.get('id')}.type: one of {', '.join(STAGE_TYPES)}")
        if s.get("path") not in PATHS:
            raise InvalidDefinition(f"stages.{s.get('id')}.path: one of {', '.join(PATHS)}")
        hours = s.get("sla_hours")
        if s["type"] == "sla" and (not isinstance(hours, int | float) or hours <= 0):
            raise InvalidDefinition(f"stages.{s['id']}.sla_hours: an SLA stage has a time limit in hours (> 0)")
        if s["type"] != "sla" and hours is not None:
            raise InvalidDefinition(f"stages.{s['id']}.sla_hours: only an SLA stage has a time limit")
        if s["type"] != "gate" and s.get("default_to") is not None:
            raise InvalidDefinition(f"stages.{s['id']}.default_to: only a gate has a default transition")
    transitions = definition.get("transitions") or []
    if len(transitions) > MAX_TRANSITIONS:
        raise InvalidDefinition(f"transitions: at most {MAX_TRANSITIONS}")
    tids = [t.get("id") for t in transitions]
    if len(set(tids)) != len(tids):
        raise InvalidDefinition("transitions: transition ids are unique")
    for t in transitions:
        bad = [x for x in t.get("triggers") or [] if x not in TRIGGERS]
        if bad:
            raise InvalidDefinition(f"transitions.{t['id']}.triggers: unknown {bad}; known: {', '.join(TRIGGERS)}")
        if not t.get("triggers") and t.get("filter") is None:
            raise InvalidDefinition(f"transitions.{t['id']}: a transition has triggers, a filter, or both")
        _criteria(f"transitions.{t['id']}.filter", t.get("filter"))
    rules = definition.get("assignment_rules") or {}
    choices = rules.get("choices") or []
    if len(choices) > MAX_CHOICES:
        raise InvalidDefinition(f"assignment_rules.choices: at most {MAX_CHOICES}")
    for i, choice in enumerate(choices):
        if choice.get("condition") is None:
            raise InvalidDefinition(f"assignment_rules.choices.{i}.condition: a choice has a condition")
        _criteria(f"assignment_rules.choices.{i}.condition", choice["condition"])


def _criteria(where: str, criteria: Any) -> None:
    try:
        check_criteria(criteria)
    except InvalidCriteria as exc:
        raise InvalidDefinition(f"{where}: {exc}") from None


def problems(definition: Mapping[str, Any]) -> list[Problem]:
    """Everything that stops the definition from being approved, all at once."""
    stages = {s["id"]: s for s in definition["stages"]}
    found: list[Problem] = []
    transitions = definition.get("transitions") or []
    rules = definition.get("assignment_rules") or {}
    for t in transitions:
        for end in ("from", "to"):
            if t[end] not in stages and not (end == "from" and t[end] == ANY):
                found.append(Problem(f"transition {t['id']}", f"{end} stage {t[end]!r} does not exist"))
    for i, choice in enumerate(rules.get("choices") or []):
        if choice["stage"] not in stages:
            found.append(Problem(f"assignment rule {i + 1}", f"stage {choice['stage']!r} does not exist"))
    if rules.get("default") is not None and rules["default"] not in stages:
        found.append(Problem("assignment rules", f"default stage {rules['default']!r} does not exist"))
    for s in stages.values():
        if s["type"] == "gate":
            if s.get("default_to") is None:
                found.append(Problem(f"stage {s['id']}", "a gate needs a default transition (default_to)"))
            elif s["default_to"] not in stages or s["default_to"] == s["id"]:
                found.append(Problem(f"stage {s['id']}", f"default_to {s['default_to']!r} is not another stage"))
    for sid in sorted(set(stages) - reachable(definition), key=list(stages).index):
        found.append(Problem(f"stage {sid}", "unreachable: no assignment rule, transition or gate leads to it"))
    return found


def reachable(definition: Mapping[str, Any]) -> set[str]:
    """Stages a lead can get to without a manual move: assignment-rule targets, then whatever
    transitions and gate defaults lead to from there."""
    stages = {s["id"]: s for s in definition["stages"]}
    rules = definition.get("assignment_rules") or {}
    seen = {c["stage"] for c in rules.get("choices") or []} | ({rules["default"]} if rules.get("default") else set())
    seen &= set(stages)
    changed = True
    while changed:
        changed = False
        for t in definition.get("transitions") or []:
            if ((t["from"] == ANY and seen) or t["from"] in seen) and t["to"] in stages and t["to"] not in seen:
                seen.add(t["to"])
                changed = True
        for sid in list(seen):
            target = stages[sid].get("default_to")
            if target in stages and target not in seen:
                seen.add(target)
                changed = True
    return seen


def success_path(definition: Mapping[str, Any]) -> list[str]:
    return [s["id"] for s in definition["stages"] if s["path"] == "success"]


def stage_of(definition: Mapping[str, Any], stage_id: str) -> dict[str, Any] | None:
    return next((s for s in definition["stages"] if s["id"] == stage_id), None)


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
        if self.status == STAGES_APPROVED and _stage_shapes(definition) != _stage_shapes(self.definition):
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
        self.definition = _without_stage(self.definition, stage_id, into)
        if self.draft is not None:
            self.draft = _without_stage(self.draft, stage_id, into)
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


def _stage_shapes(definition: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """What approving stages fixes: the stages, their kinds, paths, limits and order (not names)."""
    return [
        (s["id"], s["type"], s["path"], s.get("sla_hours"), s.get("default_to"), s.get("active", True))
        for s in definition["stages"]
    ]


def _without_stage(definition: dict[str, Any], stage_id: str, into: str | None) -> dict[str, Any]:
    d = copy.deepcopy(definition)
    d["stages"] = [s for s in d["stages"] if s["id"] != stage_id]
    for s in d["stages"]:
        if s.get("default_to") == stage_id:
            s["default_to"] = into
    kept = []
    for t in d.get("transitions") or []:
        if t["from"] == stage_id or (t["to"] == stage_id and into is None):
            continue
        kept.append(t | {"to": into} if t["to"] == stage_id else t)
    d["transitions"] = kept
    rules = d.get("assignment_rules") or {}
    rules["choices"] = [c | {"stage": into} if c["stage"] == stage_id else c for c in rules.get("choices") or []]
    rules["choices"] = [c for c in rules["choices"] if c["stage"] is not None]
    if rules.get("default") == stage_id:
        rules["default"] = into
    d["assignment_rules"] = rules
    return d


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
