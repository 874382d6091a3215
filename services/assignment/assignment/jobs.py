"""assignment's periodic job: try the unassigned queue again every so often."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from leadflow_shared.store import StoreWorker

from .application import AssignmentApplication

log = logging.getLogger(__name__)


class PeriodicRerun:
    """Runs `rerun_waiting` every `interval` seconds on the store thread (a BackgroundJob)."""

    name = "assignment:rerun"

    def __init__(self, app: AssignmentApplication, worker: Callable[[], StoreWorker], interval: float) -> None:
        self._app = app
        self._worker = worker
        self._interval = interval
        self._stopping = asyncio.Event()
        self.runs = 0

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
            if self._stopping.is_set():
                return
            try:
                report = await self._worker().call(self._app.rerun_waiting)
            except Exception:
                log.exception("re-run of waiting leads failed; next try in %ss", self._interval)
                continue
            self.runs += 1
            if report["assigned"]:
                log.info("re-run assigned %s of %s waiting leads", report["assigned"], report["tried"])

    def stop(self) -> None:
        self._stopping.set()
