"""assignment's background jobs: try the unassigned queue again every so often; carry revenue
stage-change runs to their end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from leadflow_shared.health import Health
from leadflow_shared.store import StoreWorker

from .revenue import RevenueModels
from .use_cases import AssignmentApplication

log = logging.getLogger(__name__)


class PeriodicRerun:
    """Runs `rerun_waiting` every `interval` seconds on the store thread (a BackgroundJob)."""

    name = "assignment:rerun"

    def __init__(self, app: AssignmentApplication, worker: StoreWorker, health: Health, interval: float) -> None:
        self._app = app
        self._worker = worker
        self._health = health
        self._interval = interval
        self.failures = 0
        self._stopping = asyncio.Event()
        self.runs = 0

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
            if self._stopping.is_set():
                return
            try:
                report = await self._worker.call(self._app.rerun_waiting)
            except Exception as exc:
                self.failures += 1
                log.exception("re-run of waiting leads failed; next try in %ss", self._interval)
                if self.failures >= 3:
                    self._health.report(self.name, f"re-run of waiting leads failed {self.failures} times: {exc}")
                continue
            self.failures = 0
            self._health.clear(self.name)
            self.runs += 1
            if report["assigned"]:
                log.info("re-run assigned %s of %s waiting leads", report["assigned"], report["tried"])

    def stop(self) -> None:
        self._stopping.set()


class OpenRuns(Protocol):
    def open_runs(self) -> list[UUID]: ...


class StageChangeRuns:
    """Carries Change Revenue Stage runs (and merges' runs) to their end, a page (one unit of
    work) at a time, so HTTP commands interleave with a long run. A run left unfinished by a
    restart goes on from its last page. Failing runs are named in /readyz (a BackgroundJob).

    Woken when this process starts a run; otherwise it looks every `poll_seconds` (runs another
    process started, or left by a restart), so an idle service does not keep its read store busy."""

    name = "revenue:runs"

    def __init__(
        self, revenue: RevenueModels, runs: OpenRuns, worker: StoreWorker, health: Health, poll_seconds: float = 10.0
    ) -> None:
        self._revenue = revenue
        self._runs = runs
        self._worker = worker
        self._health = health
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.failures: dict[UUID, int] = {}
        self.pages = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            # Cleared before looking, never after: a wake while the runs are listed or carried
            # (a run started meanwhile) is kept, and the next wait returns at once.
            self._wake.clear()
            try:
                open_runs = await asyncio.to_thread(self._runs.open_runs)
            except Exception as exc:
                log.warning("listing open stage-change runs failed: %s", exc)
                open_runs = []
            for run_id in open_runs:
                await self._carry(run_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def _carry(self, run_id: UUID) -> None:
        more = True
        while more and not self._stopping.is_set():
            try:
                more = await self._worker.call(self._revenue.app.execute, self._revenue.run_page, run_id)
            except RecordConflictError:
                return  # another process carries this run (shared store): it will be listed again
            except Exception as exc:
                attempts = self.failures[run_id] = self.failures.get(run_id, 0) + 1
                log.warning("stage-change run %s failed (attempt %s): %s", run_id, attempts, exc)
                if attempts >= 3:
                    self._health.report(
                        f"{self.name}:{run_id}", f"run {run_id} failing: {type(exc).__name__}: {exc}"[:300]
                    )
                return
            self.pages += 1
            if self.failures.pop(run_id, None) is not None:
                self._health.clear(f"{self.name}:{run_id}")

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
