"""Event-store plumbing shared by every service's application.

Beside eventsourcing's events and tracking rows, a leadflow store keeps two small tables,
written in the same transaction as the events a batch produces:

- the inbox: for each upstream stream (topic) and aggregate, the last version applied, so a
  re-sent event is recognised and a later version that arrives before an earlier one is not
  mistaken for "seen";
- parked messages: such an early arrival, kept (bytes and all) until the versions before it
  have been applied.

The recorders below add those tables to eventsourcing's SQLite, PostgreSQL and in-memory
process recorders; `ServiceApplication` picks the right one for its persistence module.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import copy
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent, Repository
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    ProcessRecorder,
    RecordConflictError,
    Recording,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.popo import POPOFactory, POPOProcessRecorder
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder
from eventsourcing.utils import Environment, get_topic, strtobool
from psycopg.sql import SQL, Identifier

from .moves import register_moved
from .personal import DataKeys, PersonalData, decrypt_markers, encrypt_paths, may_hold_markers

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class ParkedMessage:
    """A message that arrived before an earlier version of the same aggregate."""

    stream: str
    aggregate_id: UUID
    version: int
    previous_version: int
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    parked_at: float

    @property
    def origin(self) -> str:
        return f"{self.stream}:{self.partition}:{self.offset}"

    def headers_json(self) -> str:
        return json.dumps([[k, None if v is None else base64.b64encode(v).decode()] for k, v in self.headers])

    @staticmethod
    def headers_from_json(text: str) -> tuple[tuple[str, bytes | None], ...]:
        return tuple((k, None if v is None else base64.b64decode(v)) for k, v in json.loads(text))


InboxKey = tuple[str, UUID]
"""(stream, aggregate id)."""


class InboxRecorder(ProcessRecorder):
    """What leadflow's recorders add: inbox versions, parked messages, notification lookup."""

    def inbox_versions(self, stream: str, aggregate_ids: Iterable[UUID]) -> dict[UUID, int]:
        raise NotImplementedError

    def parked_messages(self, stream: str, aggregate_ids: Iterable[UUID]) -> list[ParkedMessage]:
        raise NotImplementedError

    def oldest_parked(self, limit: int = 5) -> list[ParkedMessage]:
        raise NotImplementedError

    def parked_count(self) -> int:
        raise NotImplementedError

    def notification_id_of(self, originator_id: UUID, version: int) -> int | None:
        """The notification id of one stored event (for time travel to "just before it")."""
        raise NotImplementedError

    def existing(self, aggregate_ids: Iterable[UUID], version: int = 1) -> set[UUID]:
        """Which of these aggregates have reached `version` (1: exist at all), one query for a
        whole batch."""
        raise NotImplementedError

    def events_of(self, aggregate_ids: Iterable[UUID], topics: Iterable[str] = ()) -> dict[UUID, list[StoredEvent]]:
        """The stored events of many aggregates (of the given topics, if any), in version order."""
        raise NotImplementedError

    def data_keys(self, subjects: Iterable[UUID]) -> dict[UUID, bytes | None]:
        """The data keys of these subjects that have a row (None: destroyed)."""
        raise NotImplementedError

    def insert_data_keys(self, keys: Mapping[UUID, bytes]) -> None:
        """New keys in their own transaction; a subject that already has a row keeps it."""
        raise NotImplementedError

    def after_erasure(self) -> None:
        """Make destroyed keys unrecoverable from the store's files (SQLite: its write-ahead log)."""


def _kwargs_rows(
    kwargs: Mapping[str, Any],
) -> tuple[dict[InboxKey, int], list[ParkedMessage], list[tuple[str, UUID, int]]]:
    return kwargs.get("inbox") or {}, kwargs.get("parked") or [], kwargs.get("unparked") or []


def _key_rows(kwargs: Mapping[str, Any]) -> tuple[dict[UUID, bytes], list[UUID]]:
    """New data keys, and the subjects whose keys this transaction destroys."""
    return kwargs.get("keys") or {}, kwargs.get("erase") or []


def _key_conflict(subjects: Iterable[UUID]) -> RecordConflictError:
    # Another writer gave one of these subjects a key first: record nothing, load it, retry.
    return RecordConflictError(f"data key made concurrently for {', '.join(str(s) for s in subjects)}")


class SQLiteInboxRecorder(SQLiteProcessRecorder, InboxRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS leadflow_inbox (stream TEXT, aggregate_id TEXT, version INTEGER, "
            "PRIMARY KEY (stream, aggregate_id)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS leadflow_parked (stream TEXT, aggregate_id TEXT, version INTEGER, "
            "previous_version INTEGER, partition INTEGER, offset INTEGER, key BLOB, value BLOB, headers TEXT, "
            "parked_at REAL, PRIMARY KEY (stream, aggregate_id, version)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS leadflow_data_keys (subject TEXT PRIMARY KEY, key BLOB, created_at REAL, "
            "erased_at REAL)",
        ]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        returning = super()._insert_events(c, stored_events, **kwargs)
        inbox, parked, unparked = _kwargs_rows(kwargs)
        if inbox:
            c.executemany(
                "INSERT INTO leadflow_inbox VALUES (?, ?, ?) ON CONFLICT (stream, aggregate_id) DO UPDATE "
                "SET version = excluded.version WHERE leadflow_inbox.version < excluded.version",
                [(stream, aggregate_id.hex, version) for (stream, aggregate_id), version in inbox.items()],
            )
        if unparked:
            c.executemany(
                "DELETE FROM leadflow_parked WHERE stream = ? AND aggregate_id = ? AND version = ?",
                [(stream, aggregate_id.hex, version) for stream, aggregate_id, version in unparked],
            )
        if parked:
            c.executemany(
                "INSERT INTO leadflow_parked VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (stream, aggregate_id, version) DO NOTHING",
                [(*_parked_key(p, p.aggregate_id.hex), p.key, p.value, p.headers_json(), p.parked_at) for p in parked],
            )
        keys, erase = _key_rows(kwargs)
        if keys:
            self._insert_keys(c, keys, conflict=True)
        if erase:
            # Zero what is freed, so the destroyed key is not left in the file's free pages.
            c.execute("PRAGMA secure_delete = ON")
            now = time.time()
            c.executemany(
                "INSERT INTO leadflow_data_keys VALUES (?, NULL, ?, ?) ON CONFLICT (subject) DO UPDATE "
                "SET key = NULL, erased_at = excluded.erased_at",
                [(subject.hex, now, now) for subject in erase],
            )
        return returning

    @staticmethod
    def _insert_keys(c: Any, keys: Mapping[UUID, bytes], *, conflict: bool) -> None:
        now = time.time()
        rows = [(subject.hex, key, now) for subject, key in keys.items()]
        c.executemany("INSERT INTO leadflow_data_keys VALUES (?, ?, ?, NULL) ON CONFLICT (subject) DO NOTHING", rows)
        if conflict and c.sqlite_cursor.rowcount != len(rows):
            raise _key_conflict(keys)

    def data_keys(self, subjects: Iterable[UUID]) -> dict[UUID, bytes | None]:
        ids = [s.hex for s in subjects]
        found: dict[UUID, bytes | None] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(ids, 500):
                c.execute(
                    f"SELECT subject, key FROM leadflow_data_keys WHERE subject IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update((UUID(row[0]), row[1]) for row in c.fetchall())
        return found

    def insert_data_keys(self, keys: Mapping[UUID, bytes]) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_keys(c, keys, conflict=False)

    def after_erasure(self) -> None:
        # The destroyed key's old page is still in the write-ahead log until it is checkpointed
        # and truncated. Best effort: a reader holding the log open makes it wait for the next.
        if self.datastore.pool.is_sqlite_memory_mode:
            return
        try:
            with self.datastore.get_connection(commit=True) as connection:
                connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:
            log.warning("could not truncate the write-ahead log after an erasure; the next checkpoint will")

    def inbox_versions(self, stream: str, aggregate_ids: Iterable[UUID]) -> dict[UUID, int]:
        ids = [i.hex for i in aggregate_ids]
        found: dict[UUID, int] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(ids, 500):
                c.execute(
                    "SELECT aggregate_id, version FROM leadflow_inbox WHERE stream = ? "
                    f"AND aggregate_id IN ({','.join('?' * len(chunk))})",
                    [stream, *chunk],
                )
                found.update((UUID(row[0]), row[1]) for row in c.fetchall())
        return found

    def parked_messages(self, stream: str, aggregate_ids: Iterable[UUID]) -> list[ParkedMessage]:
        ids = [i.hex for i in aggregate_ids]
        found: list[ParkedMessage] = []
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(ids, 500):
                c.execute(
                    "SELECT * FROM leadflow_parked WHERE stream = ? "
                    f"AND aggregate_id IN ({','.join('?' * len(chunk))}) ORDER BY version",
                    [stream, *chunk],
                )
                found.extend(self._parked(row) for row in c.fetchall())
        return found

    def oldest_parked(self, limit: int = 5) -> list[ParkedMessage]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT * FROM leadflow_parked ORDER BY parked_at LIMIT ?", [limit])
            return [self._parked(row) for row in c.fetchall()]

    def parked_count(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT COUNT(*) FROM leadflow_parked")
            return int(c.fetchone()[0])

    def existing(self, aggregate_ids: Iterable[UUID], version: int = 1) -> set[UUID]:
        ids = [i.hex for i in aggregate_ids]
        found: set[UUID] = set()
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(ids, 500):
                c.execute(
                    f"SELECT DISTINCT originator_id FROM {self.events_table_name} "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))}) AND originator_version = ?",
                    [*chunk, version],
                )
                found.update(UUID(row[0]) for row in c.fetchall())
        return found

    def events_of(self, aggregate_ids: Iterable[UUID], topics: Iterable[str] = ()) -> dict[UUID, list[StoredEvent]]:
        ids, wanted = [i.hex for i in aggregate_ids], list(topics)
        found: dict[UUID, list[StoredEvent]] = {}
        topic_filter = f" AND topic IN ({','.join('?' * len(wanted))})" if wanted else ""
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(ids, 400):
                c.execute(
                    f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name} "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))}){topic_filter} "
                    "ORDER BY originator_id, originator_version",
                    [*chunk, *wanted],
                )
                for row in c.fetchall():
                    originator = UUID(row[0])
                    found.setdefault(originator, []).append(StoredEvent(originator, row[1], row[2], row[3]))
        return found

    def notification_id_of(self, originator_id: UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} WHERE originator_id = ? AND originator_version = ?",
                [originator_id.hex, version],
            )
            row = c.fetchone()
            return None if row is None else int(row[0])

    @staticmethod
    def _parked(row: Any) -> ParkedMessage:
        return ParkedMessage(
            stream=row[0],
            aggregate_id=UUID(row[1]),
            version=row[2],
            previous_version=row[3],
            partition=row[4],
            offset=row[5],
            key=row[6],
            value=row[7],
            headers=ParkedMessage.headers_from_json(row[8]),
            parked_at=row[9],
        )


class PostgresInboxRecorder(PostgresProcessRecorder, InboxRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str, tracking_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name, tracking_table_name=tracking_table_name)
        stem = events_table_name.removesuffix("_events")
        schema = Identifier(self.datastore.schema)
        self._inbox = SQL("{}.{}").format(schema, Identifier(f"{stem}_inbox"))
        self._parked_table = SQL("{}.{}").format(schema, Identifier(f"{stem}_parked"))
        self._events = SQL("{}.{}").format(schema, Identifier(events_table_name))
        self._keys = SQL("{}.{}").format(schema, Identifier(f"{stem}_data_keys"))
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (subject uuid PRIMARY KEY, key bytea, created_at double precision, "
                "erased_at double precision)"
            ).format(self._keys),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (stream text, aggregate_id uuid, version bigint, "
                "PRIMARY KEY (stream, aggregate_id))"
            ).format(self._inbox),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (stream text, aggregate_id uuid, version bigint, "
                'previous_version bigint, partition integer, "offset" bigint, key bytea, value bytea, '
                "headers text, parked_at double precision, PRIMARY KEY (stream, aggregate_id, version))"
            ).format(self._parked_table),
        ]

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        inbox, parked, unparked = _kwargs_rows(kwargs)
        if inbox:
            curs.executemany(
                SQL(
                    "INSERT INTO {0} VALUES (%s, %s, %s) ON CONFLICT (stream, aggregate_id) DO UPDATE "
                    "SET version = excluded.version WHERE {0}.version < excluded.version"
                ).format(self._inbox),
                [(stream, aggregate_id, version) for (stream, aggregate_id), version in inbox.items()],
            )
        if unparked:
            curs.executemany(
                SQL("DELETE FROM {} WHERE stream = %s AND aggregate_id = %s AND version = %s").format(
                    self._parked_table
                ),
                list(unparked),
            )
        if parked:
            curs.executemany(
                SQL(
                    "INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (stream, aggregate_id, version) DO NOTHING"
                ).format(self._parked_table),
                [(*_parked_key(p, p.aggregate_id), p.key, p.value, p.headers_json(), p.parked_at) for p in parked],
            )
        keys, erase = _key_rows(kwargs)
        if keys:
            self._insert_keys(curs, keys, conflict=True)
        if erase:
            now = time.time()
            curs.executemany(
                SQL(
                    "INSERT INTO {} VALUES (%s, NULL, %s, %s) ON CONFLICT (subject) DO UPDATE "
                    "SET key = NULL, erased_at = excluded.erased_at"
                ).format(self._keys),
                [(subject, now, now) for subject in erase],
            )

    def _insert_keys(self, curs: Any, keys: Mapping[UUID, bytes], *, conflict: bool) -> None:
        subjects = list(keys)
        curs.execute(
            SQL(
                "INSERT INTO {} SELECT s, k, %s, NULL FROM unnest(%s::uuid[], %s::bytea[]) AS t(s, k) "
                "ON CONFLICT (subject) DO NOTHING RETURNING subject"
            ).format(self._keys),
            (time.time(), subjects, [keys[s] for s in subjects]),
        )
        if conflict and len(curs.fetchall()) != len(subjects):
            raise _key_conflict(subjects)

    def data_keys(self, subjects: Iterable[UUID]) -> dict[UUID, bytes | None]:
        ids = list(subjects)
        if not ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT subject, key FROM {} WHERE subject = ANY(%s)").format(self._keys), (ids,))
            return {row["subject"]: None if row["key"] is None else bytes(row["key"]) for row in curs.fetchall()}

    def insert_data_keys(self, keys: Mapping[UUID, bytes]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_keys(curs, keys, conflict=False)

    def inbox_versions(self, stream: str, aggregate_ids: Iterable[UUID]) -> dict[UUID, int]:
        ids = list(aggregate_ids)
        if not ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT aggregate_id, version FROM {} WHERE stream = %s AND aggregate_id = ANY(%s)").format(
                    self._inbox
                ),
                (stream, ids),
            )
            return {row["aggregate_id"]: row["version"] for row in curs.fetchall()}

    def parked_messages(self, stream: str, aggregate_ids: Iterable[UUID]) -> list[ParkedMessage]:
        ids = list(aggregate_ids)
        if not ids:
            return []
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT * FROM {} WHERE stream = %s AND aggregate_id = ANY(%s) ORDER BY version").format(
                    self._parked_table
                ),
                (stream, ids),
            )
            return [self._parked(row) for row in curs.fetchall()]

    def oldest_parked(self, limit: int = 5) -> list[ParkedMessage]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT * FROM {} ORDER BY parked_at LIMIT %s").format(self._parked_table), (limit,))
            return [self._parked(row) for row in curs.fetchall()]

    def parked_count(self) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT COUNT(*) AS n FROM {}").format(self._parked_table))
            row = curs.fetchone()
            return int(row["n"]) if row else 0

    def existing(self, aggregate_ids: Iterable[UUID], version: int = 1) -> set[UUID]:
        ids = list(aggregate_ids)
        if not ids:
            return set()
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT originator_id FROM {} WHERE originator_id = ANY(%s) AND originator_version = %s").format(
                    self._events
                ),
                (ids, version),
            )
            return {row["originator_id"] for row in curs.fetchall()}

    def events_of(self, aggregate_ids: Iterable[UUID], topics: Iterable[str] = ()) -> dict[UUID, list[StoredEvent]]:
        ids, wanted = list(aggregate_ids), list(topics)
        if not ids:
            return {}
        found: dict[UUID, list[StoredEvent]] = {}
        topic_filter = SQL(" AND topic = ANY(%s)") if wanted else SQL("")
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT originator_id, originator_version, topic, state FROM {} WHERE originator_id = ANY(%s)"
                    "{} ORDER BY originator_id, originator_version"
                ).format(self._events, topic_filter),
                (ids, wanted) if wanted else (ids,),
            )
            for row in curs.fetchall():
                found.setdefault(row["originator_id"], []).append(
                    StoredEvent(row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"]))
                )
        return found

    def notification_id_of(self, originator_id: UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT notification_id FROM {} WHERE originator_id = %s AND originator_version = %s").format(
                    self._events
                ),
                (originator_id, version),
            )
            row = curs.fetchone()
            return None if row is None else int(row["notification_id"])

    @staticmethod
    def _parked(row: Any) -> ParkedMessage:
        return ParkedMessage(
            stream=row["stream"],
            aggregate_id=row["aggregate_id"],
            version=row["version"],
            previous_version=row["previous_version"],
            partition=row["partition"],
            offset=row["offset"],
            key=None if row["key"] is None else bytes(row["key"]),
            value=None if row["value"] is None else bytes(row["value"]),
            headers=ParkedMessage.headers_from_json(row["headers"]),
            parked_at=row["parked_at"],
        )


class POPOInboxRecorder(POPOProcessRecorder, InboxRecorder):
    """In-memory (unit tests): the same contract as the SQL recorders."""

    def __init__(self) -> None:
        super().__init__()
        self._inbox: dict[InboxKey, int] = {}
        self._parked: dict[tuple[str, UUID, int], ParkedMessage] = {}
        self._rowids: dict[tuple[UUID, int], int] = {}
        self._keys: dict[UUID, bytes | None] = {}

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        keys, _ = _key_rows(kwargs)
        taken = [subject for subject in keys if subject in self._keys]
        if taken:
            raise _key_conflict(taken)

    def _update_table(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._update_table(stored_events, **kwargs)
        keys, erase = _key_rows(kwargs)
        self._keys.update(keys)
        self._keys.update(dict.fromkeys(erase))
        for stored, notification_id in zip(stored_events, ids or (), strict=False):
            self._rowids[(UUID(str(stored.originator_id)), stored.originator_version)] = notification_id
        inbox, parked, unparked = _kwargs_rows(kwargs)
        for key, version in inbox.items():
            if self._inbox.get(key, -1) < version:
                self._inbox[key] = version
        for stream, aggregate_id, version in unparked:
            self._parked.pop((stream, aggregate_id, version), None)
        for p in parked:
            self._parked.setdefault((p.stream, p.aggregate_id, p.version), p)
        return ids

    def inbox_versions(self, stream: str, aggregate_ids: Iterable[UUID]) -> dict[UUID, int]:
        with self._database_lock:
            return {i: self._inbox[(stream, i)] for i in aggregate_ids if (stream, i) in self._inbox}

    def parked_messages(self, stream: str, aggregate_ids: Iterable[UUID]) -> list[ParkedMessage]:
        wanted = set(aggregate_ids)
        with self._database_lock:
            found = [p for (s, i, _), p in self._parked.items() if s == stream and i in wanted]
        return sorted(found, key=lambda p: (str(p.aggregate_id), p.version))

    def oldest_parked(self, limit: int = 5) -> list[ParkedMessage]:
        with self._database_lock:
            return sorted(self._parked.values(), key=lambda p: p.parked_at)[:limit]

    def parked_count(self) -> int:
        return len(self._parked)

    def data_keys(self, subjects: Iterable[UUID]) -> dict[UUID, bytes | None]:
        with self._database_lock:
            return {s: self._keys[s] for s in subjects if s in self._keys}

    def insert_data_keys(self, keys: Mapping[UUID, bytes]) -> None:
        with self._database_lock:
            for subject, key in keys.items():
                self._keys.setdefault(subject, key)

    def notification_id_of(self, originator_id: UUID, version: int) -> int | None:
        return self._rowids.get((originator_id, version))

    def existing(self, aggregate_ids: Iterable[UUID], version: int = 1) -> set[UUID]:
        with self._database_lock:
            return {i for i in aggregate_ids if (i, version) in self._rowids}

    def events_of(self, aggregate_ids: Iterable[UUID], topics: Iterable[str] = ()) -> dict[UUID, list[StoredEvent]]:
        wanted = set(topics)
        found = {}
        for aggregate_id in aggregate_ids:
            events = [e for e in self.select_events(aggregate_id) if not wanted or e.topic in wanted]
            if events:
                found[aggregate_id] = list(events)
        return found


class RecentEvents:
    """The domain events this process committed lately, by notification id.

    The relays and projections follow the notification log; for what this process wrote itself
    they take the events from here instead of reading and decoding them again. Only an unbroken
    run of notification ids is served: anything else (another process's writes, ids skipped by a
    rolled-back transaction, a window that has moved on) is read from the store as usual.
    """

    def __init__(self, size: int = 5_000) -> None:
        self._size = size
        self._ids: list[int] = []
        self._items: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, recordings: Sequence[Recording[UUID]]) -> None:
        with self._lock:
            for recording in recordings:
                notification = recording.notification
                if self._ids and notification.id != self._ids[-1] + 1:
                    self._ids, self._items = [], []  # a gap: start a new unbroken run
                self._ids.append(notification.id)
                self._items.append((notification.topic, recording.domain_event))
            if len(self._ids) > 2 * self._size:
                del self._ids[: -self._size], self._items[: -self._size]

    def read(self, after: int, newest: int, topics: frozenset[str], limit: int) -> list[tuple[int, Any]] | None:
        """Events of `topics` in (after, newest], at most `limit`; None if this cannot say."""
        with self._lock:
            if not self._ids or self._ids[0] > after + 1 or self._ids[-1] < newest:
                return None
            start = after + 1 - self._ids[0]
            found = []
            for index in range(start, newest - self._ids[0] + 1):
                topic, event = self._items[index]
                if topic in topics:
                    found.append((self._ids[index], event))
                    if len(found) == limit:
                        break
            return found


def _parked_key(p: ParkedMessage, aggregate_id: Any) -> tuple[Any, ...]:
    return (p.stream, aggregate_id, p.version, p.previous_version, p.partition, p.offset)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _SetAsList(Transcoding):
    """Aggregates keep sets (who favourited a lead, the sellers a roster knows); snapshots store
    them as lists."""

    type = set
    name = "set"

    def encode(self, obj: set[Any]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)


class PersonalDataMapper(Mapper[UUID]):
    """The library's mapper, encrypting declared personal values with their subject's data key on
    the way in and decrypting any sealed value on the way out (leadflow_shared.personal)."""

    personal: PersonalData
    keys: DataKeys

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = self._sealed_state(domain_event)
        if state is None:
            return super().to_stored_event(domain_event)
        stand_in = object.__new__(type(domain_event))  # the same event, its personal values sealed
        object.__setattr__(stand_in, "__dict__", state)
        return super().to_stored_event(stand_in)

    def subjects_of(self, domain_events: Iterable[Any]) -> set[UUID]:
        """Whose personal data these events hold (their keys are needed to store them)."""
        subjects = set()
        for event in domain_events:
            spec = self.personal.of_event(type(event))
            if spec is not None:
                subject = spec.subject(event.originator_id, vars(event))
                if subject is not None:
                    subjects.add(subject)
        return subjects

    def _sealed_state(self, domain_event: Any) -> dict[str, Any] | None:
        """The event's state with its declared personal values sealed (None: it has none)."""
        state = vars(domain_event)
        if isinstance(domain_event, Snapshot):
            spec = self.personal.of_snapshot(state.get("topic", ""))
            subject = spec.subject(state["originator_id"], state["state"]) if spec is not None else None
            if spec is None or subject is None:
                return None
            return {**state, "state": encrypt_paths(state["state"], spec, subject, self.keys)}
        spec = self.personal.of_event(type(domain_event))
        subject = spec.subject(state["originator_id"], state) if spec is not None else None
        if spec is None or subject is None:
            return None
        return encrypt_paths(state, spec, subject, self.keys)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        if may_hold_markers(_plain_state(self, stored_event)):
            object.__setattr__(domain_event, "__dict__", decrypt_markers(vars(domain_event), self.keys))
        return domain_event


def _plain_state(mapper: Mapper[UUID], stored_event: StoredEvent) -> bytes:
    if mapper.cipher is None and mapper.compressor is None:
        return stored_event.state
    return b'"_pd_"'  # cannot tell without decoding: look


SNAPSHOT_EVERY = "LEADFLOW_SNAPSHOT_EVERY"
"""Overrides every aggregate's snapshot interval (an int); unset: each application's own."""

_RECORDER_BY_MODULE = {
    "eventsourcing.sqlite": SQLiteInboxRecorder,
    "eventsourcing.postgres": PostgresInboxRecorder,
}


def replay(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """eventsourcing's `project_aggregate` without its per-event `isinstance` check against a
    runtime-checkable Protocol, which cost ~10 % of intake's CPU when leads are loaded from the
    store (profiled with py-spy during `make bench`)."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class ServiceRepository(Repository[UUID]):
    """The library's repository, reconstructing aggregates with `replay` unless told otherwise."""

    def get(self, aggregate_id: UUID, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("projector_func", replay)
        return super().get(aggregate_id, **kwargs)


class ServiceApplication(Application[UUID]):
    """An eventsourcing application whose recorder also keeps tracking rows, the inbox and
    parked messages (see the module docstring).

    Tracking rows let a consumer record "processed up to offset N of topic/partition" in the
    same transaction as the events that processing produced, and let the outbox relay and
    the projections record how far they have got.
    """

    recorder: InboxRecorder
    command_attempts = 10
    moved_topics: ClassVar[Mapping[str, type[Any]]] = {}
    """Old stored topics of aggregates that moved (see leadflow_shared.moves)."""
    uncached: ClassVar[tuple[type[Any], ...]] = ()
    """Aggregates rarely read twice (a contact-index entry): kept out of the aggregate cache, so the
    cache holds what is read again (a lead when its owner is decided)."""
    personal_data: ClassVar[PersonalData] = PersonalData()
    """Which stored values are personal data, and whose (encrypted with that subject's key)."""
    shared_key_cache_seconds: ClassVar[float] = 30.0
    """With a shared store, how long a cached data key is trusted (another replica may destroy it)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        register_moved(self.moved_topics)
        every = (env or {}).get(SNAPSHOT_EVERY) or os.environ.get(SNAPSHOT_EVERY)
        if every and type(self).snapshotting_intervals:
            # One interval for every aggregate that snapshots (operators; tests use 1).
            self.snapshotting_intervals = dict.fromkeys(  # type: ignore[misc]
                type(self).snapshotting_intervals, int(every)
            )
        super().__init__(env)
        self.data_keys = DataKeys(self.recorder, ttl=self.shared_key_cache_seconds if self.shared_store else None)
        mapper = self.mapper
        assert isinstance(mapper, PersonalDataMapper)
        mapper.personal, mapper.keys = self.personal_data, self.data_keys
        self.conflicts_retried = 0
        self.snapshot_failures = 0
        self.recent = RecentEvents()
        self.on_recorded: list[Callable[[list[Recording[UUID]]], None]] = []
        """Called on the store thread after every commit with what it recorded (relays and
        projections are nudged from here)."""
        self.observe_append: Callable[[float], Any] = lambda seconds: None
        """Told how long each event-store write took (the service's metrics set it)."""

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=PersonalDataMapper)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """The library's recording, with the data keys the events need written in the same
        transaction (and the keys a unit of work destroys)."""
        processing_event.saved_kwargs["keys"] = self.data_keys.begin()
        mapper = self.mapper
        assert isinstance(mapper, PersonalDataMapper)
        self.data_keys.prefetch(mapper.subjects_of(processing_event.events))  # one query a batch
        started = time.perf_counter()
        try:
            recordings = super()._record(processing_event)
        except BaseException:
            self.data_keys.abandoned()
            raise
        self.observe_append(time.perf_counter() - started)
        self.data_keys.committed()
        erased = processing_event.saved_kwargs.get("erase")
        if erased:
            self.data_keys.erased(erased)
            self.recorder.after_erasure()
        return recordings

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_SetAsList())

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        environment = super().construct_env(name, env)
        module = environment.get("PERSISTENCE_MODULE", "")
        if module in _RECORDER_BY_MODULE and not environment.get("PROCESS_RECORDER_TOPIC"):
            environment["PROCESS_RECORDER_TOPIC"] = get_topic(_RECORDER_BY_MODULE[module])
        return environment

    def construct_repository(self) -> Repository[UUID]:
        """The library's own construction (same settings), of a `ServiceRepository`."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return ServiceRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
            fastforward_skipping=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")),
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
        )

    def construct_recorder(self) -> InboxRecorder:
        if isinstance(self.factory, POPOFactory):
            return POPOInboxRecorder()
        with self._schema_lock():
            recorder = self.factory.process_recorder()
        assert isinstance(recorder, InboxRecorder), f"unsupported store: {type(recorder).__name__}"
        return recorder

    @contextlib.contextmanager
    def _schema_lock(self) -> Iterator[None]:
        """Replicas starting together create the store's tables and functions one at a time:
        PostgreSQL fails concurrent `CREATE OR REPLACE FUNCTION`s of one function ("tuple
        concurrently updated"), which would crash all but one pod of a rollout. A session-level
        advisory lock on a connection of its own, held while the recorder is built."""
        if not self.shared_store or not strtobool(self.env.get("CREATE_TABLE", "y")):
            yield
            return
        import psycopg
        from psycopg.conninfo import make_conninfo

        from .lease import lease_key

        dbname = self.env.get("POSTGRES_DBNAME", "")
        conninfo = make_conninfo(
            host=self.env.get("POSTGRES_HOST"),
            port=self.env.get("POSTGRES_PORT", "5432"),
            user=self.env.get("POSTGRES_USER"),
            password=self.env.get("POSTGRES_PASSWORD", ""),
            dbname=dbname,
        )
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (lease_key(f"leadflow:{dbname}:schema"),))
            yield  # closing the connection releases the lock

    def record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Atomically store the collected events with the tracking row and inbox changes,
        then snapshot and notify — the library's own commit path for processed events."""
        recordings = self._record(processing_event)
        try:
            self._take_snapshots(processing_event)
        except Exception:  # the events are stored; a missing snapshot only costs a longer replay
            self.snapshot_failures += 1
            log.exception("taking a snapshot failed (events are stored; loading replays more)")
        self._notify(recordings)
        return recordings

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        self.recent.add(recordings)
        for listener in self.on_recorded:
            listener(recordings)

    def tracked_position(self, name: str) -> int | None:
        return self.recorder.max_tracking_id(name)

    @property
    def shared_store(self) -> bool:
        """Whether other processes may write this store (PostgreSQL)."""
        return self.env.get("PERSISTENCE_MODULE", "") == "eventsourcing.postgres"

    def latest(self, aggregate_id: UUID) -> Any:
        """The aggregate as stored now, for a read (a copy: change it only through a unit of work).

        The cached copy is used when this process is the store's only writer; otherwise it is
        brought up to date with the events other processes stored since (one query).
        Raises AggregateNotFoundError."""
        cache = self.repository.cache
        if not self.shared_store or cache is None:
            return self.repository.get(aggregate_id)
        try:
            cached = cache.get(aggregate_id)
        except KeyError:
            return self.repository.get(aggregate_id)
        newer = list(self.repository.event_store.get(aggregate_id, gt=cached.version))
        return replay(copy.deepcopy(cached), newer) if newer else copy.deepcopy(cached)

    def fast_forward_cached(self, aggregate_ids: Iterable[UUID]) -> None:
        """Bring these aggregates up to date in the cache, where they are cached (in place: the
        cache holds them as units of work use them). For a shared store's other writers."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            try:
                cached = cache.get(aggregate_id)
            except KeyError:
                continue
            newer = list(self.repository.event_store.get(aggregate_id, gt=cached.version))
            if newer:
                cache.put(aggregate_id, replay(cached, newer))

    def problems(self) -> dict[str, str]:
        """What the application itself knows is wrong (reported by /readyz); none by default."""
        return {}

    def execute(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one command as its own unit of work (HTTP, CLI, jobs); see `execute_at`."""
        return self.execute_at(use_case, *args, **kwargs)[0]

    def execute_at(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, int | None]:
        """Run `use_case(uow, *args, **kwargs)` and commit; returns its result and the last
        notification id it recorded (what a read model must reach to show the change).

        A version conflict (another writer changed the same aggregate first) runs the use case
        again on fresh state, a few times, before it gives up.
        """
        from eventsourcing.persistence import RecordConflictError

        from .unit_of_work import UnitOfWork

        for attempt in range(1, self.command_attempts + 1):
            try:
                with UnitOfWork(self) as uow:  # forgets what it changed if anything fails
                    result = use_case(uow, *args, **kwargs)
            except RecordConflictError:
                self.conflicts_retried += 1
                if attempt == self.command_attempts:
                    raise
                time.sleep(0.002 * attempt)
                continue
            return result, uow.last_notification_id
        raise AssertionError("unreachable")


class StoreWorker:
    """One thread that owns all writes to the event store.

    The eventsourcing API is synchronous; running every write on a single thread keeps the
    asyncio loop responsive and serialises writers within a process (SQLite allows one
    writer anyway), while optimistic concurrency still protects across processes.
    """

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-store")
        self._busy_since: float | None = None
        self._lock = threading.Lock()

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        # In the caller's context (as asyncio.to_thread does): its trace and log fields go along.
        call = functools.partial(self._timed, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, contextvars.copy_context().run, call)

    def _timed(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self._busy_since = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            self._busy_since = None

    def busy_for(self) -> float:
        """Seconds the current call has been running (0 when idle): a wedged store shows here."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    def shutdown(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._executor.shutdown(wait=True)


def tracking_for(topic: str, partition: int, offset: int) -> Tracking:
    """Tracking row for a Kafka message: position = the next offset to read."""
    return Tracking(application_name=f"{topic}:{partition}", notification_id=offset + 1)


__all__ = [
    "InboxRecorder",
    "ParkedMessage",
    "ServiceApplication",
    "StoreWorker",
    "tracking_for",
]
