"""The revenue read model as the use cases and the API read it: caught up first."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from .analysis import analyze
from .revenue import RevenueQueries


class RevenueReadModel:
    """The revenue read model, caught up before each read (reads see every committed change)."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.queries = RevenueQueries(runner.store)

    def leads_in_model(self, model_id: UUID, generation: int) -> int:
        self.runner.catch_up()
        return self.queries.leads_in_model(model_id, generation)

    def open_runs(self) -> list[UUID]:
        self.runner.catch_up()
        return self.queries.open_runs()

    def activity(self, **filters: Any) -> dict[str, Any]:
        self.runner.catch_up()
        return self.queries.activity(**filters)

    def run(
        self, run_id: UUID, *, outcome: str | None = None, after: int = 0, limit: int = 100
    ) -> dict[str, Any] | None:
        self.runner.catch_up()
        return self.queries.run(run_id, outcome=outcome, after=after, limit=limit)

    def analyze(
        self, model_id: UUID, generation: int, stages: Any, kind: str, start: date, end: date, now: datetime
    ) -> dict[str, Any]:
        self.runner.catch_up()
        with self.runner.store.transaction(write=False) as tx:
            return analyze(tx, str(model_id), generation, stages, kind, start, end, now)
