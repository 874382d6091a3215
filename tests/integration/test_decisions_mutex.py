"""Replicas on one PostgreSQL store take turns where they change the same aggregates
(assignment's sellers): the advisory mutex, and a subscription applying under it. The lease
sessions name their holder and ask the server for keepalives."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from leadflow_shared.lease import PostgresAdvisoryLease, PostgresAdvisoryMutex, holder_name, lease_holder


@pytest.fixture
def conninfo(postgres_database: dict[str, Any]) -> str:
    return make_conninfo(
        **{k: v for k, v in postgres_database.items() if k != "dbname"}, dbname=postgres_database["dbname"]
    )


@pytest.mark.integration
def test_one_holder_at_a_time_and_a_broken_session_frees_the_mutex(conninfo: str) -> None:
    first, second = PostgresAdvisoryMutex(conninfo, "t:decisions"), PostgresAdvisoryMutex(conninfo, "t:decisions")
    order: list[str] = []

    def waiter() -> None:
        with second:
            order.append("second in")

    with first:
        order.append("first in")
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.5)
        assert order == ["first in"]  # the second waits while the first holds it
        order.append("first out")
    thread.join(timeout=5)
    assert order == ["first in", "first out", "second in"]
    # A waiter gives up after its wait (PostgreSQL's lock_timeout) instead of hanging;
    impatient = PostgresAdvisoryMutex(conninfo, "t:decisions", wait_seconds=0.2)
    with first, pytest.raises(psycopg.errors.LockNotAvailable):
        impatient.__enter__()
    # and a holder whose session ends (a killed process) frees it at once.
    first.__enter__()
    assert first._connection is not None
    with psycopg.connect(conninfo, autocommit=True) as admin:
        pid = first._connection.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    began = time.monotonic()
    with second:
        assert time.monotonic() - began < 5
    first.close()
    second.close()
    impatient.close()


@pytest.mark.integration
async def test_the_lease_session_names_its_holder_and_asks_for_keepalives(conninfo: str) -> None:
    lease = PostgresAdvisoryLease(conninfo, "t:relay", retry_seconds=0.1)
    try:
        assert await asyncio.to_thread(lease_holder, conninfo, "t:relay") is None
        assert await lease.hold()
        assert await asyncio.to_thread(lease_holder, conninfo, "t:relay") == holder_name()
        assert lease._connection is not None
        cursor = await lease._connection.execute("SHOW tcp_keepalives_idle")
        assert (await cursor.fetchone()) == ("5",)
    finally:
        await lease.release()


@pytest.mark.unit
def test_a_subscription_applies_each_unit_of_work_inside_its_exclusive_section() -> None:
    from leadflow_shared.store import ServiceApplication
    from leadflow_shared.subscriptions import BatchApplier, Incoming, Route, Subscription, decode

    log: list[str] = []

    class Section(contextlib.AbstractContextManager[None]):
        def __enter__(self) -> None:
            log.append("enter")

        def __exit__(self, *exc: object) -> None:
            log.append("exit")

    from pydantic import BaseModel

    class Ping(BaseModel):
        n: int

    def use_case(uow: Any, message: Ping) -> None:
        log.append(f"apply {message.n}")

    app = ServiceApplication()
    subscription = Subscription(
        topic="pings", routes={"ping": Route(Ping, use_case)}, bare_type="ping", ordered=False, exclusive=Section()
    )
    items = [decode(subscription, Incoming("pings", 0, n, None, b'{"n": %d}' % n, [])) for n in range(2)]
    BatchApplier(app, subscription, "pings").apply(items)
    assert log == ["enter", "apply 0", "apply 1", "exit"]
    assert app.tracked_position("pings:0") == 2
