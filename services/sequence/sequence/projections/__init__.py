"""sequence's read models: the enrolment list (work lists, a sequence's connected leads and success
rates) and the e-mail outbox, rebuildable from the events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadflow_shared.projection import ProjectionRunner
from leadflow_shared.readstore import ReadStore

from .enrolments import PRIMARY_KEYS, TABLES, EnrolmentsProjection
from .queries import BUCKETS, EnrolmentList, OutgoingEmail


@dataclass
class SequenceReadModel:
    """The enrolment list's runner (which fills it) and queries (which read it)."""

    runner: ProjectionRunner
    enrolments: EnrolmentList

    @classmethod
    def of(cls, runner: ProjectionRunner) -> SequenceReadModel:
        return cls(runner=runner, enrolments=EnrolmentList(runner.store))

    @property
    def store(self) -> ReadStore:
        return self.runner.store

    def rebuild(self, progress: Any = None) -> dict[str, int]:
        return self.runner.rebuild(progress)

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        with self.store.transaction(write=False) as tx:
            return {t: tx.fetchall(f"SELECT * FROM {t} ORDER BY {PRIMARY_KEYS[t]}") for t in TABLES}


__all__ = [
    "BUCKETS",
    "EnrolmentList",
    "EnrolmentsProjection",
    "OutgoingEmail",
    "SequenceReadModel",
]
