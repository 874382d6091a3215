"""A revenue model's definition, after Marketo's Revenue Cycle Modeler: JSON-shaped data, checked
and examined here (pure).

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

`check_definition` refuses a malformed one; `problems` lists what stops its approval.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..criteria import InvalidCriteria, check_criteria

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


class RevenueError(Exception):
    """A revenue-model command broke a rule."""


class InvalidDefinition(RevenueError, ValueError):
    """The definition is malformed (a field's shape, not a modelling problem)."""


class StageNotFound(RevenueError, LookupError):
    pass


@dataclass(frozen=True)
class Problem:
    """One reason a model cannot be approved (`where`: the stage or transition, or None)."""

    where: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "reason": self.reason}


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


def stage_shapes(definition: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """What approving stages fixes: the stages, their kinds, paths, limits and order (not names)."""
    return [
        (s["id"], s["type"], s["path"], s.get("sla_hours"), s.get("default_to"), s.get("active", True))
        for s in definition["stages"]
    ]


def without_stage(definition: dict[str, Any], stage_id: str, into: str | None) -> dict[str, Any]:
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
