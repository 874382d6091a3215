"""Change Revenue Stage runs (Marketo's bulk action): one run moves every lead that matches a
filter (or a list of lead ids) to a target stage, page by page; each page is one unit of work with
the leads' stage changes, so a run that stops (a restart) goes on where it was, and every lead
gets exactly one result: moved, skipped (already in that stage) or refused with the reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

MOVED, SKIPPED, REFUSED = "moved", "skipped", "refused"


class StageChangeRun(Aggregate):
    @event("Started")
    def __init__(
        self,
        model_id: UUID,
        generation: int,
        to_stage: str | None,
        lead_ids: list[str] | None,
        lead_filter: Any,
        from_stage: str | None,
        purpose: str,
        up_to: int,
        total: int,
        actor: str | None,
        at: datetime,
    ) -> None:
        self.model_id = model_id
        self.generation = generation
        self.to_stage = to_stage
        self.lead_ids = lead_ids
        """The leads named by the caller, in order; None: every lead matching `lead_filter`."""
        self.lead_filter = lead_filter
        self.from_stage = from_stage
        """Only leads in this stage (a merge's run)."""
        self.purpose = purpose
        self.up_to = up_to
        """A filter run looks at leads that had arrived when it started (arrival order ≤ this)."""
        self.total = total
        self.actor = actor
        self.started_at = at
        self.cursor = 0
        self.scanned = 0
        self.counts = {MOVED: 0, SKIPPED: 0, REFUSED: 0}
        self.finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @event("PageDone")
    def page_done(self, cursor: int, scanned: int, results: list[list[str | None]]) -> None:
        """`results`: [lead id, outcome, reason] for each lead of the page the run acted on."""
        self.cursor = cursor
        self.scanned += scanned
        for _, outcome, _reason in results:
            self.counts[str(outcome)] += 1

    @event("Finished")
    def finish(self, at: datetime) -> None:
        self.finished_at = at
