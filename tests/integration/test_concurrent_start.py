"""Replicas of a service starting at the same moment on one fresh PostgreSQL store all come up:
the event store's tables and functions are created one process at a time (without the lock,
PostgreSQL fails concurrent `CREATE OR REPLACE FUNCTION`s: "tuple concurrently updated")."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from harness import postgres_settings

pytestmark = pytest.mark.integration
REPLICAS = 6


def _start(database: dict[str, Any], barrier: Any, results: Any) -> None:
    from assignment.bootstrap import bootstrap
    from assignment.settings import AssignmentSettings

    settings = AssignmentSettings(**postgres_settings(database))
    barrier.wait()
    try:
        service = bootstrap(settings)  # the event store, its read stores and deadline index
        results.put(("ok", service.app.recorder.max_notification_id() or 0))
    except Exception as exc:
        results.put(("failed", f"{type(exc).__name__}: {exc}"))


def test_replicas_starting_together_on_a_fresh_store_all_start(postgres_database: dict[str, Any]) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(REPLICAS), context.Queue()
    processes = [context.Process(target=_start, args=(postgres_database, barrier, results)) for _ in range(REPLICAS)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert outcomes == [("ok", 0)] * REPLICAS
