"""Which replica publishes: a relay per store, not per process.

Several replicas of a service share one PostgreSQL store; without coordination each would
relay the same events. A PostgreSQL session-level advisory lock elects one publisher per
(database, topic); the others wait and take over when its session ends. SQLite stores are
file-local to one process and need no lease.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Protocol

import psycopg

log = logging.getLogger(__name__)


class PublishLease(Protocol):
    retry_seconds: float

    async def hold(self) -> bool:
        """True while this process may publish (acquiring the lease if it is free)."""
        ...

    async def release(self) -> None: ...


class PostgresAdvisoryLease:
    """Holds `pg_try_advisory_lock(key)` on a dedicated connection for as long as it lives."""

    def __init__(self, conninfo: str, name: str, retry_seconds: float = 2.0) -> None:
        self._conninfo = conninfo
        self._key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._connection: psycopg.AsyncConnection[object] | None = None
        self._held = False
        self.retry_seconds = retry_seconds
        self.name = name

    async def hold(self) -> bool:
        try:
            if self._connection is None or self._connection.closed:
                self._held = False
                self._connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
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
