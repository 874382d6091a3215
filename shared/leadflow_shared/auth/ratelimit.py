"""Rate limits per caller: a token bucket per API key or user (`rate` requests a second on
average, bursts of up to `burst`). One process keeps its buckets in memory; replicas sharing a
PostgreSQL store share them in a table of that store, updated in one statement per request
with the database's clock, so every replica counts against the same bucket."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from typing import Protocol

log = logging.getLogger(__name__)


class TooManyRequests(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many requests: try again in {math.ceil(retry_after)} s")
        self.retry_after = max(1, math.ceil(retry_after))


class RateLimiter(Protocol):
    async def take(self, key: str) -> None:
        """One request of `key`; raises TooManyRequests when its bucket is empty."""


class MemoryRateLimiter:
    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self._max_keys = rate, burst, max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str) -> None:
        now = time.monotonic()
        tokens, then = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)  # the longest idle: full again by now, most likely
        if not allowed:
            raise TooManyRequests((1 - tokens) / self.rate)


_REFILL = "least(%(burst)s, b.tokens + (EXCLUDED.updated_at - b.updated_at) * %(rate)s)"
_TAKE = f"""
INSERT INTO leadflow_rate_limits AS b (key, tokens, updated_at, allowed)
VALUES (%(key)s, %(burst)s - 1, extract(epoch FROM clock_timestamp()), true)
ON CONFLICT (key) DO UPDATE SET
  tokens = CASE WHEN {_REFILL} >= 1 THEN {_REFILL} - 1 ELSE {_REFILL} END,
  allowed = {_REFILL} >= 1,
  updated_at = EXCLUDED.updated_at
RETURNING tokens, allowed
"""
_CREATE = """
CREATE TABLE IF NOT EXISTS leadflow_rate_limits (
  key text PRIMARY KEY,
  tokens double precision NOT NULL,
  updated_at double precision NOT NULL,
  allowed boolean NOT NULL)
"""


class PostgresRateLimiter:
    """Buckets in the service's PostgreSQL store, shared by its replicas. If the database cannot
    be reached the request is let through (and logged): the store's own trouble is /readyz's."""

    def __init__(self, conninfo: str, rate: float, burst: int) -> None:
        self.rate, self.burst, self._conninfo = rate, burst, conninfo
        self._connection: object | None = None
        self._lock = asyncio.Lock()

    async def take(self, key: str) -> None:
        import psycopg

        async with self._lock:
            try:
                if self._connection is None:
                    connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                    await connection.execute(_CREATE)
                    self._connection = connection
                cursor = await self._connection.execute(  # type: ignore[attr-defined]
                    _TAKE, {"key": key, "rate": self.rate, "burst": float(self.burst)}
                )
                row = await cursor.fetchone()
            except psycopg.Error as exc:
                log.warning("rate limit not checked (%s): %s", type(exc).__name__, exc)
                self._connection = None
                return
        if row is not None and not row[1]:
            raise TooManyRequests((1 - row[0]) / self.rate)
