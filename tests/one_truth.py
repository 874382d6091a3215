"""One truth across services: intake's view of every lead against assignment's.

`disagreements` lists every way the two differ (empty = they agree); `LifecycleActions` makes a
random but reproducible sequence of lifecycle actions, each one the lead allows at that moment,
for the in-process wire (tests/unit/test_one_truth.py) and the real-Kafka test alike.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from assignment.domain import Assignment
from intake.domain import Lead

INTAKE_ACTIONS = (
    "recycle",
    "void",
    "unvoid",
    "qualify",
    "disqualify",
    "reopen",
    "merge",
    "unmerge",
    "delete",
    "close_invalid",
    "convert",
)
ASSIGNMENT_ACTIONS = ("assign_by_hand",)
FINAL = frozenset({"delete", "convert", "close_invalid"})
FINAL_ODDS = 0.1


def disagreements(
    leads: Iterable[Lead], assignments: Mapping[UUID, Assignment | None], open_counts: Mapping[str, int]
) -> list[str]:
    """Where intake's lead (owner, open or not) and assignment's view of it differ, and where a
    seller's open count is not the number of open leads intake says they own."""
    problems: list[str] = []
    owned: Counter[str] = Counter()
    for lead in leads:
        a = assignments.get(lead.id)
        name = f"lead {lead.id} ({'open' if lead.is_open else 'closed'}, {lead.status}"
        name += f"{', voided' if lead.voided else ''}{', merged' if lead.merged_into else ''}"
        name += f"{', deleted' if lead.deleted else ''}, owner {lead.owner_id})"
        if a is None:
            problems.append(f"{name}: assignment never saw it")
            continue
        if not lead.is_open:
            if a.status != "closed":
                problems.append(f"{name}: assignment has it {a.status} (seller {a.seller_id}), not closed")
            continue
        if lead.status == "assigned":
            if lead.owner_id is not None:
                owned[lead.owner_id] += 1
            if (a.status, a.seller_id, a.team_id) != ("assigned", lead.owner_id, lead.team_id):
                problems.append(f"{name}: assignment has it {a.status}, seller {a.seller_id}, team {a.team_id}")
        elif a.status not in ("waiting", "new") or a.seller_id is not None:
            problems.append(f"{name}: assignment has it {a.status}, seller {a.seller_id}")
    counts = {s: n for s, n in open_counts.items() if n}
    if counts != dict(owned):
        problems.append(f"open leads per seller: assignment {counts}, intake {dict(owned)}")
    return problems


@dataclass(frozen=True)
class Action:
    kind: str
    lead_id: UUID
    other_id: UUID | None = None
    seller_id: str | None = None

    def intake_call(self, app: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        """The use case and arguments of an intake action (`app.execute(fn, *args, **kwargs)`)."""
        kwargs: dict[str, Any] = {"actor": "tester"}
        if self.kind == "close_invalid":
            kwargs["reason"] = "junk"
        if self.kind == "merge":
            return app.merge, (self.lead_id, self.other_id), kwargs
        return getattr(app, self.kind), (self.lead_id,), kwargs


class LifecycleActions:
    """Random lifecycle actions a lead allows now, reproducible from `seed`."""

    def __init__(self, seed: int, sellers: list[str]) -> None:
        self.random = random.Random(seed)
        self.sellers = sellers

    def next(self, leads: list[Lead]) -> Action | None:
        live = [lead for lead in leads if not lead.deleted]
        self.random.shuffle(live)
        for lead in live:
            allowed = [a for a in lead.allowed_actions() if a in INTAKE_ACTIONS]
            if lead.is_open:
                allowed.append("assign_by_hand")
            if not allowed:
                continue
            kind = self.random.choice(allowed)
            if kind in FINAL and self.random.random() > FINAL_ODDS:
                continue  # rarely: a lead converted, deleted or closed as invalid stays so
            if kind == "merge":
                others = [o for o in live if o.id != lead.id and "merge" in o.allowed_actions()]
                if not others:
                    continue
                return Action(kind, lead.id, other_id=self.random.choice(others).id)
            if kind == "assign_by_hand":
                return Action(kind, lead.id, seller_id=self.random.choice(self.sellers))
            return Action(kind, lead.id)
        return None
