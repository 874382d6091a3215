"""Named queues: where a rule may park leads for pick-up (Dynamics 365's queues). A rule set
names only queues defined here, so a misspelt queue is refused when the rules are saved, not
found later as leads nobody looks at."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .rulesets import RuleError

QUEUES_ID = uuid5(NAMESPACE_URL, "leadflow:assignment:queues")


class QueueNotFound(RuleError, LookupError):
    pass


class QueueInUse(RuleError):
    """A queue the active rule set routes to is not removed (HTTP 409)."""


class QueueCatalog(Aggregate):
    @staticmethod
    def create_id(**_: Any) -> UUID:
        return QUEUES_ID

    @event("Opened")
    def __init__(self) -> None:
        self.queues: dict[str, dict[str, Any]] = {}

    def define(self, queue_id: str, name: str, description: str | None = None) -> bool:
        """Define or rename a queue; False when nothing changed (no event)."""
        if self.queues.get(queue_id) == {"name": name, "description": description}:
            return False
        self._defined(queue_id, name, description)
        return True

    @event("QueueDefined")
    def _defined(self, queue_id: str, name: str, description: str | None) -> None:
        self.queues[queue_id] = {"name": name, "description": description}

    def check_exists(self, queue_id: str) -> None:
        if queue_id not in self.queues:
            raise QueueNotFound(f"no queue {queue_id!r}")

    def remove(self, queue_id: str) -> None:
        self.check_exists(queue_id)
        self._removed(queue_id)

    @event("QueueRemoved")
    def _removed(self, queue_id: str) -> None:
        del self.queues[queue_id]
