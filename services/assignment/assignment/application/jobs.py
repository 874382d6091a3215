"""assignment's periodic job: try the unassigned queue again every so often."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from leadflow_shared.health import Health
from leadflow_shared.store import StoreWorker

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
