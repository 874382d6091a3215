"""The background job that carries Change Revenue Stage runs: woken by a new run it takes it to
its end page by page; a run whose pages keep failing is named in /readyz, and cleared once a page
goes through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from revenue_world import RevenueWorld

from assignment.application import StageChangeRuns
from leadflow_shared.health import Health
from leadflow_shared.store import StoreWorker

pytestmark = pytest.mark.unit


async def until(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_the_job_carries_a_new_run_to_its_end_and_names_a_failing_one() -> None:
    w = RevenueWorld()
    model = w.model()
    leads = [w.receive(f"j{i}", score=5) for i in range(1200)]
    w.approve_stages(model)
    worker, health = StoreWorker("runs-job"), Health()
    job = StageChangeRuns(w.revenue, w.revenue_reads, worker, health, poll_seconds=60)
    task = asyncio.create_task(job.run())
    try:
        run = w.app.execute(w.revenue.start_run, model, "prospect", lead_ids=None, lead_filter=None, actor="maria")
        job.wake()  # as the API does: no waiting for the next look
        await until(lambda: job.pages == 3)  # pages of 500 (counted once each has committed)
        assert w.revenue.get_run(run.id).finished
        assert w.revenue.get_run(run.id).counts["moved"] == len(leads)

        broken = w.app.execute(w.revenue.start_run, model, "lead", lead_ids=None, lead_filter=None, actor="maria")
        real_page = w.revenue.run_page

        def failing(uow: Any, run_id: Any, page_size: int = 500) -> bool:
            raise RuntimeError("disk on fire")

        w.revenue.run_page = failing  # type: ignore[method-assign]
        for _ in range(3):
            job.wake()
            await asyncio.sleep(0.1)
        await until(lambda: any(str(broken.id) in str(v) for v in health.problems().values()))
        w.revenue.run_page = real_page  # type: ignore[method-assign]
        job.wake()
        await until(lambda: not health.problems())  # cleared once a page went through
        await until(lambda: w.revenue.get_run(broken.id).finished)
    finally:
        job.stop()
        await task
        worker.shutdown()
