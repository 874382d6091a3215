"""Replicas of one service on one PostgreSQL store share each caller's bucket."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg.conninfo import make_conninfo

from leadflow_shared.auth.ratelimit import PostgresRateLimiter, TooManyRequests

pytestmark = pytest.mark.integration


async def test_two_replicas_count_against_one_bucket(postgres_database: dict[str, Any]) -> None:
    conninfo = make_conninfo(**{k: postgres_database[k] for k in ("host", "port", "user", "password", "dbname")})
    first, second = PostgresRateLimiter(conninfo, rate=0.5, burst=6), PostgresRateLimiter(conninfo, rate=0.5, burst=6)
    for replica in (first, second, first, second, first, second):
        await replica.take("user:ana")
    for replica in (first, second):
        with pytest.raises(TooManyRequests) as refused:
            await replica.take("user:ana")
        assert refused.value.retry_after == 2  # one request back every 2 s
    await second.take("user:ben")  # another caller has a bucket of its own
