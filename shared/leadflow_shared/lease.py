"""Which replica publishes: a relay per store, not per process.

Several replicas of a service share one PostgreSQL store; without coordination each would
relay the same events. A PostgreSQL session-level advisory lock elects one publisher per
(database, topic); the others wait and take over when its session ends. SQLite stores are
file-local to one process and need no lease.

How fast a lease moves:
- the holder exits or is killed: its host closes the connection, PostgreSQL ends the session
  at once and frees the lock; another replica takes it at its next try (`retry_seconds`, or
  sooner: a replica's relay tries again whenever it stores something to publish).
- the holder's host or network dies (nobody closes the connection): the session asks the server
  for TCP keepalives (idle 5 s, then 3 probes 2 s apart), so PostgreSQL ends it within ~11 s
  instead of the kernel's two hours; the holder's side gives up on an unanswered connection
  after 10 s (`tcp_user_timeout`) and stops publishing.

`PostgresAdvisoryMutex` is the same kind of lock taken around a critical section instead of held
for good: replicas that change the same aggregates (assignment's sellers) take turns at it.

Each lease session names its holder (`application_name` = `leadflow-lease <host>:<pid>`), so
`lease_holder` — or `pg_locks` joined with `pg_stat_activity` — says which replica publishes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import time
from typing import Any, Protocol

import psycopg

log = logging.getLogger(__name__)


class PublishLease(Protocol):
    retry_seconds: float

    async def hold(self) -> bool:
        """True while this process may publish (acquiring the lease if it is free)."""
        ...

    async def release(self) -> None: ...


KEEPALIVE_IDLE_SECONDS = 5
KEEPALIVE_INTERVAL_SECONDS = 2
KEEPALIVE_PROBES = 3
USER_TIMEOUT_MS = 10_000


def lease_key(name: str) -> int:
    """The advisory lock key (a signed 64-bit integer) of a lease name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def holder_name() -> str:
    """How this process names itself as a lease holder (`application_name`, ≤ 63 bytes)."""
    return f"leadflow-lease {socket.gethostname()}:{os.getpid()}"[:63]


def _session_settings() -> dict[str, Any]:
    """Connection parameters of a lease session: named, and dropped by both ends soon after the
    other end is gone (see the module docstring)."""
    server_side = (
        f"-c tcp_keepalives_idle={KEEPALIVE_IDLE_SECONDS} -c tcp_keepalives_interval={KEEPALIVE_INTERVAL_SECONDS} "
        f"-c tcp_keepalives_count={KEEPALIVE_PROBES}"
    )
    return {
        "application_name": holder_name(),
        "options": server_side,
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
        "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
        "keepalives_count": KEEPALIVE_PROBES,
        "tcp_user_timeout": USER_TIMEOUT_MS,
        "connect_timeout": 5,
    }


def lease_holder(conninfo: str, name: str) -> str | None:
    """The `application_name` of the session holding lease `name` now (None: nobody holds it)."""
    key = lease_key(name)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        row = connection.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        ).fetchone()
    return None if row is None else str(row[0])


class PostgresAdvisoryMutex:
    """A critical section shared by the replicas of one store: `with mutex:` waits for the
    session-level advisory lock `name`, and releases it on leaving. Synchronous (the store
    thread). A session that breaks is closed, which frees the lock on the server; the error
    goes to the caller, who retries (a session lost while held only logs a warning on leaving:
    the work inside was still checked by optimistic concurrency). Waiting longer than `wait_seconds` is an error too
    (PostgreSQL's `lock_timeout`), so a stuck holder is reported, not waited for forever."""

    def __init__(self, conninfo: str, name: str, wait_seconds: float = 30.0) -> None:
        self._conninfo = conninfo
        self._key = lease_key(name)
        self._wait_ms = int(wait_seconds * 1000)
        self._connection: psycopg.Connection[Any] | None = None
        self.name = name
        self.waited = 0.0
        """Seconds spent waiting for the lock so far (all entries together)."""

    def __enter__(self) -> PostgresAdvisoryMutex:
        began = time.monotonic()
        try:
            if self._connection is None or self._connection.closed:
                settings = _session_settings()
                settings["options"] += f" -c lock_timeout={self._wait_ms}"
                self._connection = psycopg.connect(self._conninfo, autocommit=True, **settings)
            self._connection.execute("SELECT pg_advisory_lock(%s)", (self._key,))
        except BaseException:
            self.close()
            raise
        finally:
            self.waited += time.monotonic() - began
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._connection is not None:
                self._connection.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        except psycopg.Error as error:
            # The session is gone, and the lock with it. What ran inside stands: its commit was
            # checked by optimistic concurrency all the same.
            log.warning("advisory mutex %s: unlocking failed (%s); its session is closed", self.name, error)
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()


class PostgresAdvisoryLease:
    """Holds `pg_try_advisory_lock(key)` on a dedicated connection for as long as it lives."""

    def __init__(self, conninfo: str, name: str, retry_seconds: float = 2.0) -> None:
        self._conninfo = conninfo
        self._key = lease_key(name)
        self._connection: psycopg.AsyncConnection[object] | None = None
        self._held = False
        self.retry_seconds = retry_seconds
        self.name = name

    async def hold(self) -> bool:
        try:
            if self._connection is None or self._connection.closed:
                self._held = False
                self._connection = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, **_session_settings()
                )
            if self._held:
                await self._connection.execute("SELECT 1")  # still our session, so still our lock
                return True
            cursor = await self._connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
            row: Any = await cursor.fetchone()
            self._held = bool(row and row[0])
            if self._held:
                log.info("publishing lease %s acquired", self.name)
            return self._held
        except psycopg.Error as exc:
            log.warning("publishing lease %s unavailable: %s", self.name, exc)
            await self.release()
            return False

    async def release(self) -> None:
        self._held = False
        if self._connection is not None:
            try:
                await self._connection.close()
            finally:
                self._connection = None
