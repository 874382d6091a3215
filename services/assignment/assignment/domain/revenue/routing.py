"""Where a lead event takes a lead in a revenue model (pure).

A lead outside the model is placed by the assignment rules when it is received or its data
changes (first matching choice, else the default). A lead in the model moves by the first
transition (in the model's order) from its stage or from any stage whose triggers include one of
the event's and whose filter its facts match. A gate holds nobody: a lead that reaches one goes on
at once by the gate's first matching transition, else its default.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..criteria import lead_fact, matches
from .definition import ANY, stage_of

PLACING_TRIGGERS = frozenset({"received", "updated", "score_changed"})
"""The lead events on which the assignment rules place a lead that is not in the model yet."""
MAX_GATE_HOPS = 10

ASSIGNMENT_RULE, TRANSITION, GATE, MANUAL, BULK, MERGE, DELETED = (
    "assignment_rule",
    "transition",
    "gate",
    "manual",
    "bulk",
    "merge",
    "deleted",
)
REASONS = (ASSIGNMENT_RULE, TRANSITION, GATE, MANUAL, BULK, MERGE, DELETED)


@dataclass(frozen=True)
class Move:
    to: str | None
    reason: str
    detail: str | None


def moves_for(
    definition: Mapping[str, Any], current: str | None, triggers: Collection[str], facts: Mapping[str, Any]
) -> list[Move]:
    """The moves one lead event makes (empty: the lead stays)."""
    first = (
        _placement(definition, triggers, facts)
        if current is None
        else _transition(definition, current, triggers, facts)
    )
    return through_gates(definition, [first], facts) if first is not None else []


def through_gates(definition: Mapping[str, Any], moves: list[Move], facts: Mapping[str, Any]) -> list[Move]:
    """Follow a move into a gate on to where the gate sends the lead (several gates in a row too)."""
    for _ in range(MAX_GATE_HOPS):
        gate = stage_of(definition, moves[-1].to) if moves[-1].to is not None else None
        if gate is None or gate["type"] != "gate":
            return moves
        routed = next(
            (
                t
                for t in definition.get("transitions") or []
                if t["from"] == gate["id"] and t["to"] != gate["id"] and _open(definition, t["to"]) and _fits(t, facts)
            ),
            None,
        )
        if routed is not None:
            moves.append(Move(routed["to"], GATE, f"{gate['id']}: {routed['id']}"))
        else:
            moves.append(Move(gate.get("default_to"), GATE, f"{gate['id']}: default"))
    return moves


def _placement(definition: Mapping[str, Any], triggers: Collection[str], facts: Mapping[str, Any]) -> Move | None:
    if PLACING_TRIGGERS.isdisjoint(triggers):
        return None
    rules = definition.get("assignment_rules") or {}
    for i, choice in enumerate(rules.get("choices") or [], start=1):
        if _open(definition, choice["stage"]) and matches(choice["condition"], lambda f: lead_fact(facts, f)):
            return Move(choice["stage"], ASSIGNMENT_RULE, f"choice {i}")
    default = rules.get("default")
    if default is not None and _open(definition, default):
        return Move(default, ASSIGNMENT_RULE, "default")
    return None


def _transition(
    definition: Mapping[str, Any], current: str, triggers: Collection[str], facts: Mapping[str, Any]
) -> Move | None:
    for t in definition.get("transitions") or []:
        if t["from"] not in (current, ANY) or t["to"] == current or not _open(definition, t["to"]):
            continue
        if t.get("triggers") and set(t["triggers"]).isdisjoint(triggers):
            continue
        if _fits(t, facts):
            return Move(t["to"], TRANSITION, t["id"])
    return None


def _fits(transition: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    return matches(transition.get("filter"), lambda f: lead_fact(facts, f))


def _open(definition: Mapping[str, Any], stage_id: str | None) -> bool:
    """A stage that exists and is active takes leads."""
    stage = stage_of(definition, stage_id) if stage_id is not None else None
    return stage is not None and stage.get("active", True)
