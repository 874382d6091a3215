"""Where a service's read models live, and the few SQL differences between the two homes.

SQLite: a file beside the event store (`<event store stem>-read.sqlite`), WAL mode so API
reads never wait for the projector. PostgreSQL: the service's own database, in tables of
its own (`<service>_rm_*`). Both speak the same SQL through `Tx`; only placeholders,
row locks and lock timeouts differ, and those stay in this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from .settings import ServiceSettings

Params = Sequence[Any]


READ_SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"leadflow:read-schema").digest()[:8], "big", signed=True)
"""The advisory lock key taken while read-model tables are created (see `Tx.lock_schema`)."""


class Tx:
    """One open transaction. SQL is written with `?` placeholders for both dialects."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._cursor = cursor
        self.dialect = dialect
        self.scrubbed = False
        """Set by a projection that erased personal data in this transaction (the store then
        makes sure the old values do not linger in its files)."""

    def lock_schema(self) -> None:
        """Before creating tables: on PostgreSQL, wait until no other process of this database is
        creating its own (until this transaction ends). Replicas starting together would otherwise
        fail on concurrent `CREATE TABLE IF NOT EXISTS` of one table (PostgreSQL checks the name
        only at commit). SQLite: one writer anyway."""
        if self.dialect == "postgres":
            self.execute("SELECT pg_advisory_xact_lock(?)", (READ_SCHEMA_LOCK,))

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Params = ()) -> None:
        self._cursor.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            self._cursor.executemany(self._sql(sql), [tuple(r) for r in rows])

    def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        self.execute(sql, params)
        return [tuple(r) for r in self._cursor.fetchall()]

    def fetch_in(self, sql: str, column: str, values: Sequence[Any], size: int = 500) -> list[tuple[Any, ...]]:
        """`sql` (a SELECT ending in WHERE or AND) for rows whose `column` is one of `values`,
        in as few statements as the dialect allows."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(values), size):
            chunk = list(values[start : start + size])
            if self.dialect == "postgres":
                rows += self.fetchall(f"{sql} {column} = ANY(?)", (chunk,))
            else:
                rows += self.fetchall(f"{sql} {column} IN ({', '.join('?' * len(chunk))})", chunk)
        return rows

    def fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        self.execute(sql, params)
        row = self._cursor.fetchone()
        return tuple(row) if row is not None else None

    @property
    def for_update(self) -> str:
        """Row-lock suffix: PostgreSQL locks the row; SQLite's BEGIN IMMEDIATE already locked the file."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""


class ReadStore(Protocol):
    dialect: str

    def transaction(self, *, write: bool, lock_timeout: float = 10.0) -> contextlib.AbstractContextManager[Tx]:
        """A transaction; `write` ones serialise with each other (and wait at most `lock_timeout`)."""
        ...

    def close(self) -> None: ...


class SQLiteReadStore:
    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._uri = isinstance(path, str) and path.startswith("file:")
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self._uri:
            self._connection()  # keeps the in-memory database alive while the store is open

    @classmethod
    def in_memory(cls) -> SQLiteReadStore:
        """A private in-memory database shared by this store's threads (unit tests)."""
        import uuid

        return cls(f"file:leadflow-read-{uuid.uuid4().hex}?mode=memory&cache=shared")

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # One connection per thread; check_same_thread=False only so close() can close them all.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, uri=self._uri)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # What an erasure scrubs is zeroed in the file, not left in its free space.
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def transaction(self, *, write: bool, lock_timeout: float = 10.0) -> Iterator[Tx]:
        conn = self._connection()
        conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
        # BEGIN IMMEDIATE takes the write lock up front: two projectors can never interleave.
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        cursor = conn.cursor()
        tx = Tx(cursor, self.dialect)
        try:
            yield tx
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
            if tx.scrubbed and not self._uri:
                # The scrubbed rows' old pages are still in the write-ahead log: checkpoint it and
                # cut it to nothing (best effort: a reader holding it makes this wait for the next).
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


class PostgresReadStore:
    dialect = "postgres"

    def __init__(self, conninfo: str, *, max_size: int = 4, name: str = "read-store") -> None:
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(conninfo, min_size=1, max_size=max_size, open=True, name=name)

    @contextlib.contextmanager
    def transaction(self, *, write: bool, lock_timeout: float = 10.0) -> Iterator[Tx]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            if not write:
                # Counts and the page come from one snapshot.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'")
            yield Tx(cursor, self.dialect)

    def close(self) -> None:
        self._pool.close()


def read_store_path(settings: ServiceSettings) -> Path:
    """The SQLite read store sits beside the event store: `<stem>-read.sqlite`."""
    events = settings.sqlite_path or settings.run_dir / "stores" / f"{settings.service_name}.sqlite"
    return events.with_name(f"{events.stem}-read.sqlite")


def open_read_store(settings: ServiceSettings) -> ReadStore:
    """The read store for the same backend the event store uses."""
    if settings.uses_postgres:
        return PostgresReadStore(settings.postgres_conninfo(), name=f"{settings.service_name}-read")
    return SQLiteReadStore(read_store_path(settings))
