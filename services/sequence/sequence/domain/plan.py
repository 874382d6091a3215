"""One activated version of a sequence, read for walking: where each step is, what follows it.

A condition ends its list, so a path ends where a list ends: the step after the last one of a
branch is the end of the sequence. A `Plan` is built once per (sequence, version) and shared by
every enrolment on it (an activated version never changes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

Step = Mapping[str, Any]


@dataclass(frozen=True)
class Plan:
    sequence_id: UUID
    version: int
    steps: Sequence[Step]
    settings: Mapping[str, bool]
    _where: dict[str, tuple[Sequence[Step], int]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        where: dict[str, tuple[Sequence[Step], int]] = {}
        _index(self.steps, where)
        object.__setattr__(self, "_where", where)

    @classmethod
    def of(cls, sequence_id: UUID, version: Mapping[str, Any]) -> Plan:
        return cls(sequence_id, int(version["number"]), version["steps"], version["settings"])

    def first(self) -> Step | None:
        return self.steps[0] if self.steps else None

    def step(self, step_id: str) -> Step:
        steps, index = self._where[step_id]
        return steps[index]

    def has(self, step_id: str) -> bool:
        return step_id in self._where

    def after(self, step_id: str) -> Step | None:
        """The step that follows `step_id` on its path (None: the end of the sequence)."""
        steps, index = self._where[step_id]
        return steps[index + 1] if index + 1 < len(steps) else None

    def branch_start(self, condition_id: str, branch: str) -> Step | None:
        branch_steps = self.step(condition_id).get(branch) or []
        return branch_steps[0] if branch_steps else None

    def count(self) -> int:
        return len(self._where)


def _index(steps: Sequence[Step], where: dict[str, tuple[Sequence[Step], int]]) -> None:
    for index, step in enumerate(steps):
        where[str(step["id"])] = (steps, index)
        if step.get("type") == "condition":
            for branch in ("yes", "no"):
                _index(step.get(branch) or [], where)
